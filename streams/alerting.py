"""Publishing what the alert rules decided, with its metrics (shared by the product and profile agents)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from models.alerts import Alert
from streams.app import alerts_topic, metrics
from streams.delivery.output import Output, send_output

__all__ = ["publish_alerts"]


class Decided(Protocol):
    """What a rule decided: `models.alerts.AlertOutcome`, `models.integrity.IntegrityOutcome`."""

    @property
    def alerts(self) -> Sequence[Alert]: ...

    @property
    def suppressed(self) -> Sequence[str]: ...


async def publish_alerts(outcome: Decided) -> None:
    # Sent without waiting, like the other fold outputs: Faust flushes the producer before it commits the input.
    for alert in outcome.alerts:
        await send_output(Output(alerts_topic, alert.alert_id, alert), metrics)
        metrics.alerts.labels(alert.kind, alert.status, alert.severity).inc()
    for kind in outcome.suppressed:
        metrics.alerts_suppressed.labels(kind).inc()
