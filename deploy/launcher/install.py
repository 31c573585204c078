"""Fetch and build what the local stack runs, once, into the cache folder.

Both steps say what they do and stream the tools' own progress (Maven's downloads, Go's
package list), so a first start is never minutes of silence; later starts find the cache.
"""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import sys
import time
from pathlib import Path

from deploy.launcher.config import (
    FERRETDB_VERSION,
    KAFKA_VERSION,
    LOG4J_VERSION,
    REPO,
    S3PROXY_VERSION,
    cache_dir,
)

_POM = """<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>local.docstream</groupId><artifactId>kafka-runtime</artifactId><version>1</version>
  <packaging>pom</packaging>
  <dependencies>
    <dependency><groupId>org.apache.kafka</groupId><artifactId>kafka_2.13</artifactId>
      <version>{kafka}</version></dependency>
    <!-- Kafka logs through SLF4J 1.x; this binds it to Log4j 2. -->
    <dependency><groupId>org.apache.logging.log4j</groupId><artifactId>log4j-slf4j-impl</artifactId>
      <version>{log4j}</version></dependency>
    <dependency><groupId>org.apache.logging.log4j</groupId><artifactId>log4j-core</artifactId>
      <version>{log4j}</version></dependency>
  </dependencies>
</project>
"""


_S3PROXY_POM = """<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>local.docstream</groupId><artifactId>s3proxy-runtime</artifactId><version>1</version>
  <packaging>pom</packaging>
  <dependencies>
    <dependency><groupId>org.gaul</groupId><artifactId>s3proxy</artifactId>
      <version>{version}</version></dependency>
  </dependencies>
</project>
"""


def say(message: str) -> None:
    print(f"[docstream] {message}", flush=True)


def kafka_libs() -> Path:
    return cache_dir() / f"kafka-{KAFKA_VERSION}" / "libs"


def ferretdb_binary() -> Path:
    # Keyed by the wrapper's own sources too: a changed wrapper is built again, not reused.
    return cache_dir() / f"ferretdb-{FERRETDB_VERSION}-wrapper-{_wrapper_hash()}" / "ferretdb"


def _wrapper_hash() -> str:
    digest = hashlib.sha256()
    folder = REPO / "deploy" / "ferretdb"
    for path in sorted([*folder.glob("*.go"), folder / "go.mod"]):
        digest.update(path.name.encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()[:10]


def _require(tool: str, hint: str) -> str:
    path = shutil.which(tool)
    if path is None:
        raise SystemExit(f"[docstream] '{tool}' is not installed: {hint}")
    return path


def install_kafka() -> Path:
    libs = kafka_libs()
    done = libs.parent / ".complete"
    if done.exists():
        return libs
    mvn = _require("mvn", "install Maven (Debian: apt-get install maven)")
    _require("java", "install a Java 17+ runtime (Debian: apt-get install openjdk-17-jre-headless)")
    say(f"Fetching Apache Kafka {KAFKA_VERSION} jars from Maven Central (once) into {libs} ...")
    work = libs.parent
    work.mkdir(parents=True, exist_ok=True)
    (work / "pom.xml").write_text(_POM.format(kafka=KAFKA_VERSION, log4j=LOG4J_VERSION))
    started = time.monotonic()
    tmp = work / "libs.partial"
    shutil.rmtree(tmp, ignore_errors=True)
    cmd = [
        mvn,
        "-B",
        "-Dstyle.color=never",
        "-f",
        str(work / "pom.xml"),
        "dependency:copy-dependencies",
        f"-DoutputDirectory={tmp}",
        "-DincludeScope=runtime",
    ]
    _run_with_progress(cmd, "maven")
    shutil.rmtree(libs, ignore_errors=True)
    tmp.rename(libs)
    done.write_text(KAFKA_VERSION)
    jars = len(list(libs.glob("*.jar")))
    say(f"Kafka ready: {jars} jars in {time.monotonic() - started:.0f}s")
    return libs


def s3proxy_libs() -> Path:
    return cache_dir() / f"s3proxy-{S3PROXY_VERSION}" / "libs"


def install_s3proxy() -> Path:
    """s3proxy's jars (an S3-compatible server on a local folder), for the object-store tests.

    SeaweedFS was the first choice, but its module cannot be built with ``go install`` (its
    go.mod has replace directives); s3proxy comes from Maven Central like Kafka.
    """
    libs = s3proxy_libs()
    done = libs.parent / ".complete"
    if done.exists():
        return libs
    mvn = _require("mvn", "install Maven (Debian: apt-get install maven)")
    say(f"Fetching s3proxy {S3PROXY_VERSION} jars from Maven Central (once) into {libs} ...")
    work = libs.parent
    work.mkdir(parents=True, exist_ok=True)
    (work / "pom.xml").write_text(_S3PROXY_POM.format(version=S3PROXY_VERSION))
    tmp = work / "libs.partial"
    shutil.rmtree(tmp, ignore_errors=True)
    cmd = [
        mvn,
        "-B",
        "-Dstyle.color=never",
        "-f",
        str(work / "pom.xml"),
        "dependency:copy-dependencies",
        f"-DoutputDirectory={tmp}",
        "-DincludeScope=runtime",
    ]
    _run_with_progress(cmd, "maven")
    shutil.rmtree(libs, ignore_errors=True)
    tmp.rename(libs)
    done.write_text(S3PROXY_VERSION)
    return libs


def install_ferretdb() -> Path:
    binary = ferretdb_binary()
    if binary.exists():
        return binary
    go = _require("go", "install Go 1.24+ (https://go.dev/doc/install)")
    say(
        f"Building FerretDB {FERRETDB_VERSION} with 'go install' (once; a few minutes the "
        "first time, most of it compiling) ..."
    )
    started = time.monotonic()
    env_overrides = {"GOBIN": str(binary.parent), "GOFLAGS": "-mod=mod", "CGO_ENABLED": "0"}
    binary.parent.mkdir(parents=True, exist_ok=True)
    _run_with_progress(
        [go, "install", "-v", "."],
        "go",
        cwd=REPO / "deploy" / "ferretdb",
        env_overrides=env_overrides,
    )
    if not binary.exists():
        raise SystemExit("[docstream] go install finished but produced no ferretdb binary")
    say(f"FerretDB ready in {time.monotonic() - started:.0f}s: {binary}")
    return binary


def _run_with_progress(
    cmd: list[str],
    label: str,
    *,
    cwd: Path | None = None,
    env_overrides: dict[str, str] | None = None,
) -> None:
    import os

    env = {**os.environ, **(env_overrides or {})}
    proc = subprocess.Popen(
        cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, cwd=cwd, env=env, text=True
    )
    assert proc.stdout is not None
    tail: list[str] = []
    for count, line in enumerate(proc.stdout, start=1):
        tail = [*tail[-40:], line.rstrip()]
        # One line in 20 is enough to show it moves without drowning the terminal.
        if count % 20 == 1:
            print(f"  {label}: {line.rstrip()[:110]}", flush=True)
    if proc.wait() != 0:
        print("\n".join(tail), file=sys.stderr)
        raise SystemExit(f"[docstream] {label} failed (exit {proc.returncode})")


def install_all() -> None:
    install_kafka()
    install_ferretdb()
    install_s3proxy()


if __name__ == "__main__":
    install_all()
