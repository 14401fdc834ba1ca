"""How every Kafka client of the project connects: one parse of the broker address, one TLS context, one set of SASL
credentials, for the Faust app and for each aiokafka client (admin, skipped-offset reader, replay, tail, demo,
benches, tests).

>>> conn = KafkaConnection.parse("kafka://b1:9093;b2:9093", security_protocol="SASL_SSL",
...                              sasl_mechanism="SCRAM-SHA-512", sasl_username="rs", sasl_password="secret")
>>> conn.bootstrap
'b1:9093,b2:9093'
>>> "secret" in repr(conn)
False

The password is a `SecretStr`: it never shows in a repr, a log line or an error. Hostname verification is on unless
the settings turn it off (`REVIEWSTREAM_KAFKA_SSL_CHECK_HOSTNAME=false`, for brokers reached by an address their
certificate does not name).
"""

from __future__ import annotations

import ssl
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import faust
from aiokafka import AIOKafkaConsumer
from pydantic import SecretStr

if TYPE_CHECKING:
    from streams.settings import Settings

__all__ = ["KafkaConnection", "KafkaSecurityError", "SaslMechanism", "SecurityProtocol", "parse_servers",
           "partitions_of"]

SecurityProtocol = Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"]
SaslMechanism = Literal["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"]

DEFAULT_PORT = 9092


class KafkaSecurityError(ValueError):
    """Connection settings that cannot work together (a SASL protocol without a user, a key without a certificate…)."""


def parse_servers(broker: str) -> tuple[str, ...]:
    """`kafka://h1:9092;h2:9092`, `h1:9092,h2` or a mix → `('h1:9092', 'h2:9092')` (port 9092 when left out)."""
    servers = []
    for part in broker.replace(";", ",").split(","):
        part = part.strip()
        if "://" in part:
            scheme, part = part.split("://", 1)
            if scheme not in ("kafka", "aiokafka"):
                raise KafkaSecurityError(f"broker URL scheme {scheme!r} in {broker!r}: use kafka:// or host:port")
        part = part.rstrip("/")
        if not part:
            continue
        host, sep, port = part.rpartition(":")
        if not sep or not port.isdigit():
            host, port = part, str(DEFAULT_PORT)
        if not host:
            raise KafkaSecurityError(f"broker address {part!r} in {broker!r} has no host")
        servers.append(f"{host}:{port}")
    if not servers:
        raise KafkaSecurityError(f"no broker address in {broker!r}; expected host:port[,host:port...]")
    return tuple(servers)


