"""`ForwardedEvent`: what the workers send each other on the internal topics `<app>-profile-events` and
`<app>-product-events` — a click or an insight on its way to the partition that owns its user or product, with where
it originally came from, or a timer's `tick` — and its strict parser.

The profile and window folds skip anything at or below the highest offset they folded from the ORIGINAL
topic-partition, so when a forwarder replays after a crash (at-least-once), the copies change nothing. That makes the
claimed source a lever: a garbled or forged message with a huge `source_offset` would make a profile ignore that
partition's real events from then on. So internal messages are read as strictly as external ones — the payload by
the same parsers (`click_from_data`, `parse_insight`), the source against the topics it may name — and the agents
also check that the offset exists (streams/delivery/source_guard.py). A message that fails is a dead letter, never
folded.

>>> event = parse_forwarded_event(
...     b'{"kind": "tick", "source_topic": "tick", "source_partition": 2, "source_offset": -1, '
...     b'"payload": {"now": 1700000000}}', sources=ForwardedSources("clicks", "insights"), now=1700000000.0)
>>> event.kind, event.payload
('tick', {'now': 1700000000.0})
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final, Literal, get_args

import faust

from models.bounds import DEFAULT_BOUNDS, MAX_OFFSET, FieldBounds
from models.click import click_from_data
from models.errors import InvalidEvent
from models.insight import parse_insight
from models.integrity.wire import INTEGRITY_KINDS, parse_integrity_payload
from models.profile import SourceRef
from models.wire import bounded_int, decode_json_object, event_time

__all__ = ["TICK_SOURCE", "ForwardedEvent", "ForwardedKind", "ForwardedSources", "parse_forwarded_event"]

# The integrity kinds (review, text_match, taint, account_flag, band_probe) are described in models/integrity/wire.py.
ForwardedKind = Literal["click", "insight", "tick", "review", "text_match", "taint", "account_flag", "band_probe"]
_KINDS: Final[tuple[str, ...]] = get_args(ForwardedKind)
# The source topic a tick names: ticks come from a timer, not from a topic.
TICK_SOURCE: Final = "tick"
# More partitions than any topic has: a larger number is garbage, not a topic we have not heard of.
_MAX_PARTITION: Final = 1_000_000


class ForwardedEvent(faust.Record, include_metadata=False, serializer="json"):
    kind: str
    source_topic: str
    source_partition: int
    source_offset: int
    payload: dict[str, Any]

    @property
    def source(self) -> SourceRef:
        return SourceRef(self.source_topic, self.source_partition, self.source_offset)


@dataclass(frozen=True, slots=True)
class ForwardedSources:
    """The topics a forwarded event may name as its source, by kind: the topic the forwarding stage read it from.
    An integrity kind whose topic is not given ("") is never accepted."""

    clicks: str
    insights: str
    profile_events: str = ""
    product_events: str = ""
    integrity_bands: str = ""

    def allowed(self, kind: str) -> str:
        return {"click": self.clicks, "insight": self.insights, "tick": TICK_SOURCE,
                "review": self.profile_events, "taint": self.profile_events, "account_flag": self.product_events,
                "band_probe": self.product_events, "text_match": self.integrity_bands}[kind]


def parse_forwarded_event(raw: bytes | str | None, *, sources: ForwardedSources,
                          bounds: FieldBounds = DEFAULT_BOUNDS, now: float | None = None) -> ForwardedEvent:
    """Parse one internal message; raise `InvalidEvent` (reason `invalid_internal_event`, or the payload parser's
    own reason) when anything about it is wrong."""
    data = decode_json_object(raw)
    kind = data.get("kind")
    if kind not in _KINDS:
        raise InvalidEvent("invalid_internal_event", f"field 'kind' is {kind!r:.60}, not one of {', '.join(_KINDS)}")
    topic = data.get("source_topic")
    if not topic or topic != sources.allowed(kind):
        raise InvalidEvent("invalid_internal_event", f"a forwarded {kind} names source topic {topic!r:.80}; only "
                           f"{sources.allowed(kind)!r} forwards {kind}s")
    partition = bounded_int(data, "source_partition", low=0, high=_MAX_PARTITION)
    offset = bounded_int(data, "source_offset", low=-1 if kind == "tick" else 0,
                         high=-1 if kind == "tick" else MAX_OFFSET)
    if partition is None or offset is None:
        raise InvalidEvent("invalid_internal_event", "fields 'source_partition' and 'source_offset' are required")
    payload = data.get("payload")
    if not isinstance(payload, dict):
        raise InvalidEvent("invalid_internal_event", f"field 'payload' must be an object, got {type(payload).__name__}")
    if kind == "click":
        payload = click_from_data(payload, bounds=bounds, now=now).to_dict()
    elif kind == "insight":
        payload = parse_insight(payload, bounds=bounds, now=now)
    elif kind in INTEGRITY_KINDS:
        payload = parse_integrity_payload(kind, payload, bounds=bounds, now=now)
    else:
        tick_now = event_time(payload.get("now"), "now", bounds, now)
        if tick_now is None or set(payload) != {"now"}:
            raise InvalidEvent("invalid_internal_event", "a tick's payload is exactly {'now': <Unix time>}")
        payload = {"now": tick_now}
    return ForwardedEvent(kind=kind, source_topic=topic, source_partition=partition, source_offset=offset,
                          payload=payload)
