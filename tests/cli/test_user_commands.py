"""The user commands against the running pipeline, in-process through ``main()`` (and once
as ``python -m docstream``), checked by what they print and the exit codes scripts see."""

from __future__ import annotations

import asyncio
import io
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import redirect_stderr, redirect_stdout
from dataclasses import dataclass
from pathlib import Path

import pytest

from docstream.cli import exits, main
from tests.integration.client import Pipeline

pytestmark = pytest.mark.integration

OWNER = "cli-user"
PHRASE = "Official - Subject to Final"


@dataclass
class Ran:
    code: int
    out: str
    err: str


def docstream(*argv: str) -> Ran:
    """The command as a shell runs it, in this process (the env set by ``_environment``)."""
    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        code = main(list(argv))
    return Ran(code, out.getvalue(), err.getvalue())


def _env(pipeline: Pipeline, token: str) -> dict[str, str]:
    return {
        "DOCSTREAM_URL": pipeline.api,
        "DOCSTREAM_WS_URL": pipeline.ws,
        "DOCSTREAM_TOKEN": token,
        "DOCSTREAM_CONFIG": "/nonexistent/docstream.toml",  # not the developer's own file
    }


@pytest.fixture(scope="module")
def environment(pipeline: Pipeline) -> Iterator[None]:
    with pytest.MonkeyPatch.context() as patch:
        for name, value in _env(pipeline, pipeline.token(OWNER)).items():
            patch.setenv(name, value)
        yield


@pytest.fixture(scope="module")
def uploaded(environment: None, corpus: Path) -> Ran:
    """``upload --watch`` of a corpus PDF, run once for the tests that read its document."""
    return docstream("--json", "upload", "--watch", str(corpus / "pdf/scotus-transcript-p1.pdf"))


def _id(ran: Ran) -> str:
    (row,) = json.loads(ran.out)
    return str(row["id"])


def test_upload_with_watch_ends_completed_with_exit_0(uploaded: Ran) -> None:
    assert uploaded.code == exits.OK, uploaded.err
    (row,) = json.loads(uploaded.out)
    assert row["status"] == "completed"
    assert len(row["id"]) == 32
    # Not a terminal: progress comes as plain lines on stderr, ending with the outcome.
    assert f"{row['id']}: completed" in uploaded.err


def test_get_json_is_the_document(uploaded: Ran) -> None:
    ran = docstream("get", _id(uploaded), "--json")
    assert ran.code == exits.OK
    doc = json.loads(ran.out)
    assert (doc["id"], doc["status"]) == (_id(uploaded), "completed")
    assert doc["extraction"]["pages"] >= 1


def test_get_shows_the_main_fields(uploaded: Ran) -> None:
    ran = docstream("get", _id(uploaded))
    assert ran.code == exits.OK
    assert ["status", "completed"] in [line.split() for line in ran.out.splitlines()]
    assert "scotus-transcript-p1.pdf" in ran.out


def test_ls_lists_the_uploaded_documents(uploaded: Ran) -> None:
    ran = docstream("ls")
    assert ran.code == exits.OK
    assert _id(uploaded) in ran.out
    completed = docstream("ls", "--status", "completed", "--json")
    assert _id(uploaded) in [row["id"] for row in json.loads(completed.out)]
    assert json.loads(docstream("ls", "--status", "failed", "--json").out) == []


def test_text_prints_the_document_text(uploaded: Ran) -> None:
    ran = docstream("text", _id(uploaded))
    assert ran.code == exits.OK
    assert PHRASE in ran.out


def test_a_failed_document_exits_non_zero_with_its_reason(environment: None, corpus: Path) -> None:
    ran = docstream("upload", "--watch", str(corpus / "pdf/password-example.pdf"))
    assert ran.code == exits.FAILED
    assert "encrypted" in ran.err
    assert "failed" in ran.out  # the result table says it too


def test_cancel_of_a_stuck_document_ends_cancelled(
    environment: None, pipeline: Pipeline, tmp_path: Path
) -> None:
    stuck = tmp_path / "stuck.txt"
    stuck.write_bytes(b"DOCSTREAM-TEST-HOOK sleep 60\n")
    uploaded = docstream("--json", "upload", str(stuck))
    assert uploaded.code == exits.OK
    document_id = _id(uploaded)
    # Cancel reads the read model: it answers 404 until the document is folded there.
    asyncio.run(pipeline.wait_for_status(document_id, OWNER, {"extracting"}, timeout_s=30))
    cancel = docstream("cancel", document_id)
    assert cancel.code == exits.OK, cancel.err
    assert "cancel_requested" in cancel.out
    watched = docstream("watch", document_id, "--timeout", "30")
    assert watched.code == exits.CANCELLED, watched.err
    assert "cancelled" in watched.err
    # The watch ends on the gateway's event; the read model folds it a moment later.
    asyncio.run(pipeline.wait_for_status(document_id, OWNER, {"cancelled"}, timeout_s=10))
    again = docstream("cancel", document_id)
    assert again.code == exits.REFUSED
    assert "already_finished" in again.err


def test_errors_have_their_own_exit_codes(
    pipeline: Pipeline, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name, value in _env(pipeline, "not-a-token").items():
        monkeypatch.setenv(name, value)
    refused = docstream("ls")
    assert refused.code == exits.AUTH
    assert "401" in refused.err
    monkeypatch.setenv("DOCSTREAM_TOKEN", pipeline.token(OWNER))
    missing = docstream("get", "0" * 32)
    assert missing.code == exits.NOT_FOUND
    assert "not_found" in missing.err


def test_the_entry_point_runs_as_a_program(pipeline: Pipeline, tmp_path: Path) -> None:
    note = tmp_path / "note.txt"
    note.write_text(f"a note for the command line {tmp_path.name}\n")
    env = {**os.environ, **_env(pipeline, pipeline.token(OWNER))}
    done = subprocess.run(
        [sys.executable, "-m", "docstream", "upload", "--watch", "--no-analyze", str(note)],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == exits.OK, done.stderr
    header, row = done.stdout.splitlines()
    assert header.split() == ["ID", "STATUS", "FILE", "REASON"]
    assert row.split()[1:3] == ["completed", str(note)]
