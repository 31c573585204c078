"""The docstream command without a running system: configuration, token, output."""

from __future__ import annotations

import contextlib
import errno
import functools
import io
import json
import os
from pathlib import Path
from typing import Any

import pytest
from websockets.sync.server import ServerConnection

from docstream.cli import exits, main, parser, user
from docstream.cli.config import CliConfig, ConfigError
from docstream.cli.output import Output
from docstream.cli.progress import Display, step
from docstream.client import AsyncClient
from shared.auth import verify_token
from shared.events import (
    DocumentCompleted,
    DocumentCompletedData,
    ExtractionProgressed,
    ProgressData,
)
from tests.client.faults import blackhole
from tests.client.test_watch_protocol import DOC, gateway

SECRET = "a-secret-that-is-long-enough"


def test_environment_wins_over_the_config_file(tmp_path: Path) -> None:
    file = tmp_path / "config.toml"
    file.write_text('url = "http://api:8000"\nkafka_bootstrap_servers = "k1:9092"\n')
    cfg = CliConfig.load(str(file), env={"DOCSTREAM_KAFKA_BOOTSTRAP_SERVERS": "k2:9092"})
    assert cfg.url == "http://api:8000"
    assert cfg.kafka_bootstrap_servers == "k2:9092"
    assert cfg.metrics_endpoints()["ingest"] == "http://api:8000"


def test_unknown_config_keys_are_refused(tmp_path: Path) -> None:
    file = tmp_path / "config.toml"
    file.write_text('urll = "typo"\n')
    with pytest.raises(ConfigError, match="unknown keys"):
        CliConfig.load(str(file), env={})


def test_metrics_urls_are_parsed() -> None:
    cfg = CliConfig(metrics_urls="ingest=http://a:1/, status=http://b:2")
    assert cfg.metrics_endpoints() == {"ingest": "http://a:1", "status": "http://b:2"}


