"""Workers of one deployment on a broker, started, killed and restarted as a supervisor would, for the fault benches and
the fault tests.

    fleet = Fleet("kafka://127.0.0.1:20050", workdir)
    await fleet.create_topics()
    fleet.start("w1"); fleet.start("w2")
    await fleet.wait_ready("w1")
    await fleet.kill("w2")                  # SIGKILL, then wait until the process is gone
    fleet.start("w2")                       # the same data folder, as a restarted pod keeps its volume
    watcher = asyncio.create_task(fleet.watch(stop, restart=True))   # restarts a worker that exits by itself

Each fleet has its own topics, consumer group and API token (a random tag), a data folder and a log per worker. A
worker that exits without having been killed here is recorded in `unexpected_exits` with its exit status.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import secrets
import signal
import subprocess
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp
from prometheus_client.parser import text_string_to_metric_families

from bench.harness import free_port, start_worker
from streams.settings import Settings
from streams.topics import ensure_topics

__all__ = ["Exit", "Fleet"]


@dataclass(frozen=True, slots=True)
class Exit:
    worker: str
    status: int
    at: float


@dataclass
class Fleet:
    broker_url: str
    workdir: Path
    extra_env: dict[str, str] = field(default_factory=dict)
    loglevel: str = "info"
    tag: str = field(default_factory=lambda: uuid.uuid4().hex[:8])

    def __post_init__(self) -> None:
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.api_token = secrets.token_urlsafe(16)
        self.env = {
            **{k: v for k, v in os.environ.items() if not k.startswith("REVIEWSTREAM_")},
            "REVIEWSTREAM_BROKER": self.broker_url,
            "REVIEWSTREAM_APP_ID": f"faults-{self.tag}",
            **{f"REVIEWSTREAM_{role.upper()}_TOPIC": f"{name}-{self.tag}" for role, name in (
                ("reviews", "reviews"), ("clickstream", "clickstream"), ("insights", "review-insights"),
                ("dead_letters", "dead-letters"), ("profiles", "user-profiles"), ("sessions", "user-sessions"),
                ("product_sentiment", "product-sentiment"), ("alerts", "alerts"), ("marketing", "marketing-messages"),
                ("support_queue", "support-queue"), ("privacy_requests", "privacy-requests"),
                ("privacy_audit", "privacy-audit"), ("review_integrity", "review-integrity"))},
            "REVIEWSTREAM_TOPIC_PARTITIONS": "4",
            "REVIEWSTREAM_API_TOKEN": self.api_token,
            # A SIGKILLed worker stays in the group until its session times out (Faust's default: 60 s); the group
            # should not wait a minute for each one.
            "REVIEWSTREAM_FAUST_BROKER_SESSION_TIMEOUT": "15",
            **self.extra_env,
        }
        self.settings = Settings.model_validate({k[len("REVIEWSTREAM_"):].lower(): v for k, v in self.env.items()
                                                 if k.startswith("REVIEWSTREAM_")
                                                 and not k.startswith("REVIEWSTREAM_FAUST_")})
        self.workers: dict[str, subprocess.Popen[bytes]] = {}
        self.web_ports: dict[str, int] = {}
        # Starts of a worker that had run before (killed or exited).
        self.restarts = 0
        self.kills = 0
        self.unexpected_exits: list[Exit] = []
        # Processes whose exit is accounted for: reported already, or killed here.
        self._noted: set[subprocess.Popen[bytes]] = set()

    @property
    def api_headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.api_token}"}

    async def create_topics(self) -> None:
        await ensure_topics(self.settings)

    def start(self, name: str) -> subprocess.Popen[bytes]:
        """Start worker `name` (again: same data folder and web port, a fresh process)."""
        if name in self.workers:
            self.restarts += 1
        port = self.web_ports.setdefault(name, free_port())
        env = {**self.env, "REVIEWSTREAM_WEB_PORT": str(port),
               "REVIEWSTREAM_DATADIR": str(self.workdir / f"data-{name}")}
        self.workers[name] = start_worker(env, self.log_path(name), loglevel=self.loglevel)
        return self.workers[name]

    async def kill(self, name: str, sig: signal.Signals = signal.SIGKILL) -> None:
        """Send `sig` to worker `name` and wait until it has exited."""
        proc = self.workers[name]
        self._noted.add(proc)  # an exit we caused, not one to report or restart
        proc.send_signal(sig)
        self.kills += 1
        await asyncio.to_thread(proc.wait)

    async def watch(self, stop: asyncio.Event, restart: bool) -> None:
        """Until `stop`: note every worker that exits unless `kill` was the cause, and start it again when `restart`
        (what Kubernetes, systemd or `docker compose` with a restart policy do)."""
        while not stop.is_set():
            for name, proc in list(self.workers.items()):
                if proc.poll() is not None and proc not in self._noted:
                    self._noted.add(proc)
                    self.unexpected_exits.append(Exit(name, int(proc.returncode), time.time()))
                    if restart:
                        self.start(name)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=0.5)

    async def wait_ready(self, name: str, timeout_s: float = 180.0) -> float:
        """Poll the worker's /health until it says ready (partitions assigned, tables recovered); return the seconds
        waited."""
        started = time.monotonic()
        url = f"http://127.0.0.1:{self.web_ports[name]}/health"
        async with aiohttp.ClientSession() as session:
            while time.monotonic() - started < timeout_s:
                with contextlib.suppress(aiohttp.ClientError):
                    async with session.get(url) as response:
                        if response.status == 200:
                            return time.monotonic() - started
                await asyncio.sleep(0.25)  # polling the worker's start-up
        raise TimeoutError(f"worker {name} not ready within {timeout_s} s\n{self.log_tail(name)}")

    async def metrics(self, name: str) -> dict[str, float]:
        """The worker's /metrics as {'name{label="value",...}': value}; {} when it does not answer."""
        try:
            async with aiohttp.ClientSession() as session, \
                    session.get(f"http://127.0.0.1:{self.web_ports[name]}/metrics") as response:
                text = await response.text()
        except aiohttp.ClientError:
            return {}
        figures = {}
        for family in text_string_to_metric_families(text):
            for sample in family.samples:
                labels = ",".join(f'{k}="{v}"' for k, v in sorted(sample.labels.items()))
                figures[f"{sample.name}{{{labels}}}" if labels else sample.name] = sample.value
        return figures

    def log_path(self, name: str) -> Path:
        return self.workdir / f"worker-{name}.log"

    def log_tail(self, name: str, lines: int = 40) -> str:
        path = self.log_path(name)
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:]) if path.exists() else ""

    def kill_all(self) -> None:
        """SIGKILL every running worker and wait for it: what a crash of the whole fleet leaves behind."""
        running = [p for p in self.workers.values() if p.poll() is None]
        self._noted.update(self.workers.values())
        for proc in running:
            proc.kill()
        for proc in running:
            proc.wait()

    def stop_all(self) -> None:
        """SIGTERM every running worker and wait for it (a clean stop: its offsets committed, its group left)."""
        running = [p for p in self.workers.values() if p.poll() is None]
        self._noted.update(self.workers.values())
        for proc in running:  # all at once: each takes a while to commit and leave the group
            proc.send_signal(signal.SIGTERM)
        for proc in running:
            try:
                proc.wait(timeout=120)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
