"""A local S3-compatible server (s3proxy on a folder) for tests and local runs."""

from __future__ import annotations

import secrets
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path
from types import TracebackType

from deploy.launcher.config import free_port
from deploy.launcher.install import install_s3proxy


class S3Server:
    """``with S3Server() as s3:`` an S3 endpoint on 127.0.0.1 with its own credentials and
    folder; stopped and removed on exit."""

    def __init__(self, data_dir: Path | None = None) -> None:
        self.port = free_port()
        self.access_key_id = "docstream"
        self.secret_access_key = secrets.token_urlsafe(24)
        self._own_dir = data_dir is None
        self.data_dir = data_dir or Path(tempfile.mkdtemp(prefix="docstream-s3-"))
        self._proc: subprocess.Popen[bytes] | None = None

    @property
    def endpoint_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def env(self, bucket: str = "docstream") -> dict[str, str]:
        """The settings that point a docstream service at this server."""
        return {
            "DOCSTREAM_BLOB_STORE": "s3",
            "DOCSTREAM_S3_ENDPOINT_URL": self.endpoint_url,
            "DOCSTREAM_S3_BUCKET": bucket,
            "DOCSTREAM_S3_ACCESS_KEY_ID": self.access_key_id,
            "DOCSTREAM_S3_SECRET_ACCESS_KEY": self.secret_access_key,
        }

    def start(self, timeout_s: float = 60.0) -> S3Server:
        java = shutil.which("java")
        if java is None:
            raise SystemExit("[docstream] java is needed for the S3 test server (s3proxy)")
        libs = install_s3proxy()
        blobs = self.data_dir / "buckets"
        blobs.mkdir(parents=True, exist_ok=True)
        conf = self.data_dir / "s3proxy.conf"
        conf.write_text(
            "\n".join(
                [
                    f"s3proxy.endpoint={self.endpoint_url}",
                    "s3proxy.authorization=aws-v2-or-v4",
                    f"s3proxy.identity={self.access_key_id}",
                    f"s3proxy.credential={self.secret_access_key}",
                    "jclouds.provider=filesystem",
                    f"jclouds.filesystem.basedir={blobs}",
                ]
            )
        )
        log = (self.data_dir / "s3proxy.log").open("wb")
        self._proc = subprocess.Popen(
            [
                java,
                "-Xmx256m",
                "-XX:TieredStopAtLevel=1",
                "-cp",
                f"{libs}/*",
                "org.gaul.s3proxy.Main",
                "--properties",
                str(conf),
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
            env={"LOG_LEVEL": "warn", "PATH": "/usr/bin:/bin"},
        )
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                raise RuntimeError(f"s3proxy exited: see {self.data_dir / 's3proxy.log'}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                    return self
            except OSError:
                time.sleep(0.2)
        self.stop()
        raise TimeoutError(f"s3proxy not listening after {timeout_s}s")

    def stop(self) -> None:
        if self._proc is not None and self._proc.poll() is None:
            self._proc.terminate()
            try:
                self._proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait()
        self._proc = None
        if self._own_dir:
            shutil.rmtree(self.data_dir, ignore_errors=True)

    def __enter__(self) -> S3Server:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
