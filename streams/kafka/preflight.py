"""One connection to the brokers before the worker starts, so that a wrong password, an untrusted CA or a mismatched
listener fails at once with a message that says which and what to set — not a retry loop, and not aiokafka's
"Unable to bootstrap" with the reason in a log line.

aiokafka's clients report every start-up failure as the same `KafkaConnectionError("Unable to bootstrap from ...")`
and log the cause; one level down, `aiokafka.conn.create_conn` raises the cause itself:
`SaslAuthenticationFailed` for a refused login, `ssl.SSLCertVerificationError` for a certificate the CA file does
not trust (or that does not name the host), `KafkaConnectionError("... closed")` when the protocols differ, and an
`OSError` when nothing listens. Measured against the project's SASL_SSL broker: each fails within half a second.
"""

from __future__ import annotations

import asyncio
import logging
import ssl

from aiokafka.conn import create_conn
from aiokafka.errors import KafkaConnectionError, KafkaError, SaslAuthenticationFailed

from streams.kafka.client import KafkaConnection

__all__ = ["KafkaUnreachable", "preflight"]

log = logging.getLogger(__name__)


class KafkaUnreachable(RuntimeError):
    """No broker of the configured list accepts this worker's connection settings; the message says why."""


async def preflight(connection: KafkaConnection, *, timeout_s: float = 15.0) -> None:
    """Return once one broker accepted a connection (TLS handshake and SASL login included); raise
    `KafkaUnreachable` with the reason of each broker otherwise."""
    reasons = []
    for server in connection.servers:
        host, _, port = server.rpartition(":")
        kwargs = {k: v for k, v in connection.client_kwargs().items() if k != "bootstrap_servers"}
        try:
            conn = await asyncio.wait_for(
                create_conn(host, int(port), request_timeout_ms=int(timeout_s * 1000), client_id="reviewstream-check",
                            **kwargs), timeout_s)
        except (KafkaError, OSError, TimeoutError) as exc:
            reasons.append(f"{server}: {_explain(exc, connection)}")
            continue
        conn.close()
        return
    raise KafkaUnreachable("cannot connect to Kafka — " + "; ".join(reasons))


def _explain(exc: BaseException, connection: KafkaConnection) -> str:
    protocol = connection.security_protocol
    if isinstance(exc, SaslAuthenticationFailed):
        return (f"the broker refused the login of user {connection.sasl_username!r} with {connection.sasl_mechanism} "
                f"({exc}); check REVIEWSTREAM_KAFKA_SASL_USERNAME, _PASSWORD and _MECHANISM")
    if isinstance(exc, ssl.SSLCertVerificationError):
        if "match" in str(exc).lower() or "hostname" in str(exc).lower():
            return (f"the broker's certificate does not name this host ({exc.verify_message}); connect by a name "
                    f"it holds, or set REVIEWSTREAM_KAFKA_SSL_CHECK_HOSTNAME=false if you must")
        source = f"the CA file {connection.ssl_cafile}" if connection.ssl_cafile else "the system's trusted CAs"
        return (f"the broker's certificate is not trusted by {source} ({exc.verify_message}); set "
                f"REVIEWSTREAM_KAFKA_SSL_CAFILE to the CA that signed it")
    if isinstance(exc, ssl.SSLError):
        return f"the TLS handshake failed ({exc}); does the listener expect {protocol}?"
    if isinstance(exc, KafkaConnectionError | ConnectionResetError):
        return (f"the broker closed the connection ({exc}); does REVIEWSTREAM_KAFKA_SECURITY_PROTOCOL={protocol} "
                f"match this listener (and does it need a client certificate)?")
    if isinstance(exc, TimeoutError):
        return f"no answer within the time allowed; is {protocol} right for this port, and is the broker up?"
    if isinstance(exc, OSError):
        return f"cannot reach the broker ({exc.strerror or exc}); is it running, and is REVIEWSTREAM_BROKER right?"
    return f"{type(exc).__name__}: {exc}"