@dataclass(frozen=True)
class KafkaConnection:
    servers: tuple[str, ...]
    security_protocol: SecurityProtocol = "PLAINTEXT"
    sasl_mechanism: SaslMechanism | None = None
    sasl_username: str | None = None
    sasl_password: SecretStr | None = field(default=None, repr=False)
    ssl_cafile: Path | None = field(default=None, repr=False)
    ssl_certfile: Path | None = field(default=None, repr=False)
    ssl_keyfile: Path | None = field(default=None, repr=False)
    ssl_key_password: SecretStr | None = field(default=None, repr=False)
    ssl_check_hostname: bool = field(default=True, repr=False)

    def __post_init__(self) -> None:
        sasl = self.security_protocol.startswith("SASL_")
        if sasl and not (self.sasl_mechanism and self.sasl_username and self.sasl_password):
            raise KafkaSecurityError(
                f"security protocol {self.security_protocol} needs REVIEWSTREAM_KAFKA_SASL_MECHANISM (PLAIN, "
                f"SCRAM-SHA-256 or SCRAM-SHA-512), REVIEWSTREAM_KAFKA_SASL_USERNAME and "
                f"REVIEWSTREAM_KAFKA_SASL_PASSWORD")
        if not sasl and self.sasl_mechanism is not None:
            raise KafkaSecurityError(f"a SASL mechanism ({self.sasl_mechanism}) is set but the security protocol is "
                                     f"{self.security_protocol}: use SASL_SSL (or SASL_PLAINTEXT on a trusted network)")
        if (self.ssl_keyfile is None) != (self.ssl_certfile is None):
            raise KafkaSecurityError("a client certificate (mTLS) needs both REVIEWSTREAM_KAFKA_SSL_CERTFILE and "
                                     "REVIEWSTREAM_KAFKA_SSL_KEYFILE")
        for name in ("ssl_cafile", "ssl_certfile", "ssl_keyfile"):
            path = getattr(self, name)
            if path is not None and not Path(path).is_file():
                raise KafkaSecurityError(f"REVIEWSTREAM_KAFKA_{name.upper()}={path} is not a readable file")

    @classmethod
    def parse(cls, broker: str, **security: Any) -> KafkaConnection:
        for secret in ("sasl_password", "ssl_key_password"):
            if isinstance(security.get(secret), str):
                security[secret] = SecretStr(security[secret])
        return cls(servers=parse_servers(broker), **security)

    @classmethod
    def from_settings(cls, settings: Settings) -> KafkaConnection:
        return cls.parse(
            settings.broker, security_protocol=settings.kafka_security_protocol,
            sasl_mechanism=settings.kafka_sasl_mechanism, sasl_username=settings.kafka_sasl_username,
            sasl_password=settings.kafka_sasl_password, ssl_cafile=settings.kafka_ssl_cafile,
            ssl_certfile=settings.kafka_ssl_certfile, ssl_keyfile=settings.kafka_ssl_keyfile,
            ssl_key_password=settings.kafka_ssl_key_password, ssl_check_hostname=settings.kafka_ssl_check_hostname)

    @property
    def bootstrap(self) -> str:
        """aiokafka's form: `host:port,host:port`."""
        return ",".join(self.servers)

    @property
    def faust_broker(self) -> str:
        """Faust's form: `kafka://host:port;kafka://host:port`."""
        return ";".join(f"kafka://{server}" for server in self.servers)

    @property
    def uses_tls(self) -> bool:
        return self.security_protocol in ("SSL", "SASL_SSL")

    def ssl_context(self) -> ssl.SSLContext | None:
        """The TLS context for SSL and SASL_SSL: the system's trusted CAs, or `ssl_cafile`; the client certificate
        when one is configured; hostname verification as configured (on by default)."""
        if not self.uses_tls:
            return None
        context = ssl.create_default_context(cafile=str(self.ssl_cafile) if self.ssl_cafile else None)
        context.check_hostname = self.ssl_check_hostname
        if self.ssl_certfile is not None:
            context.load_cert_chain(
                str(self.ssl_certfile), str(self.ssl_keyfile),
                password=self.ssl_key_password.get_secret_value() if self.ssl_key_password else None)
        return context

    def client_kwargs(self) -> dict[str, Any]:
        """Keyword arguments for any aiokafka client (producer, consumer, admin)."""
        kwargs: dict[str, Any] = {"bootstrap_servers": self.bootstrap, "security_protocol": self.security_protocol}
        if self.uses_tls:
            kwargs["ssl_context"] = self.ssl_context()
        if self.sasl_mechanism is not None:
            kwargs["sasl_mechanism"] = self.sasl_mechanism
            kwargs["sasl_plain_username"] = self.sasl_username
            kwargs["sasl_plain_password"] = self.sasl_password.get_secret_value() if self.sasl_password else None
        return kwargs

    def faust_credentials(self) -> faust.types.auth.CredentialsT | None:
        """`broker_credentials` for the Faust app (Faust passes them on to aiokafka)."""
        if self.security_protocol == "PLAINTEXT":
            return None
        if self.security_protocol == "SSL":
            return faust.SSLCredentials(self.ssl_context())
        return faust.SASLCredentials(
            username=self.sasl_username,
            password=self.sasl_password.get_secret_value() if self.sasl_password else None,
            ssl_context=self.ssl_context(), mechanism=self.sasl_mechanism)


async def partitions_of(consumer: AIOKafkaConsumer, topic: str) -> set[int]:
    """The partitions `topic` has (empty when it does not exist), for a consumer that assigns partitions itself.
    aiokafka refreshes metadata only for the topics its client tracks, which such a consumer does not until told:
    `partitions_for_topic` stays None, even after `topics()` (which fetches into a throw-away copy)."""
    known = consumer.partitions_for_topic(topic)
    if known is None:
        await consumer._client.add_topic(topic)  # the public API has no way to track a topic without subscribing
        known = consumer.partitions_for_topic(topic)
    return set(known or ())
