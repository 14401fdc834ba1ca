"""One parse of the broker address and one set of connection settings for every Kafka client."""

from __future__ import annotations

import ssl
from pathlib import Path

import faust
import pytest

from streams.kafka.client import KafkaConnection, KafkaSecurityError, parse_servers
from streams.settings import Settings


@pytest.mark.parametrize("broker, servers", [
    ("kafka://127.0.0.1:9092", ("127.0.0.1:9092",)),
    ("kafka://b1:9093;kafka://b2:9094", ("b1:9093", "b2:9094")),
    ("b1:9093, b2", ("b1:9093", "b2:9092")),
    ("kafka://b1:9093;b2:9093/", ("b1:9093", "b2:9093")),
])
def test_every_spelling_of_the_broker_address_parses_to_host_port(broker: str, servers: tuple[str, ...]) -> None:
    assert parse_servers(broker) == servers


@pytest.mark.parametrize("broker, message", [("", "no broker address"), ("http://b1:9092", "scheme 'http'"),
                                             (":9092", "no host")])
def test_a_broker_address_that_cannot_work_says_why(broker: str, message: str) -> None:
    with pytest.raises(KafkaSecurityError, match=message):
        parse_servers(broker)


def test_plaintext_gives_the_plain_client_settings_and_no_faust_credentials() -> None:
    conn = KafkaConnection.parse("kafka://b1:9092;b2:9092")
    assert conn.client_kwargs() == {"bootstrap_servers": "b1:9092,b2:9092", "security_protocol": "PLAINTEXT"}
    assert conn.faust_broker == "kafka://b1:9092;kafka://b2:9092"
    assert conn.faust_credentials() is None


def test_sasl_ssl_verifies_the_broker_and_keeps_the_password_out_of_every_repr() -> None:
    conn = KafkaConnection.parse("b1:9093", security_protocol="SASL_SSL", sasl_mechanism="SCRAM-SHA-512",
                                 sasl_username="reviewstream", sasl_password="s3cret-pw")
    kwargs = conn.client_kwargs()
    assert (kwargs["security_protocol"], kwargs["sasl_mechanism"]) == ("SASL_SSL", "SCRAM-SHA-512")
    assert (kwargs["sasl_plain_username"], kwargs["sasl_plain_password"]) == ("reviewstream", "s3cret-pw")
    context = kwargs["ssl_context"]
    assert isinstance(context, ssl.SSLContext)
    assert context.check_hostname and context.verify_mode == ssl.CERT_REQUIRED
    credentials = conn.faust_credentials()
    assert isinstance(credentials, faust.SASLCredentials)
    assert (credentials.protocol.value, credentials.mechanism.value) == ("SASL_SSL", "SCRAM-SHA-512")
    assert "s3cret-pw" not in repr(conn) and "s3cret-pw" not in str(conn)


def test_settings_build_the_connection_and_never_show_the_password(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REVIEWSTREAM_KAFKA_SECURITY_PROTOCOL", "SASL_PLAINTEXT")
    monkeypatch.setenv("REVIEWSTREAM_KAFKA_SASL_MECHANISM", "PLAIN")
    monkeypatch.setenv("REVIEWSTREAM_KAFKA_SASL_USERNAME", "rs")
    monkeypatch.setenv("REVIEWSTREAM_KAFKA_SASL_PASSWORD", "hunter2-secret")
    settings = Settings(broker="b1:9092")
    assert settings.kafka().client_kwargs()["sasl_plain_password"] == "hunter2-secret"
    assert "hunter2-secret" not in repr(settings) and "hunter2-secret" not in repr(settings.kafka())
    assert "ssl_context" not in settings.kafka().client_kwargs()


@pytest.mark.parametrize("security, message", [
    ({"security_protocol": "SASL_SSL"}, "needs REVIEWSTREAM_KAFKA_SASL_MECHANISM"),
    ({"sasl_mechanism": "PLAIN"}, "security protocol is PLAINTEXT"),
    ({"security_protocol": "SSL", "ssl_certfile": Path(__file__)}, "needs both"),
    ({"security_protocol": "SSL", "ssl_cafile": Path("/nonexistent/ca.pem")}, "is not a readable file"),
])
def test_incomplete_security_settings_fail_at_once_with_what_to_set(security: dict[str, object],
                                                                    message: str) -> None:
    with pytest.raises(KafkaSecurityError, match=message):
        KafkaConnection.parse("b1:9093", **security)


def test_hostname_verification_can_be_turned_off_deliberately() -> None:
    conn = KafkaConnection.parse("10.0.0.5:9093", security_protocol="SSL", ssl_check_hostname=False)
    context = conn.ssl_context()
    assert context is not None and not context.check_hostname
    assert isinstance(conn.faust_credentials(), faust.SSLCredentials)
