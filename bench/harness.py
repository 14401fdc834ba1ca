"""What the Kafka benchmarks share: the project's broker, and a worker subprocess with its own data folder."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from streams.settings import PROJECT_ROOT

__all__ = ["LocalBroker", "bench_workdir", "free_port", "kafka_up", "start_worker", "stop_worker"]

KAFKA_SCRIPT = PROJECT_ROOT / "deploy" / "kafka" / "kafka.sh"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass(frozen=True)
class LocalBroker:
    """The project's single-node broker (deploy/kafka/kafka.sh) on `port`, with its data in `.local/kafka-<port>/`,
    for runs that stop it the hard way and start it again from that folder:

        broker = LocalBroker(20050)
        broker.up()
        broker.stop(signal.SIGKILL)   # the process is gone when this returns
        broker.up()                   # the same data folder: topics, offsets and committed groups come back
        broker.reset()                # stopped, data folder removed
    """

    port: int

    @property
    def url(self) -> str:
        return f"kafka://127.0.0.1:{self.port}"

    @property
    def state_dir(self) -> Path:
        return PROJECT_ROOT / ".local" / f"kafka-{self.port}"

    def _script(self, verb: str) -> None:
        subprocess.run([str(KAFKA_SCRIPT), verb], check=True, env={**os.environ, "KAFKA_PORT": str(self.port)},
                       timeout=600)

    def up(self) -> float:
        """Start the broker (or find it running) and wait until it accepts clients; return the seconds it took."""
        started = time.monotonic()
        self._script("up")
        return time.monotonic() - started

    def pid(self) -> int | None:
        try:
            return int((self.state_dir / "kafka.pid").read_text())
        except (FileNotFoundError, ValueError):
            return None

    def stop(self, sig: signal.Signals, timeout_s: float = 60.0) -> None:
        """Send `sig` to the broker process and wait until it has exited (SIGTERM: a clean shutdown; SIGKILL: a
        crash, its logs recovered at the next start)."""
        pid = self.pid()
        if pid is None:
            raise RuntimeError(f"no broker pid in {self.state_dir}; start it with up() first")
        os.kill(pid, sig)
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                return
            time.sleep(0.1)  # polling another process's exit
        raise TimeoutError(f"the broker (pid {pid}) still runs {timeout_s} s after {sig.name}")

    def down(self) -> None:
        self._script("down")

    def reset(self) -> None:
        """Stop it and remove its data folder."""
        self._script("reset")


def kafka_up() -> int:
    """Start (or reuse) the project's broker on KAFKA_PORT (default 19092, the tests' port); return the port."""
    broker = LocalBroker(int(os.environ.get("KAFKA_PORT", "19092")))
    broker.up()
    return broker.port


def bench_workdir(name: str) -> Path:
    workdir = PROJECT_ROOT / ".local" / name
    workdir.mkdir(parents=True, exist_ok=True)
    return workdir


def start_worker(env: dict[str, str], log_path: Path, loglevel: str = "warning") -> subprocess.Popen[bytes]:
    with log_path.open("ab") as log:
        return subprocess.Popen([sys.executable, "-m", "streams", "worker", "--loglevel", loglevel], env=env,
                                cwd=PROJECT_ROOT, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)


def stop_worker(worker: subprocess.Popen[bytes]) -> None:
    worker.send_signal(signal.SIGTERM)
    with contextlib.suppress(subprocess.TimeoutExpired):
        worker.wait(timeout=120)
    if worker.poll() is None:
        worker.kill()
