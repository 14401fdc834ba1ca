"""Helpers for integration tests: isolated topic sets, a worker subprocess, and reading output topics."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import orjson
import pytest
import pytest_asyncio
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from bench.harness import LocalBroker
from models.dead_letter import source_aad, unframe_original
from streams.llm.simulator import SimulatorConfig, start_simulator
from streams.security.sealing import Keyring, new_key_spec
from streams.settings import Settings
from streams.topics import ensure_topics
from tests.conftest import ROOT, free_port
from tests.secure_kafka import SecureKafka


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Every test under tests/integration talks to the real broker (a `pytestmark` in a conftest marks nothing)."""
    here = Path(__file__).parent
    for item in items:
        if here in Path(str(item.fspath)).parents:
            item.add_marker(pytest.mark.integration)


async def poll(check: Callable[[], Awaitable[Any]], timeout_s: float, interval_s: float = 0.5) -> Any:
    """Call the async `check` until it returns a truthy value or the deadline passes; returns its last value. For
    state only reachable by asking (a worker's HTTP views, Prometheus): there is no event to await."""
    deadline = time.monotonic() + timeout_s
    while True:
        result = await check()
        if result or time.monotonic() >= deadline:
            return result
        await asyncio.sleep(interval_s)

# The workers' token for the views that show personal data (streams/security/api_auth.py).
API_TOKEN = "integration-test-api-token"
API_HEADERS = {"Authorization": f"Bearer {API_TOKEN}"}


