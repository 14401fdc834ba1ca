"""A secured local Kafka broker for tests: SASL_SSL with SCRAM users, mutual TLS and SASL_PLAINTEXT listeners.

The broker is the project's own (`deploy/kafka/kafka.sh` with `KAFKA_SECURITY=sasl_ssl`); this module starts it with
certificates made in a temporary folder and says what a client needs to reach it:

    broker = start_secure_kafka(port=19192, workdir=Path(tempfile.mkdtemp()))
    producer = AIOKafkaProducer(bootstrap_servers=broker.bootstrap, **broker.aiokafka_auth("SCRAM-SHA-256"))
    ...
    stop_secure_kafka(broker)

Tests use the session fixture `secure_kafka_broker` (tests/conftest.py), which does exactly that.

The SASL users exist from the moment the broker's data folder is formatted (Kafka >= 3.5 writes SCRAM credentials
into the KRaft metadata log at format time, KIP-900), so the first client can authenticate without an admin step.
"""

from __future__ import annotations

import os
import socket
import ssl
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aiokafka.helpers import create_ssl_context

ROOT = Path(__file__).resolve().parent.parent
KAFKA_SCRIPT = ROOT / "deploy" / "kafka" / "kafka.sh"

__all__ = ["SecureKafka", "read_security_env", "secure_test_port", "start_secure_kafka", "stop_secure_kafka"]


@dataclass(frozen=True)
class SecureKafka:
    """Where the secured broker listens and the credentials it accepts.

    `bootstrap` (SASL_SSL: SCRAM-SHA-256, SCRAM-SHA-512 or PLAIN over TLS; a client certificate is checked if sent),
    `ssl_bootstrap` (mutual TLS: `certfile`/`keyfile` required), `sasl_plaintext_bootstrap` (SASL without TLS).
    `cafile` signed the broker's certificate (for 127.0.0.1 and localhost); `untrusted_cafile` is another CA, which
    the broker's certificate does not chain to.
    """

    port: int
    ssl_port: int
    sasl_plaintext_port: int
    cafile: Path
    certfile: Path
    keyfile: Path
    untrusted_cafile: Path
    username: str
    password: str
    mechanisms: tuple[str, ...]
    # True when start_secure_kafka started the broker (and so stop_secure_kafka should stop it).
    started: bool
    host: str = "127.0.0.1"

    @property
    def bootstrap(self) -> str:
        return f"{self.host}:{self.port}"

    @property
    def broker_url(self) -> str:
        """The SASL_SSL listener as a Faust broker URL."""
        return f"kafka://{self.bootstrap}"

    @property
    def ssl_bootstrap(self) -> str:
        return f"{self.host}:{self.ssl_port}"

    @property
    def sasl_plaintext_bootstrap(self) -> str:
        return f"{self.host}:{self.sasl_plaintext_port}"

    def ssl_context(self, *, cafile: Path | None = None, client_certificate: bool = False) -> ssl.SSLContext:
        """A client TLS context trusting `cafile` (default: the broker's CA), with hostname checking on."""
        return create_ssl_context(
            cafile=str(cafile or self.cafile),
            certfile=str(self.certfile) if client_certificate else None,
            keyfile=str(self.keyfile) if client_certificate else None,
        )

    def aiokafka_auth(self, mechanism: str = "SCRAM-SHA-256", *, password: str | None = None,
                      cafile: Path | None = None) -> dict[str, Any]:
        """Keyword arguments for an aiokafka client of the SASL_SSL listener."""
        if mechanism not in self.mechanisms:
            raise ValueError(f"the test broker does not enable SASL mechanism {mechanism!r}; use one of "
                             f"{', '.join(self.mechanisms)}")
        return {"security_protocol": "SASL_SSL", "sasl_mechanism": mechanism,
                "sasl_plain_username": self.username,
                "sasl_plain_password": self.password if password is None else password,
                "ssl_context": self.ssl_context(cafile=cafile)}