def test_token_mints_a_credential_the_api_accepts(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("DOCSTREAM_AUTH_SECRET", SECRET)
    monkeypatch.setenv("DOCSTREAM_CONFIG", "/nonexistent/config.toml")
    assert main(["--json", "token", "--owner", "alice", "--ttl", "60"]) == 0
    token = json.loads(capsys.readouterr().out)["token"]
    assert verify_token(SECRET, token).owner == "alice"


def test_token_without_the_secret_says_what_is_missing(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("DOCSTREAM_AUTH_SECRET", raising=False)
    monkeypatch.setenv("DOCSTREAM_CONFIG", "/nonexistent/config.toml")
    assert main(["token", "--owner", "alice"]) == 2
    assert "DOCSTREAM_AUTH_SECRET" in capsys.readouterr().err


def test_every_command_is_registered() -> None:
    help_text = parser().format_help()
    for command in ("lag", "active", "stats", "dlq", "purge", "token"):
        assert command in help_text
    for command in ("upload", "watch", "get", "ls", "text", "cancel"):
        assert f"\n    {command} " in help_text


def test_help_documents_every_exit_code() -> None:
    help_text = parser().format_help()
    codes = [v for k, v in vars(exits).items() if k.isupper() and isinstance(v, int)]
    for code in codes:
        if code != exits.INTERRUPTED:
            assert f"\n  {code} " in help_text


def test_user_commands_without_a_token_exit_with_the_auth_code(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("DOCSTREAM_TOKEN", raising=False)
    monkeypatch.setenv("DOCSTREAM_CONFIG", "/nonexistent/config.toml")
    assert main(["ls"]) == exits.AUTH
    assert "DOCSTREAM_TOKEN" in capsys.readouterr().err


def test_an_unreachable_system_has_its_own_exit_code(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("DOCSTREAM_TOKEN", "any")
    monkeypatch.setenv("DOCSTREAM_URL", "http://127.0.0.1:9")  # discard: nothing listens
    monkeypatch.setenv("DOCSTREAM_CONFIG", "/nonexistent/config.toml")
    assert main(["get", "0" * 32]) == exits.UNREACHABLE
    assert "unreachable" in capsys.readouterr().err


@pytest.fixture
def quick_client(monkeypatch: pytest.MonkeyPatch) -> None:
    """The commands' client with a 0.5 s connection timeout instead of 30 s."""
    monkeypatch.setattr(user, "AsyncClient", functools.partial(AsyncClient, timeout_s=0.5))
    monkeypatch.setenv("DOCSTREAM_TOKEN", "any")
    monkeypatch.setenv("DOCSTREAM_CONFIG", "/nonexistent/config.toml")


def test_a_gateway_that_never_answers_is_unreachable_not_a_timeout(
    quick_client: None, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    with blackhole() as url:
        monkeypatch.setenv("DOCSTREAM_WS_URL", url)
        assert main(["watch", DOC]) == exits.UNREACHABLE  # --timeout is an hour
    assert "unreachable" in capsys.readouterr().err


def test_only_watchs_own_timeout_exits_with_the_timeout_code(
    quick_client: None, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def processing(conn: ServerConnection, number: int) -> None:
        conn.send('{"type":"snapshot","document":{"status":"extracting"},"cursor":"c0"}')
        with contextlib.suppress(TimeoutError):
            conn.recv(timeout=5)

    with gateway(processing) as (url, _):
        monkeypatch.setenv("DOCSTREAM_WS_URL", url)
        assert main(["watch", DOC, "--timeout", "0.5"]) == exits.TIMEOUT
    assert "not finished in time" in capsys.readouterr().err


def test_a_missing_file_is_a_usage_error(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("DOCSTREAM_TOKEN", "any")
    monkeypatch.setenv("DOCSTREAM_CONFIG", "/nonexistent/config.toml")
    assert main(["upload", "/nonexistent/report.pdf"]) == exits.USAGE
    assert "/nonexistent/report.pdf" in capsys.readouterr().err


def test_a_file_that_cannot_be_read_is_a_usage_error_naming_it(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    monkeypatch.setenv("DOCSTREAM_TOKEN", "any")
    monkeypatch.setenv("DOCSTREAM_URL", "http://127.0.0.1:9")  # never reached
    monkeypatch.setenv("DOCSTREAM_CONFIG", "/nonexistent/config.toml")
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    secret = tmp_path / "secret.txt"
    secret.write_text("hello\n")
    # Root reads a mode-000 file (the tests run as root): refused where it is opened instead.
    real_open = Path.open

    def open_refusing_secret(self: Path, *args: Any, **kwargs: Any) -> Any:
        if self == secret:
            raise PermissionError(errno.EACCES, "Permission denied", str(self))
        return real_open(self, *args, **kwargs)

    monkeypatch.setattr(Path, "open", open_refusing_secret)
    for path, why in [
        (tmp_path, "is a directory"),
        (fifo, "not a regular file"),
        (secret, "cannot read it: Permission denied"),
        (tmp_path / "missing.pdf", "no such file"),
    ]:
        assert main(["upload", str(path)]) == exits.USAGE, path
        assert f"docstream: {path}: {why}" in capsys.readouterr().err


def test_an_os_error_about_a_file_is_a_usage_error_and_a_connections_is_unreachable() -> None:
    # An upload's file can still become unreadable between the check and its upload.
    refused = exits.classify(PermissionError(errno.EACCES, "Permission denied", "a.pdf"))
    assert refused == exits.Outcome(exits.USAGE, "usage", "cannot read a.pdf: Permission denied")
    gone = exits.classify(ConnectionRefusedError(errno.ECONNREFUSED, "Connection refused"))
    assert gone is not None and gone.code == exits.UNREACHABLE


@pytest.mark.parametrize(
    ("variable", "argv"),
    [("DOCSTREAM_URL", ["get", "0" * 32]), ("DOCSTREAM_WS_URL", ["watch", "0" * 32])],
)
def test_a_malformed_url_is_a_usage_error_naming_its_setting(
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    variable: str,
    argv: list[str],
) -> None:
    monkeypatch.setenv("DOCSTREAM_TOKEN", "any")
    monkeypatch.setenv("DOCSTREAM_CONFIG", "/nonexistent/config.toml")
    monkeypatch.setenv(variable, "not-a-url")
    assert main(argv) == exits.USAGE
    assert f"bad {variable}" in capsys.readouterr().err


def test_progress_moves_with_the_pages_and_prints_stage_changes_once() -> None:
    common = {"source": "/test", "subject": "d1", "owner": "o", "generation": 1}
    page = ExtractionProgressed(**common, data=ProgressData(stage="extraction", done=2, total=4))
    done = DocumentCompleted(**common, data=DocumentCompletedData())
    assert step(page) == (42.5, "extracting page 2 of 4")
    assert step(done) == (100.0, "completed")
    stream = io.StringIO()  # not a terminal: plain lines
    with Display.open(stream) as display:
        tracker = display.track("report.pdf d1")
        for event in (page, page, done):
            tracker.update(event)
    assert stream.getvalue().splitlines() == [
        "report.pdf d1: extracting page 2 of 4",
        "report.pdf d1: completed",
    ]


def test_tables_align_columns() -> None:
    stream = io.StringIO()
    Output(as_json=False, stream=stream).rows(
        [{"group": "g", "lag": 3}, {"group": "longer-group", "lag": None}], ["group", "lag"]
    )
    lines = stream.getvalue().splitlines()
    assert lines[0].split() == ["GROUP", "LAG"]
    assert lines[1].index("3") == lines[0].index("LAG")
    assert lines[2].endswith("-")
