"""Forwarding events to other topics in their input order, acknowledging each only once Kafka has its outputs.

Used to repartition (clicks and insights by user, insights by product). Order matters: the folds downstream skip
anything at or below the highest source offset they have seen, so an event overtaking an earlier one of the same
source partition would make the earlier one look like a replay. Sends are therefore issued strictly in input order
(the producer keeps per-partition order), and acknowledgements wait, in the same order, for delivery; up to
`capacity` events are between the two, which keeps throughput close to a plain consume-produce loop.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any, cast

from faust.streams import Stream
from faust.types import EventT, StreamT, TopicT

from streams.metrics import Metrics
from streams.skipped_offsets import SkipDetector

__all__ = ["Output", "forward_in_order", "reread_skipped"]

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Output:
    topic: TopicT
    key: str
    value: Any


Route = Callable[[EventT], Sequence[Output]]


async def forward_in_order(
    stream: StreamT[Any],
    route: Route,
    *,
    metrics: Metrics,
    agent: str,
    capacity: int = 2000,
    on_finished: Callable[[Any, float | None], None] | None = None,
) -> None:
    """Send `route(event)` for each event, in order; ack each event after all its outputs are delivered."""
    manual = cast(Stream[Any], stream).noack()
    queue: asyncio.Queue[tuple[EventT, list[Awaitable[Any]]]] = asyncio.Queue(maxsize=capacity)
    metrics.in_flight_capacity.labels(agent).set(capacity)
    metrics.in_flight.labels(agent).set_function(queue.qsize)

    async def acknowledge() -> None:
        while True:
            event, deliveries = await queue.get()
            for delivery in deliveries:
                await delivery
            await manual.ack(event)
            if on_finished is not None:
                on_finished(event.message.tp, event.message.timestamp)

    acker = asyncio.create_task(acknowledge())
    skips = SkipDetector()
    try:
        async for event in manual.events():
            # A re-delivery after a seek (already forwarded), or the event after offsets the consumer skipped: it
            # comes again after them and is acked then (not now: an early ack could let the commit pass it).
            if await reread_skipped(skips, event, stream.app, metrics):
                continue
            metrics.events_consumed.labels(event.message.topic).inc()
            deliveries = []
            for output in route(event):
                # force=True: not attached to the current event (Faust would send it only when the event is acked).
                deliveries.append(await output.topic.send(key=output.key.encode("utf-8"), value=output.value,
                                                          force=True))
                metrics.events_produced.labels(output.topic.get_topic_name()).inc()
            await queue.put((event, deliveries))
            if acker.done():
                # The acker only stops on a failed delivery: stop consuming, the unacked events are replayed.
                acker.result()
    finally:
        acker.cancel()
        await asyncio.gather(acker, return_exceptions=True)


async def reread_skipped(skips: SkipDetector, event: EventT, app: Any, metrics: Metrics) -> bool:
    """True when the event is not to be processed now: a re-delivery of an offset already seen, or the first event
    after offsets the consumer skipped — then the consumer is sought back to the first missing one."""
    message = event.message
    verdict, offset = skips.observe(app.consumer_generation_id, message.tp, message.offset)
    if verdict == "hole":
        log.error("%s: offsets %d..%d were skipped by the consumer; reading them again", message.tp, offset,
                  message.offset - 1)
        metrics.skipped_offsets.labels(message.topic).inc(message.offset - offset)
        await app.consumer.seek(message.tp, offset)
    return verdict != "next"
