"""Publishing what the alert rules decided, with its metrics (shared by the product and profile agents)."""

from __future__ import annotations

from models.alerts import AlertOutcome
from streams.app import alerts_topic, metrics
from streams.delivery.output import Output, send_output

__all__ = ["publish_alerts"]


async def publish_alerts(outcome: AlertOutcome) -> None:
    # Sent without waiting, like the other fold outputs: Faust flushes the producer before it commits the input.
    for alert in outcome.alerts:
        await send_output(Output(alerts_topic, alert.alert_id, alert), metrics)
        metrics.alerts.labels(alert.kind, alert.status, alert.severity).inc()
    for kind in outcome.suppressed:
        metrics.alerts_suppressed.labels(kind).inc()
