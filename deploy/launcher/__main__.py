"""``python -m deploy.launcher run|infra|install|token``: the local stack from the command line.

Ports and folders come from the environment (DOCSTREAM_DATA_DIR, DOCSTREAM_KAFKA_PORT,
DOCSTREAM_MONGO_PORT, DOCSTREAM_INGEST_PORT, ...), so a second stack can run beside the first;
DOCSTREAM_<SERVICE>_REPLICAS runs several instances of an agent (or the gateway).
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import signal
from pathlib import Path

from deploy.launcher import prometheus
from deploy.launcher.config import REPLICABLE, Ports, StackConfig
from deploy.launcher.install import install_all, say
from deploy.launcher.stack import Stack
from deploy.launcher.supervisor import CrashLoopError
from shared.auth import issue_token


def config_from_env() -> StackConfig:
    cfg = StackConfig()
    if os.environ.get("DOCSTREAM_DATA_DIR"):
        cfg.data_dir = Path(os.environ["DOCSTREAM_DATA_DIR"]).resolve()
    defaults = Ports()
    cfg.ports = Ports(
        **{
            name: int(os.environ.get(f"DOCSTREAM_{name.upper()}_PORT", getattr(defaults, name)))
            for name in defaults.__dataclass_fields__
        }
    )
    cfg.log_level = os.environ.get("DOCSTREAM_LOG_LEVEL", "INFO")
    for service in (*REPLICABLE, "ingest"):
        raw = os.environ.get(f"DOCSTREAM_{service.upper()}_REPLICAS")
        if raw:
            cfg.replicas[service] = int(raw)
            cfg.replicas_of(service)  # refuse a bad count here, before anything starts
    return cfg


def _banner(cfg: StackConfig, prometheus_url: str | None) -> None:
    token = issue_token(cfg.ensure_secret(), "dev")
    p = cfg.ports
    monitoring = (
        f"{prometheus_url} (alerts: {prometheus_url}/alerts)"
        if prometheus_url
        else "not started (`make prometheus-deps` installs it; a failed start is said above)"
    )
    print(
        f"""
docstream is running. Ctrl-C stops everything.

  API docs      http://127.0.0.1:{p.ingest}/docs
  Upload        curl -H "Authorization: Bearer $TOKEN" -F file=@some.pdf \\
                     http://127.0.0.1:{p.ingest}/v1/documents
  WebSocket     ws://127.0.0.1:{p.gateway}/ws/documents/<id>?token=$TOKEN
  Metrics       http://127.0.0.1:{p.ingest}/metrics (ingest)  :{p.gateway} (gateway)
                :{p.extractor} (extractor)  :{p.analyzer} (analyzer)  :{p.status} (status)
                :{p.webhooks} (webhooks)
  Prometheus    {monitoring}
  Kafka         {cfg.bootstrap}      MongoDB (FerretDB)  {cfg.mongo_url}
  Logs          {cfg.data_dir / "logs"}

  Development credential (owner "dev"):
  export TOKEN={token}
""",
        flush=True,
    )


async def _serve(stack: Stack, with_services: bool) -> int:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    # The same orderly stop for Ctrl-C, `kill` and a closed terminal (SIGHUP would otherwise
    # end the launcher at once, leaving each service to stop on its death signal alone).
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        loop.add_signal_handler(sig, stop.set)
    code = 0
    try:
        await stack.start_infra()
        if with_services:
            await stack.start_services()
            monitoring = None
            if prometheus.binary() is not None:
                try:
                    monitoring = await stack.start_prometheus()
                except (RuntimeError, OSError) as exc:  # its port taken, say: runs without it
                    say(f"Prometheus not started: {exc}")
            _banner(stack.cfg, monitoring)
        else:
            say(f"infrastructure only; Kafka {stack.cfg.bootstrap}, MongoDB {stack.cfg.mongo_url}")
        # The supervisor restarts whatever exits; only a crash loop ends the run.
        supervising = stack.supervise()
        stopping = asyncio.ensure_future(stop.wait())
        await asyncio.wait([supervising, stopping], return_when=asyncio.FIRST_COMPLETED)
        stopping.cancel()
        if supervising.done() and not supervising.cancelled():
            error = supervising.exception()
            if isinstance(error, CrashLoopError):
                code = 1  # the supervisor has printed which process and its log tail
            elif error is not None:
                raise error
    finally:
        say("stopping ...")
        stack.stop()
        say("stopped; nothing left running")
    return code


async def _watch(url: str) -> int:
    """Print each message of a document's WebSocket as one JSON line, until it closes."""
    import websockets

    async with websockets.connect(url) as ws:
        try:
            async for message in ws:
                print(message, flush=True)
        except websockets.ConnectionClosed:
            pass
        print(f"closed: {ws.close_code} {ws.close_reason}", flush=True)
        return 0 if ws.close_code == 1000 else 1


def main(argv: list[str] | None = None) -> int:
    # The readiness probes expect refused connections while Kafka starts; don't print them.
    logging.getLogger("aiokafka").setLevel(logging.CRITICAL)
    parser = argparse.ArgumentParser(prog="python -m deploy.launcher")
    parser.add_argument("command", choices=["run", "infra", "install", "token", "watch", "rebuild"])
    parser.add_argument("document", nargs="?", help="for 'watch': the document id")
    parser.add_argument("--owner", default="dev", help="for 'token' and 'watch': whose token")
    args = parser.parse_args(argv)
    if args.command == "install":
        install_all()
        return 0
    cfg = config_from_env()
    if args.command == "rebuild":
        # The running local stack's settings, as its status service has them.
        os.environ.update(cfg.service_env())
        from services.status.rebuild import main as rebuild

        return rebuild([])
    if args.command == "token":
        print(issue_token(cfg.ensure_secret(), args.owner))
        return 0
    if args.command == "watch":
        if not args.document:
            parser.error("watch needs a document id")
        token = issue_token(cfg.ensure_secret(), args.owner)
        url = f"ws://127.0.0.1:{cfg.ports.gateway}/ws/documents/{args.document}?token={token}"
        return asyncio.run(_watch(url))
    return asyncio.run(_serve(Stack(cfg), with_services=args.command == "run"))


if __name__ == "__main__":
    raise SystemExit(main())
