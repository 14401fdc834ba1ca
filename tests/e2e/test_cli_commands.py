"""The streaming commands as a user runs them, through the installed console script, on the real broker:
`demo --once` (the first thing a new user runs) and `tail`. (`replay`, `profile`, `product`, `forget` and
`dead-letters` run the same way in tests/integration: test_secure_worker, test_worker_api, test_privacy.)"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path

import orjson
import pytest
from aiokafka import AIOKafkaProducer

from streams.settings import Settings
from streams.topics import ensure_topics
from tests.conftest import free_port

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = Path(sys.executable).parent / "reviewstream"  # the console script pip installed


def isolated_env(kafka_broker: str, name: str) -> dict[str, str]:
    """The user's environment with this test's own app id and topics (no REVIEWSTREAM_* of the caller)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("REVIEWSTREAM_", "OPENAI_"))}
    topics = {"REVIEWS": "reviews", "CLICKSTREAM": "clickstream", "INSIGHTS": "review-insights",
              "DEAD_LETTERS": "dead-letters", "PROFILES": "user-profiles", "SESSIONS": "user-sessions",
              "PRODUCT_SENTIMENT": "product-sentiment", "ALERTS": "alerts", "MARKETING": "marketing-messages",
              "SUPPORT_QUEUE": "support-queue", "PRIVACY_REQUESTS": "privacy-requests",
              "PRIVACY_AUDIT": "privacy-audit", "REVIEW_INTEGRITY": "review-integrity"}
    env.update({f"REVIEWSTREAM_{key}_TOPIC": f"{topic}-{name}" for key, topic in topics.items()})
    env.update(REVIEWSTREAM_BROKER=kafka_broker, REVIEWSTREAM_APP_ID=f"rs-e2e-{name}")
    return env


@pytest.mark.integration
@pytest.mark.timeout(600)
def test_demo_once_streams_the_sample_and_ends_with_a_complete_summary(kafka_broker: str, unique_name: str) -> None:
    env = isolated_env(kafka_broker, unique_name)
    env["REVIEWSTREAM_WEB_PORT"] = str(free_port())
    done = subprocess.run([str(SCRIPT), "demo", "--once", "--timeout", "400"], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=550)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    out = done.stdout
    assert "complete: every sample event accounted for" in out, out[-3000:]
    summary = out[out.rindex("── summary"):]
    assert "dead letters:" in summary and "profiles:" in summary, summary


@pytest.mark.integration
def test_tail_prints_a_topics_messages_from_the_beginning(kafka_broker: str, unique_name: str) -> None:
    env = isolated_env(kafka_broker, unique_name)
    settings = Settings(broker=kafka_broker, insights_topic=f"review-insights-{unique_name}")
    asyncio.run(ensure_topics(settings))
    lines = [orjson.dumps({"review_id": f"t{i}", "summary": f"line {i}"}) for i in range(3)]

    async def produce() -> None:
        producer = AIOKafkaProducer(**settings.kafka().client_kwargs(), acks="all")
        await producer.start()
        try:
            for line in lines:
                await (await producer.send(settings.insights_topic, line, partition=0))
        finally:
            await producer.stop()

    asyncio.run(produce())
    with subprocess.Popen([str(SCRIPT), "tail", settings.insights_topic, "--from-beginning"], cwd=ROOT, env=env,
                          stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True) as tail:
        try:
            got = [tail.stdout.readline().strip() for _ in lines] if tail.stdout else []
        finally:
            tail.terminate()
            tail.wait(timeout=30)
    assert got == [line.decode() for line in lines]
