"""``python -m benchmarks.chaos [--documents N] [--quick]``: the fault suite (``make chaos``).

Exits non-zero when a target is missed. ``--quick`` is a short smoke run (60 documents, one
kill of each service, both outages, about 4 minutes) that prints its table but records nothing.
"""

from __future__ import annotations

import argparse
import asyncio
import logging

from benchmarks.chaos import report
from benchmarks.chaos.harness import Options, run
from deploy.launcher.config import REPO

CORPUS = REPO.parent / "shared" / "corpus"
RESULTS = REPO / "benchmarks" / "results" / "latest.json"
DOC = REPO / "docs" / "reliability.md"


def main() -> int:
    # Consumers retry refused connections while the broker is down: expected, not news.
    logging.getLogger("aiokafka").setLevel(logging.CRITICAL)
    parser = argparse.ArgumentParser(prog="python -m benchmarks.chaos")
    parser.add_argument("--documents", type=int, default=None)
    parser.add_argument("--rate", type=float, default=None, help="uploads per second")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--quick", action="store_true", help="short smoke run, records nothing")
    parser.add_argument("--no-broker-restart", action="store_true")
    parser.add_argument("--no-db-restart", action="store_true")
    parser.add_argument("--light", action="store_true", help="leave out the 65-page and OCR files")
    parser.add_argument("--keep-data", action="store_true", help="keep the data dir and logs")
    parser.add_argument("--save", action="store_true", help="record even a --quick run")
    args = parser.parse_args()
    options = Options(
        documents=args.documents or (60 if args.quick else 300),
        rate_per_s=args.rate or (0.5 if args.quick else 1.0),
        seed=args.seed,
        kills_per_service=1 if args.quick else 2,
        broker_restart=not args.no_broker_restart,
        db_restart=not args.no_db_restart,
        heavy=not args.light,
        settle_s=120.0 if args.quick else 180.0,
        keep_data=args.keep_data,
    )
    result = asyncio.run(run(options, CORPUS))
    print(report.table(result))
    print(report.kills_table(result))
    for failure in [*result.failures, *result.notes]:
        print(f"  {failure.problem:16} {failure.document} {failure.file}: {failure.detail}")
    if result.data_dir and args.keep_data:
        print(f"data and logs kept in {result.data_dir}")
    if not args.quick or args.save:
        report.save_json(result, RESULTS)
        report.write_doc(result, DOC)
        print(f"recorded in {RESULTS.relative_to(REPO)} and {DOC.relative_to(REPO)}")
    missed = report.misses(result)
    if missed:
        print("targets missed: " + "; ".join(missed))
        return 1
    print("all targets met")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
