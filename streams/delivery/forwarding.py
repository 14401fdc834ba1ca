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
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from typing import Any, cast

from faust.streams import Stream
from faust.types import EventT, StreamT

from streams.compat.faust_internals import release_redelivery
from streams.delivery.dead_letters import DeadLetters
from streams.delivery.output import Output, OutputRejected, send_output
from streams.delivery.skipped_offsets import SkipDetector
from streams.delivery.skipped_reader import RereadEvent, SkippedReader
from streams.metrics import Metrics

__all__ = ["Route", "forward_in_order", "with_skipped"]

log = logging.getLogger(__name__)


Route = Callable[[EventT[Any]], Sequence[Output]]


async def forward_in_order(
    stream: StreamT[Any],
    route: Route,
    *,
    metrics: Metrics,
    agent: str,
    dead_letters: DeadLetters,
    capacity: int = 2000,
    reader: SkippedReader,
    on_finished: Callable[[Any, float | None], None] | None = None,
) -> None:
    """Send `route(event)` for each event, in order; ack each event after all its outputs are delivered. An output
    Kafka will never take (too large, not encodable) is replaced by the event's dead letter."""
    manual = cast(Stream[Any], stream).noack()
    queue: asyncio.Queue[tuple[EventT[Any] | RereadEvent, list[Awaitable[Any]]]] = asyncio.Queue(maxsize=capacity)
    metrics.in_flight_capacity.labels(agent).set(capacity)
    metrics.in_flight.labels(agent).set_function(queue.qsize)

    async def acknowledge() -> None:
        while True:
            event, deliveries = await queue.get()
            for delivery in deliveries:
                await delivery
            if not isinstance(event, RereadEvent):  # never delivered by Faust: nothing to ack there
                await manual.ack(event)
            if on_finished is not None:
                on_finished(event.message.tp, event.message.timestamp)

    acker = asyncio.create_task(acknowledge())
    try:
        async for event in with_skipped(manual.events(), stream.app, metrics, reader):
            metrics.events_consumed.labels(event.message.topic).inc()
            deliveries = [await _send_or_letter(output, event, metrics, dead_letters) for output in route(event)]
            await queue.put((event, deliveries))
            if acker.done():
                # The acker only stops on a failed delivery: stop consuming, the unacked events are replayed.
                acker.result()
    except Exception as exc:
        # Not an agent restarted in place by Faust's supervisor, with the queued events never acknowledged: the
        # worker stops and they are replayed after its restart (streams/delivery/fold_loop.py says more).
        log.critical("%s: forwarding stopped on %s: %s; stopping the worker so that the %d events queued are replayed "
                     "after a restart", agent, type(exc).__name__, exc, queue.qsize(), exc_info=True)
        await stream.app.crash(exc)
        raise
    finally:
        acker.cancel()
        await asyncio.gather(acker, return_exceptions=True)


async def _send_or_letter(output: Output, event: EventT[Any] | RereadEvent, metrics: Metrics,
                          dead_letters: DeadLetters) -> Awaitable[Any]:
    instead = dead_letters.instead(event.message, stage="publish")
    while True:
        try:
            return await send_output(output, metrics)
        except OutputRejected as rejection:
            replacement = instead(rejection)
            if replacement is None:
                raise
            output = replacement


async def with_skipped(
    events: AsyncIterator[EventT[Any]],
    app: Any,
    metrics: Metrics,
    reader: SkippedReader,
    decode: Callable[[bytes | None], Any] | None = None,
    on_unreadable: Callable[[BaseException], Awaitable[None]] | None = None,
) -> AsyncIterator[EventT[Any]]:
    """The agent's events, with offsets the consumer skipped read back from Kafka and yielded, in offset order,
    before the event that revealed the hole; re-deliveries in the same consumer generation are left out.

    An agent that handles one event at a time is safe as it is: Faust acks the event that revealed the hole only after
    the agent asks for the next one, so the commit cannot pass the missing offsets before they are handled; one with
    many in flight orders its acks by offset (streams/delivery/pipelined.py). The read-back ones have nothing to ack
    in Faust (its gap bookkeeping already counts them as done). Faust's consumer is not sought back: its fetch loop
    would undo the seek with the rest of a batch it fetched before (streams/delivery/skipped_reader.py). `decode`
    fills `RereadEvent.value` for agents that read the decoded value. A `RereadEvent` is typed as the Faust event it
    stands for: handlers read only its `message` fields and `value`. If reading back fails, `on_unreadable` is
    awaited and the error raised: the event that revealed the hole is not yielded, so nothing past the hole is acked
    and a restart replays the missing offsets."""
    skips = SkipDetector()
    async for event in events:
        message = event.message
        verdict, first_missing = skips.observe(app.consumer_generation_id, message.tp, message.offset)
        if verdict == "again":
            release_redelivery(message)
            continue
        if verdict == "hole":
            log.error("%s[%s]: offsets %d..%d were skipped by the consumer; reading them back", message.topic,
                      message.partition, first_missing, message.offset - 1)
            metrics.skipped_offsets.labels(message.topic).inc(message.offset - first_missing)
            found = 0
            try:
                async for missing in reader(message.tp, first_missing, message.offset):
                    found += 1
                    yield cast(EventT[Any], RereadEvent(missing, decode(missing.value) if decode else None))
            except Exception as exc:
                log.critical("%s[%s]: reading back offsets %d..%d failed; stopping so that they are replayed",
                             message.topic, message.partition, first_missing, message.offset - 1, exc_info=True)
                if on_unreadable is not None:
                    await on_unreadable(exc)
                raise
            if found < message.offset - first_missing:
                log.warning("%s[%s]: %d of offsets %d..%d exist (compacted, transaction markers or retention)",
                            message.topic, message.partition, found, first_missing, message.offset - 1)
            # The same hole again means "filled": the event now continues its partition's sequence.
            skips.observe(app.consumer_generation_id, message.tp, message.offset)
        yield event