def secure_test_port() -> int:
    """REVIEWSTREAM_TEST_SECURE_KAFKA_PORT, else 100 above the plain test broker's port (19092 → 19192)."""
    explicit = os.environ.get("REVIEWSTREAM_TEST_SECURE_KAFKA_PORT")
    if explicit:
        return int(explicit)
    return int(os.environ.get("REVIEWSTREAM_TEST_KAFKA_PORT", "19092")) + 100


def read_security_env(port: int) -> dict[str, str]:
    """What `kafka.sh up` recorded for the broker of `port` (.local/kafka-<port>/security.env), or {}."""
    path = ROOT / ".local" / f"kafka-{port}" / "security.env"
    if not path.is_file():
        return {}
    pairs = (line.split("=", 1) for line in path.read_text(encoding="utf-8").splitlines() if "=" in line)
    return {key: value for key, value in pairs}


def _port_open(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(0.5)
        return s.connect_ex(("127.0.0.1", port)) == 0


def _kafka_sh(verb: str, port: int, **env: str) -> None:
    subprocess.run([str(KAFKA_SCRIPT), verb], check=True, timeout=600,
                   env={**os.environ, "KAFKA_PORT": str(port), **env})


def start_secure_kafka(port: int, workdir: Path) -> SecureKafka:
    """Start the secured broker on `port` with certificates made in `workdir/ssl`, or join the one running there.

    A broker already running on `port` is used as it is, if kafka.sh started it with KAFKA_SECURITY=sasl_ssl
    (REVIEWSTREAM_TEST_KEEP_KAFKA=1 keeps it between sessions); anything else there is an error.
    """
    started = False
    if not _port_open(port):
        _kafka_sh("up", port, KAFKA_SECURITY="sasl_ssl", KAFKA_SSL_DIR=str(workdir / "ssl"))
        started = True
    recorded = read_security_env(port)
    if recorded.get("KAFKA_SECURITY") != "sasl_ssl":
        raise RuntimeError(
            f"port {port} is taken by a broker that was not started with KAFKA_SECURITY=sasl_ssl "
            f"({ROOT / '.local' / f'kafka-{port}' / 'security.env'} says {recorded.get('KAFKA_SECURITY')!r}); stop it "
            f"(KAFKA_PORT={port} deploy/kafka/kafka.sh down) or set REVIEWSTREAM_TEST_SECURE_KAFKA_PORT to a free port")
    cafile = Path(recorded["KAFKA_SSL_CAFILE"])
    if not cafile.is_file():
        raise RuntimeError(f"the secured broker on port {port} uses certificates from {cafile.parent}, which no longer "
                           f"exist; restart it: KAFKA_PORT={port} deploy/kafka/kafka.sh down")
    untrusted = workdir / "untrusted-ca"
    _kafka_sh("certs", port, KAFKA_SSL_DIR=str(untrusted))

    def listener_port(key: str) -> int:
        return int(recorded[key].rsplit(":", 1)[1])

    return SecureKafka(
        port=listener_port("KAFKA_SASL_SSL_BOOTSTRAP"),
        ssl_port=listener_port("KAFKA_SSL_BOOTSTRAP"),
        sasl_plaintext_port=listener_port("KAFKA_SASL_PLAINTEXT_BOOTSTRAP"),
        cafile=cafile,
        certfile=Path(recorded["KAFKA_SSL_CERTFILE"]),
        keyfile=Path(recorded["KAFKA_SSL_KEYFILE"]),
        untrusted_cafile=untrusted / "ca.pem",
        username=recorded["KAFKA_SASL_USERNAME"],
        password=recorded["KAFKA_SASL_PASSWORD"],
        mechanisms=tuple(recorded["KAFKA_SASL_MECHANISMS"].split(",")),
        started=started,
    )


def stop_secure_kafka(broker: SecureKafka) -> None:
    """Stop the broker if `start_secure_kafka` started it."""
    if broker.started:
        subprocess.run([str(KAFKA_SCRIPT), "down"], check=False, timeout=120,
                       env={**os.environ, "KAFKA_PORT": str(broker.port)})
