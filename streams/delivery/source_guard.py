"""Is the source a forwarded event claims real? An offset at or past its partition's end offset cannot have been read
by a forwarder: it is garbage or a forgery, and folding it would make the fold skip that partition's real events
until their offsets caught up (the folds skip what is at or below the highest source offset they have seen).

>>> ends = SourceEnds(fetch=lambda tps: _answer({tp: 100 for tp in tps}))
>>> asyncio.run(ends.plausible(TP("clickstream", 0), 99)), asyncio.run(ends.plausible(TP("clickstream", 0), 10**12))
(True, False)

The known end offsets are cached; an offset beyond the cached end fetches the partition's end again (the end only
grows), so a stream that keeps up with its source costs one small request per catch-up, and one that lags costs
nothing.

While Kafka is away the fetch is tried again, with a growing delay, until it answers: the fold waits, as the producer
does. (Raised instead, the error left the fold agent, Faust's supervisor restarted the agent in the same worker, and
the event being folded was acknowledged without its fold: found by bench.chaos, a review missing from a profile after
a broker restart, whose end-offset request had timed out after 40 s.)
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.errors import KafkaConnectionError, KafkaTimeoutError, NodeNotReadyError, RequestTimedOutError
from faust.types import TP

from models.bounds import FieldBounds
from models.errors import InvalidEvent
from models.forwarded_event import ForwardedEvent, ForwardedSources, parse_forwarded_event
from streams.kafka.client import KafkaConnection, partitions_of

__all__ = ["EndOffsetsFetch", "ForwardedReader", "SourceEnds", "kafka_end_offsets"]

log = logging.getLogger(__name__)

EndOffsetsFetch = Callable[[list[TP]], Awaitable[dict[TP, int]]]

# What a broker that is away (stopped, restarting, unreachable) makes the fetch raise.
KAFKA_AWAY = (KafkaTimeoutError, KafkaConnectionError, NodeNotReadyError, RequestTimedOutError)
# Delays between tries while Kafka is away; the last one repeats.
RETRY_DELAYS_S = (0.5, 1.0, 2.0, 5.0)


async def _answer(value: dict[TP, int]) -> dict[TP, int]:
    return value


class SourceEnds:
    """End offsets of source partitions, fetched when an event names an offset beyond what is known."""

    def __init__(self, fetch: EndOffsetsFetch, retry_delays_s: tuple[float, ...] = RETRY_DELAYS_S) -> None:
        self._fetch = fetch
        self._ends: dict[TP, int] = {}
        self._retry_delays_s = retry_delays_s

    async def plausible(self, tp: TP, offset: int) -> bool:
        end = self._ends.get(tp)
        if end is not None and offset < end:
            return True
        self._ends.update(await self._fetch_while_away(tp))
        return offset < self._ends.get(tp, 0)

    async def _fetch_while_away(self, tp: TP) -> dict[TP, int]:
        attempt = 0
        while True:
            try:
                return await self._fetch([tp])
            except KAFKA_AWAY as exc:
                delay = self._retry_delays_s[min(attempt, len(self._retry_delays_s) - 1)]
                log.warning("end offset of %s[%s] not available (%s: %s); asking again in %.1f s", tp.topic,
                            tp.partition, type(exc).__name__, exc, delay)
                attempt += 1
                await asyncio.sleep(delay)


def kafka_end_offsets(connection: KafkaConnection) -> EndOffsetsFetch:
    """A fetch of end offsets through one long-lived consumer of our own (no group, nothing committed)."""
    consumer: AIOKafkaConsumer | None = None
    lock = asyncio.Lock()

    async def fetch(tps: list[TP]) -> dict[TP, int]:
        nonlocal consumer
        async with lock:
            if consumer is None:
                started = AIOKafkaConsumer(**connection.client_kwargs(), group_id=None, enable_auto_commit=False)
                await started.start()
                consumer = started
            # A partition the topic does not have (a forged one) has no end to ask for: nothing of it exists.
            existing = [TopicPartition(tp.topic, tp.partition) for tp in tps
                        if tp.partition in (await partitions_of(consumer, tp.topic))]
            if not existing:
                return {}
            # Any other error propagates: a broker away is no proof of forgery, and the event is retried after it.
            ends: dict[Any, int] = await consumer.end_offsets(existing)
        return {TP(tp.topic, tp.partition): end for tp, end in ends.items()}

    return fetch




class ForwardedReader:
    """Reads an internal message strictly (models/forwarded_event.py) and checks that the source offset it claims
    exists; raises `InvalidEvent` for anything that must not be folded."""

    def __init__(self, sources: ForwardedSources, bounds: FieldBounds, ends: SourceEnds) -> None:
        self.sources = sources
        self.bounds = bounds
        self.ends = ends

    async def read(self, raw: bytes | None) -> ForwardedEvent:
        event = parse_forwarded_event(raw, sources=self.sources, bounds=self.bounds)
        if event.kind != "tick" and not await self.ends.plausible(TP(event.source_topic, event.source_partition),
                                                                  event.source_offset):
            raise InvalidEvent("implausible_source", f"the event claims offset {event.source_offset} of "
                               f"{event.source_topic}[{event.source_partition}], which does not exist (yet)")
        return event
