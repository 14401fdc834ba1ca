"""`clickstream` → validate → `<app>-profile-events` keyed by user_id (bad events → `dead-letters`).

Only when the clickstream is not keyed by user (REVIEWSTREAM_CLICKS_KEYED_BY_USER=false); otherwise the profile fold
reads the clickstream itself and repartitions just the clicks that arrive on another user's partition."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from faust.types import EventT, StreamT

from models.click import ClickEvent, parse_click
from models.errors import InvalidEvent
from models.forwarded_event import ForwardedEvent
from streams.app import (
    app,
    bounds,
    clickstream_topic,
    dead_letters,
    lag,
    metrics,
    profile_events_topic,
    reread,
    settings,
)
from streams.delivery.forwarding import forward_in_order
from streams.delivery.output import Output

__all__ = ["repartitioned_click", "route_click", "route_clicks"]


def route_click(event: EventT[Any]) -> Sequence[Output]:
    message = event.message
    try:
        click = parse_click(message.value, bounds=bounds)
    except InvalidEvent as exc:
        return [dead_letters.output(message, exc.reason, exc.detail, exc)]
    return [repartitioned_click(event, click)]


def repartitioned_click(event: EventT[Any], click: ClickEvent) -> Output:
    """The click on its way to its user's partition of the profile events, with where it came from."""
    message = event.message
    forwarded = ForwardedEvent(kind="click", source_topic=message.topic, source_partition=message.partition,
                             source_offset=message.offset, payload=click.to_dict())
    return Output(profile_events_topic, click.user_id, forwarded)


async def route_clicks(stream: StreamT[Any]) -> None:
    try:
        await forward_in_order(stream, route_click, metrics=metrics, agent="clickstream", dead_letters=dead_letters,
                               reader=reread, on_finished=lag.note_finished)
    except Exception as exc:
        # Unacked events are replayed after a restart; carrying on could skip them.
        await app.crash(exc)
        raise


if not settings.clicks_keyed_by_user:
    app.agent(clickstream_topic, name="clickstream")(route_clicks)