@dataclass
class Deployment:
    """One isolated reviewstream deployment: its own topics, consumer group and state folder."""

    env: dict[str, str]
    settings: Settings
    workdir: Path
    workers: list[subprocess.Popen[bytes]] = field(default_factory=list)
    web_ports: dict[str, int] = field(default_factory=dict)

    @property
    def bootstrap(self) -> str:
        return self.settings.kafka().bootstrap

    @property
    def kafka_kwargs(self) -> dict[str, Any]:
        """How a test's own clients reach this deployment's broker (its security settings included)."""
        return self.settings.kafka().client_kwargs()

    def start_worker(self, name: str = "w1", entry: str = "streams", **extra_env: str) -> subprocess.Popen[bytes]:
        self.web_ports[name] = int(extra_env.pop("REVIEWSTREAM_WEB_PORT", 0) or free_port())
        env = {**self.env, "REVIEWSTREAM_WEB_PORT": str(self.web_ports[name]),
               "REVIEWSTREAM_DATADIR": str(self.workdir / f"data-{name}"), **extra_env}
        # The child keeps its own copy of the file descriptor; the test's is closed at once.
        with (self.workdir / f"worker-{name}.log").open("ab") as log:
            proc = subprocess.Popen([sys.executable, "-m", entry, "worker", "--loglevel", "info"],
                                    env=env, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        self.workers.append(proc)
        return proc

    def original(self, letter: dict[str, Any]) -> bytes:
        """The original value a dead letter sealed, opened with this deployment's key (the whole of it, or its head)."""
        keys = Keyring.parse(self.env["REVIEWSTREAM_DEAD_LETTER_KEYS"])
        aad = source_aad(letter["source_topic"], letter["partition"], letter["offset"])
        return unframe_original(keys.open(letter["key_id"], letter["sealed"], aad=aad))[1]

    async def wait_ready(self, name: str, proc: subprocess.Popen[bytes], timeout_s: float = 120.0) -> None:
        """Poll the worker's /health until it says ready (partitions assigned, tables recovered)."""
        deadline = time.monotonic() + timeout_s
        url = f"http://127.0.0.1:{self.web_ports[name]}/health"
        async with aiohttp.ClientSession() as session:
            while time.monotonic() < deadline:
                if proc.poll() is not None:
                    raise AssertionError(f"worker {name} exited with {proc.returncode}\n{self.log_tail(name)}")
                try:
                    async with session.get(url) as response:
                        if response.status == 200:
                            return
                except aiohttp.ClientError:
                    pass  # not listening yet
                await asyncio.sleep(0.25)  # polling the worker's start-up
        raise AssertionError(f"worker {name} not ready within {timeout_s} s\n{self.log_tail(name)}")

    def log_tail(self, name: str = "w1", lines: int = 40) -> str:
        path = self.workdir / f"worker-{name}.log"
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:]) if path.exists() else ""

    async def diagnose(self, name: str, proc: subprocess.Popen[bytes], lines: int = 60) -> str:
        """The worker's log tail, after asking it (SIGUSR1: mode's Worker logs every thread's and task's stack) what
        it is waiting for, when it still runs."""
        if proc.poll() is None:
            proc.send_signal(signal.SIGUSR1)
            await asyncio.sleep(2)
            lines = max(lines, 600)
        return self.log_tail(name, lines)

    def stop_all(self) -> None:
        for proc in self.workers:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc in self.workers:
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()

    async def produce(self, values: list[bytes], topic: str | None = None, keys: list[bytes] | None = None) -> None:
        producer = AIOKafkaProducer(**self.kafka_kwargs, acks="all")
        await producer.start()
        try:
            futures = [await producer.send(topic or self.settings.reviews_topic, value=v,
                                           key=keys[i] if keys else None) for i, v in enumerate(values)]
            await asyncio.gather(*futures)
        finally:
            await producer.stop()

    async def collect(self, until: Any, timeout_s: float = 120.0, proc: subprocess.Popen[bytes] | None = None,
                      topics: list[str] | None = None) -> dict[str, list[dict[str, Any]]]:
        """Read insights and dead letters (or `topics`) from the start until `until(outputs)` or the deadline."""
        topics = topics or [self.settings.insights_topic, self.settings.dead_letters_topic]
        consumer = AIOKafkaConsumer(*topics, **self.kafka_kwargs, auto_offset_reset="earliest",
                                    enable_auto_commit=False, group_id=None)
        await consumer.start()
        outputs: dict[str, list[dict[str, Any]]] = {t: [] for t in topics}
        deadline = time.monotonic() + timeout_s
        try:
            while not until(outputs) and time.monotonic() < deadline:
                if proc is not None and proc.poll() is not None:
                    raise AssertionError(f"worker exited with {proc.returncode}")
                for tp, records in (await consumer.getmany(timeout_ms=500)).items():
                    outputs[tp.topic].extend(orjson.loads(r.value) for r in records)
        finally:
            await consumer.stop()
        return outputs


