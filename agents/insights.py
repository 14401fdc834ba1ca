"""`review-insights` → by user to `<app>-profile-events`, urgent ones to `support-queue`.

Insights are keyed by review_id; profiles live in a table partitioned by user, so each insight is forwarded to the
partition that owns its user. The profile agent sends it on to its product's partition with its author's integrity
evidence (agents/profiles.py): the product stage judges a review before it counts in the product's windows.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from faust.types import EventT, StreamT

from models.errors import InvalidEvent
from models.forwarded_event import ForwardedEvent
from models.insight import parse_insight
from models.wire import decode_json_object
from streams.app import (
    app,
    bounds,
    dead_letters,
    insights_in_topic,
    metrics,
    profile_events_topic,
    reread,
    settings,
    support_queue_topic,
)
from streams.delivery.forwarding import forward_in_order
from streams.delivery.output import Output

__all__ = ["route_insight", "route_insights"]


def route_insight(event: EventT[Any]) -> Sequence[Output]:
    message = event.message
    try:
        insight = parse_insight(decode_json_object(message.value), bounds=bounds)
    except InvalidEvent as exc:
        # Not ours (we only write valid insights), but a stranger may write to the topic.
        return [dead_letters.output(message, exc.reason, exc.detail, exc)]
    user_id = insight["user_id"]
    forwarded = ForwardedEvent(kind="insight", source_topic=message.topic, source_partition=message.partition,
                             source_offset=message.offset, payload=insight)
    outputs = [Output(profile_events_topic, user_id, forwarded)]
    urgency = insight.get("urgency")
    if urgency in settings.support_queue_urgency:
        # The support desk reads its queue, not the analytics stream; the insight carries the reply draft.
        outputs.append(Output(support_queue_topic, str(insight["review_id"]), insight))
        metrics.support_tickets.labels(str(urgency)).inc()
    return outputs


@app.agent(insights_in_topic, name="insights")
async def route_insights(stream: StreamT[Any]) -> None:
    try:
        await forward_in_order(stream, route_insight, metrics=metrics, agent="insights", dead_letters=dead_letters,
                               reader=reread)
    except Exception as exc:
        await app.crash(exc)
        raise
