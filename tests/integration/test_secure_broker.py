"""The secured test broker (kafka.sh, KAFKA_SECURITY=sasl_ssl) against aiokafka itself, before any reviewstream code.

What these tests pin down, for whoever turns client failures into start-up errors:

- a wrong password or an unknown user: the broker answers at once; `create_conn` raises `SaslAuthenticationFailed`;
- a CA that did not sign the broker's certificate: the TLS handshake fails at once; `create_conn` raises
  `ssl.SSLCertVerificationError` (an `OSError`);
- `AIOKafkaProducer/Consumer/AdminClient.start()` hide both behind the same `KafkaConnectionError("Unable to bootstrap
  from [...]")`, with no `__cause__`: the reason is only in the ERROR record aiokafka logs ("Unable connect to ...").
  Neither retries: `start()` gives up after one attempt per bootstrap address.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import os
import ssl
import subprocess
import uuid
from typing import Any

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.conn import create_conn
from aiokafka.errors import KafkaConnectionError, SaslAuthenticationFailed

from tests.secure_kafka import KAFKA_SCRIPT, SecureKafka

pytestmark = pytest.mark.integration

# A bound on start-up, not a speed target: the point is that a refused client ends instead of retrying forever
# (aiokafka's request timeout, 40 s by default, would be the symptom of a hang).
START_BOUND_S = 30.0

ClientKind = type[AIOKafkaProducer] | type[AIOKafkaConsumer] | type[AIOKafkaAdminClient]


async def round_trip(bootstrap: str, auth: dict[str, Any]) -> bytes:
    """Create a topic, produce one message and consume it back, all with `auth`."""
    topic = f"secure-{uuid.uuid4().hex[:10]}"
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, **auth)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(topic, num_partitions=1, replication_factor=1)])
    finally:
        await admin.close()
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", **auth)
    await producer.start()
    try:
        await producer.send_and_wait(topic, b"hello over " + auth["security_protocol"].encode())
    finally:
        await producer.stop()
    consumer = AIOKafkaConsumer(topic, bootstrap_servers=bootstrap, auto_offset_reset="earliest", **auth)
    await consumer.start()
    try:
        message = await asyncio.wait_for(consumer.getone(), timeout=START_BOUND_S)
    finally:
        await consumer.stop()
    assert message.value is not None
    return message.value


async def start_and_stop(kind: ClientKind, bootstrap: str, auth: dict[str, Any]) -> None:
    client = kind(bootstrap_servers=bootstrap, **auth)
    try:
        await asyncio.wait_for(client.start(), timeout=START_BOUND_S)
    finally:
        await (client.close() if isinstance(client, AIOKafkaAdminClient) else client.stop())
        # A connection whose handshake failed can be left unclosed inside aiokafka (seen once in a full run of the
        # suite, a ResourceWarning when it is collected): collect now, so that it is reported in the test that caused
        # it, where FAILED_HANDSHAKE_LEAK lets it pass, and not in whichever test runs next.
        gc.collect()


# aiokafka's, not ours: the socket of a refused handshake, collected unclosed.
FAILED_HANDSHAKE_LEAK = pytest.mark.filterwarnings(
    "ignore:Exception ignored in.*_SelectorTransport.__del__:pytest.PytestUnraisableExceptionWarning")


def logged_reasons(caplog: pytest.LogCaptureFixture) -> str:
    return "\n".join(r.getMessage() for r in caplog.records
                     if r.name.startswith("aiokafka") and r.levelno >= logging.ERROR)


@pytest.mark.parametrize("mechanism", ["SCRAM-SHA-256", "SCRAM-SHA-512", "PLAIN"])
async def test_sasl_ssl_round_trip(secure_kafka_broker: SecureKafka, mechanism: str) -> None:
    broker = secure_kafka_broker
    value = await round_trip(broker.bootstrap, broker.aiokafka_auth(mechanism))
    assert value == b"hello over SASL_SSL"


async def test_sasl_ssl_with_a_client_certificate(secure_kafka_broker: SecureKafka) -> None:
    broker = secure_kafka_broker
    auth = {**broker.aiokafka_auth("SCRAM-SHA-256"), "ssl_context": broker.ssl_context(client_certificate=True)}
    assert await round_trip(broker.bootstrap, auth) == b"hello over SASL_SSL"


@FAILED_HANDSHAKE_LEAK
async def test_mutual_tls_listener_needs_the_client_certificate(secure_kafka_broker: SecureKafka) -> None:
    broker = secure_kafka_broker
    with_cert = {"security_protocol": "SSL", "ssl_context": broker.ssl_context(client_certificate=True)}
    assert await round_trip(broker.ssl_bootstrap, with_cert) == b"hello over SSL"
    # Without a certificate the broker closes the connection during the handshake.
    without = {"security_protocol": "SSL", "ssl_context": broker.ssl_context()}
    with pytest.raises(KafkaConnectionError):
        await start_and_stop(AIOKafkaProducer, broker.ssl_bootstrap, without)


async def test_sasl_plaintext_listener(secure_kafka_broker: SecureKafka) -> None:
    broker = secure_kafka_broker
    auth = {"security_protocol": "SASL_PLAINTEXT", "sasl_mechanism": "SCRAM-SHA-512",
            "sasl_plain_username": broker.username, "sasl_plain_password": broker.password}
    assert await round_trip(broker.sasl_plaintext_bootstrap, auth) == b"hello over SASL_PLAINTEXT"


@FAILED_HANDSHAKE_LEAK
@pytest.mark.parametrize("kind", [AIOKafkaProducer, AIOKafkaConsumer, AIOKafkaAdminClient])
@pytest.mark.parametrize("mechanism", ["SCRAM-SHA-256", "SCRAM-SHA-512"])
async def test_wrong_password_fails_start_without_retrying(
        secure_kafka_broker: SecureKafka, kind: ClientKind, mechanism: str, caplog: pytest.LogCaptureFixture) -> None:
    broker = secure_kafka_broker
    auth = broker.aiokafka_auth(mechanism, password="not-" + broker.password)
    with caplog.at_level(logging.ERROR, logger="aiokafka"), \
            pytest.raises(KafkaConnectionError, match="Unable to bootstrap") as failure:
        await start_and_stop(kind, broker.bootstrap, auth)
    assert failure.value.__cause__ is None, "aiokafka keeps the reason only in its log"
    assert "SaslAuthenticationFailed" in logged_reasons(caplog)
    assert f"SASL mechanism {mechanism}" in logged_reasons(caplog)
    assert broker.password not in logged_reasons(caplog)


@FAILED_HANDSHAKE_LEAK
@pytest.mark.parametrize("kind", [AIOKafkaProducer, AIOKafkaConsumer, AIOKafkaAdminClient])
async def test_untrusted_ca_fails_start_without_retrying(
        secure_kafka_broker: SecureKafka, kind: ClientKind, caplog: pytest.LogCaptureFixture) -> None:
    broker = secure_kafka_broker
    auth = broker.aiokafka_auth("SCRAM-SHA-256", cafile=broker.untrusted_cafile)
    with caplog.at_level(logging.ERROR, logger="aiokafka"), \
            pytest.raises(KafkaConnectionError, match="Unable to bootstrap") as failure:
        await start_and_stop(kind, broker.bootstrap, auth)
    assert failure.value.__cause__ is None
    assert "CERTIFICATE_VERIFY_FAILED" in logged_reasons(caplog)


async def test_a_single_connection_raises_the_reason_itself(secure_kafka_broker: SecureKafka) -> None:
    """`aiokafka.conn.create_conn` (one connection, TLS and SASL handshakes included) raises the typed error that
    `start()` only logs: what a start-up check can catch and explain."""
    broker = secure_kafka_broker

    async def connect(**auth: Any) -> None:
        conn = await asyncio.wait_for(create_conn(broker.host, broker.port, **auth), timeout=START_BOUND_S)
        conn.close()

    await connect(**broker.aiokafka_auth("SCRAM-SHA-256"))
    with pytest.raises(SaslAuthenticationFailed, match="invalid credentials"):
        await connect(**broker.aiokafka_auth("SCRAM-SHA-256", password="wrong"))
    unknown_user = {**broker.aiokafka_auth("SCRAM-SHA-512"), "sasl_plain_username": "nobody-" + broker.username}
    with pytest.raises(SaslAuthenticationFailed):
        await connect(**unknown_user)
    with pytest.raises(ssl.SSLCertVerificationError, match="CERTIFICATE_VERIFY_FAILED"):
        await connect(**broker.aiokafka_auth("SCRAM-SHA-256", cafile=broker.untrusted_cafile))
    # A PLAINTEXT client at a TLS listener: the broker hangs up.
    with pytest.raises(KafkaConnectionError, match="closed"):
        await connect(security_protocol="PLAINTEXT")


def test_kafka_sh_will_not_take_the_secured_broker_for_a_plaintext_one(secure_kafka_broker: SecureKafka) -> None:
    """`kafka.sh up` without KAFKA_SECURITY on the secured broker's port stops with an explanation instead of
    reporting a broker that PLAINTEXT clients cannot use as ready."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("KAFKA_")}
    result = subprocess.run([str(KAFKA_SCRIPT), "up"], env={**env, "KAFKA_PORT": str(secure_kafka_broker.port)},
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 2, result.stderr
    assert "with KAFKA_SECURITY=sasl_ssl" in result.stderr and "down" in result.stderr