def new_deployment(broker: str, unique_name: str, tmp_path: Path, **security: str) -> Deployment:
    """A deployment of its own topics and group on `broker`, with `security` as extra REVIEWSTREAM_* settings."""
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("REVIEWSTREAM_")},
        "REVIEWSTREAM_BROKER": broker,
        **security,
        "REVIEWSTREAM_APP_ID": f"rs-test-{unique_name}",
        "REVIEWSTREAM_REVIEWS_TOPIC": f"reviews-{unique_name}",
        "REVIEWSTREAM_CLICKSTREAM_TOPIC": f"clickstream-{unique_name}",
        "REVIEWSTREAM_INSIGHTS_TOPIC": f"review-insights-{unique_name}",
        "REVIEWSTREAM_DEAD_LETTERS_TOPIC": f"dead-letters-{unique_name}",
        "REVIEWSTREAM_PROFILES_TOPIC": f"user-profiles-{unique_name}",
        "REVIEWSTREAM_SESSIONS_TOPIC": f"user-sessions-{unique_name}",
        "REVIEWSTREAM_PRODUCT_SENTIMENT_TOPIC": f"product-sentiment-{unique_name}",
        "REVIEWSTREAM_ALERTS_TOPIC": f"alerts-{unique_name}",
        "REVIEWSTREAM_MARKETING_TOPIC": f"marketing-messages-{unique_name}",
        "REVIEWSTREAM_SUPPORT_QUEUE_TOPIC": f"support-queue-{unique_name}",
        "REVIEWSTREAM_PRIVACY_REQUESTS_TOPIC": f"privacy-requests-{unique_name}",
        "REVIEWSTREAM_PRIVACY_AUDIT_TOPIC": f"privacy-audit-{unique_name}",
        "REVIEWSTREAM_REVIEW_INTEGRITY_TOPIC": f"review-integrity-{unique_name}",
        "REVIEWSTREAM_TOPIC_PARTITIONS": "4",
        "REVIEWSTREAM_API_TOKEN": API_TOKEN,
        # Dead letters keep the original sealed only when a key is configured; the tests open them with it.
        "REVIEWSTREAM_DEAD_LETTER_KEYS": new_key_spec("test"),
        # A SIGKILLed worker stays in the group until its session times out (Faust's default: 60 s); the tests that
        # kill one should not spend a minute of a slow CI machine waiting for that.
        "REVIEWSTREAM_FAUST_BROKER_SESSION_TIMEOUT": "15",
    }
    keys = {k[len("REVIEWSTREAM_"):].lower(): v for k, v in env.items()
            if k.startswith("REVIEWSTREAM_") and not k.startswith("REVIEWSTREAM_FAUST_")}
    settings = Settings(**keys)
    asyncio.run(ensure_topics(settings))
    return Deployment(env=env, settings=settings, workdir=tmp_path)


@pytest.fixture
def deployment(kafka_broker: str, unique_name: str, tmp_path: Path) -> Iterator[Deployment]:
    dep = new_deployment(kafka_broker, unique_name, tmp_path)
    yield dep
    dep.stop_all()


@pytest.fixture
def secure_deployment(secure_kafka_broker: SecureKafka, unique_name: str, tmp_path: Path) -> Iterator[Deployment]:
    """A deployment whose every client — workers, the test's producers and readers — talks SASL_SSL with SCRAM."""
    dep = new_deployment(secure_kafka_broker.broker_url, unique_name, tmp_path,
                         **secure_settings(secure_kafka_broker))
    yield dep
    dep.stop_all()


def secure_settings(broker: SecureKafka, mechanism: str = "SCRAM-SHA-512", **overrides: str) -> dict[str, str]:
    return {"REVIEWSTREAM_KAFKA_SECURITY_PROTOCOL": "SASL_SSL", "REVIEWSTREAM_KAFKA_SASL_MECHANISM": mechanism,
            "REVIEWSTREAM_KAFKA_SASL_USERNAME": broker.username, "REVIEWSTREAM_KAFKA_SASL_PASSWORD": broker.password,
            "REVIEWSTREAM_KAFKA_SSL_CAFILE": str(broker.cafile), **overrides}


@pytest_asyncio.fixture
async def llm_simulator() -> AsyncIterator[str]:
    """Base URL of an OpenAI-compatible simulator with a realistic latency (median 0.15 s, p99 0.6 s)."""
    sim = await start_simulator(SimulatorConfig(latency_median_s=0.15, latency_p99_s=0.6, seed=3))
    try:
        yield sim.base_url
    finally:
        await sim.close()


@pytest.fixture
def private_kafka_broker() -> Iterator[LocalBroker]:
    """A broker of the test's own, which the test may stop and start again (never the session's broker): the
    project's broker on REVIEWSTREAM_TEST_PRIVATE_KAFKA_PORT (default: the session broker's port + 200), with a fresh
    data folder (.local/kafka-<port>/), removed afterwards."""
    session_port = int(os.environ.get("REVIEWSTREAM_TEST_KAFKA_PORT", "19092"))
    broker = LocalBroker(int(os.environ.get("REVIEWSTREAM_TEST_PRIVATE_KAFKA_PORT", str(session_port + 200))))
    broker.reset()
    broker.up()
    yield broker
    broker.reset()
