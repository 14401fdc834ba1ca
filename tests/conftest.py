"""Shared fixtures. Integration tests get a real single-node Kafka (KRaft) started by the project's own script."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest

from tests.secure_kafka import SecureKafka, secure_test_port, start_secure_kafka, stop_secure_kafka

ROOT = Path(__file__).resolve().parent.parent
KAFKA_SCRIPT = ROOT / "deploy" / "kafka" / "kafka.sh"
SAMPLE = ROOT / "data" / "sample_reviews.jsonl"


def sample_reviews() -> list[dict[str, Any]]:
    """The valid reviews of the bundled sample (real review text, English and Chinese)."""
    rows = []
    for line in SAMPLE.read_bytes().splitlines():
        try:
            row = orjson.loads(line)
        except orjson.JSONDecodeError:
            continue
        if isinstance(row, dict) and isinstance(row.get("text"), str) and row["text"].strip() \
                and len(row["text"]) < 8000 and row.get("rating") in (None, 1, 2, 3, 4, 5) \
                and isinstance(row.get("review_id"), str):
            rows.append(row)
    return rows


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _port_open(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(0.5)
        return s.connect_ex(("127.0.0.1", port)) == 0


@pytest.fixture(scope="session")
def kafka_broker() -> Iterator[str]:
    """`kafka://127.0.0.1:PORT` of a running broker; started for the session unless one already runs there."""
    port = int(os.environ.get("REVIEWSTREAM_TEST_KAFKA_PORT", "19092"))
    env = {**os.environ, "KAFKA_PORT": str(port)}
    started = False
    if not _port_open(port):
        subprocess.run([str(KAFKA_SCRIPT), "up"], check=True, env=env, timeout=600)
        started = True
    yield f"kafka://127.0.0.1:{port}"
    if started and os.environ.get("REVIEWSTREAM_TEST_KEEP_KAFKA") != "1":
        subprocess.run([str(KAFKA_SCRIPT), "down"], check=False, env=env, timeout=120)


@pytest.fixture(scope="session")
def secure_kafka_broker() -> Iterator[SecureKafka]:
    """The broker with SASL_SSL (SCRAM-SHA-256/512, PLAIN), mutual TLS and SASL_PLAINTEXT listeners, certificates made
    for the session in a temporary folder; on REVIEWSTREAM_TEST_SECURE_KAFKA_PORT (default: the plain test port + 100).
    See tests/secure_kafka.py for what it yields."""
    workdir = Path(tempfile.mkdtemp(prefix="reviewstream-secure-kafka-"))
    broker = start_secure_kafka(secure_test_port(), workdir)
    yield broker
    if broker.started and os.environ.get("REVIEWSTREAM_TEST_KEEP_KAFKA") == "1":
        return  # the broker keeps using the certificates in workdir; the next session finds them in its security.env
    stop_secure_kafka(broker)
    shutil.rmtree(workdir, ignore_errors=True)


@pytest.fixture
def unique_name() -> str:
    """A fresh suffix for topics and consumer groups, so tests never see each other's data."""
    return uuid.uuid4().hex[:10]
