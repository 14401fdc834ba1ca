"""What the Kafka benchmarks share: the project's broker, and a worker subprocess with its own data folder."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

from streams.settings import PROJECT_ROOT

__all__ = ["bench_workdir", "free_port", "kafka_up", "start_worker", "stop_worker"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def kafka_up() -> int:
    """Start (or reuse) the project's broker on KAFKA_PORT (default 19092, the tests' port); return the port."""
    port = int(os.environ.get("KAFKA_PORT", "19092"))
    subprocess.run([str(PROJECT_ROOT / "deploy" / "kafka" / "kafka.sh"), "up"], check=True,
                   env={**os.environ, "KAFKA_PORT": str(port)})
    return port


def bench_workdir(name: str) -> Path:
    workdir = PROJECT_ROOT / ".local" / name
    workdir.mkdir(parents=True, exist_ok=True)
    return workdir


def start_worker(env: dict[str, str], log_path: Path) -> subprocess.Popen[bytes]:
    with log_path.open("ab") as log:
        return subprocess.Popen([sys.executable, "-m", "streams", "worker", "--loglevel", "warning"], env=env,
                                cwd=PROJECT_ROOT, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)


def stop_worker(worker: subprocess.Popen[bytes]) -> None:
    worker.send_signal(signal.SIGTERM)
    with contextlib.suppress(subprocess.TimeoutExpired):
        worker.wait(timeout=120)
    if worker.poll() is None:
        worker.kill()
