"""Many events in flight in one agent, acknowledged in offset order, with a bounded window.

Faust's `concurrency>1` can commit past an unfinished event (faust-streaming issue 606), so the agent stays a single
instance and concurrency lives here: each event is handled in its own task, at most `capacity` at once (when the
window is full, consumption waits: that is the backpressure), and acks are released per partition strictly in
offset order by `OrderedAcks`. A crash replays unfinished events; it never skips one.

Offsets the consumer skipped (streams/delivery/skipped_offsets.py) are read back with `reread`
(streams/delivery/skipped_reader.py) when the next event of the partition shows the hole, and handled like any other
event, before that event: so the ack of the event that revealed the hole, and with it the commit, waits until the
missing ones are finished.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, cast

from faust.streams import Stream
from faust.types import EventT, StreamT

from streams.delivery.forwarding import with_skipped
from streams.delivery.ordered_acks import OrderedAcks
from streams.delivery.skipped_reader import RereadEvent, SkippedReader
from streams.metrics import Metrics

__all__ = ["Handler", "PipelinedStream"]

log = logging.getLogger(__name__)


# With `reread`, the handler also gets `RereadEvent`s (typed as events here): it must read only `event.message`'s tp,
# topic, partition, offset, key, value and timestamp.
Handler = Callable[[EventT[Any]], Awaitable[None]]


class PipelinedStream:
    def __init__(self, *, capacity: int, agent: str, metrics: Metrics,
                 on_finished: Callable[[Any, float | None], None] | None = None,
                 on_fatal: Callable[[BaseException], Awaitable[None]] | None = None,
                 reread: SkippedReader | None = None) -> None:
        if capacity < 1:
            raise ValueError(f"capacity must be at least 1, got {capacity}")
        self.capacity = capacity
        self.agent = agent
        self.metrics = metrics
        self._acks: OrderedAcks[EventT[Any] | RereadEvent] = OrderedAcks()
        self._on_finished = on_finished
        self._on_fatal = on_fatal
        self._reread = reread
        metrics.in_flight_capacity.labels(agent).set(capacity)
        metrics.in_flight.labels(agent).set_function(lambda: self._acks.in_flight)
        metrics.oldest_in_flight_age.labels(agent).set_function(self._oldest_age)

    def _oldest_age(self) -> float:
        started = self._acks.oldest_started_at()
        return 0.0 if started is None else time.monotonic() - started

    async def run(self, stream: StreamT[Any], handle: Handler) -> None:
        window = asyncio.Semaphore(self.capacity)
        tasks: set[asyncio.Task[None]] = set()
        # `noack` exists on the concrete Stream only; the agent hands us one typed as the interface.
        manual = cast(Stream[Any], stream).noack()

        async def start(event: EventT[Any] | RereadEvent) -> None:
            await window.acquire()
            message = event.message
            self.metrics.events_consumed.labels(message.topic).inc()
            self._acks.start(message.tp, message.offset, event, now=time.monotonic())
            task = asyncio.create_task(self._handle_one(manual, event, handle, window))
            tasks.add(task)
            task.add_done_callback(tasks.discard)

        events: AsyncIterator[EventT[Any]] = manual.events()
        if self._reread is not None:
            # Re-deliveries in the same generation are left out: their first delivery acks in its turn (the ordered
            # acks accept each offset once). Read-back events come before the event that revealed the hole, so its
            # ack, and with it the commit, waits until they are finished.
            events = with_skipped(events, stream.app, self.metrics, self._reread, on_unreadable=self._on_fatal)
        try:
            async for event in events:
                await start(event)
        finally:
            for task in list(tasks):
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

    async def _handle_one(
        self, manual: StreamT[Any], event: EventT[Any] | RereadEvent, handle: Handler, window: asyncio.Semaphore
    ) -> None:
        message = event.message
        started = time.perf_counter()
        try:
            await handle(cast(EventT[Any], event))
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            # Handlers turn every expected failure into an output (dead letter included), so this is a bug or a
            # lost dependency. Acking would lose the event and skipping it would block its partition's commits for
            # good: stop the worker instead, so the event is replayed after a restart.
            log.critical("handler failed for %s[%s]@%s; stopping so that it is replayed after a restart",
                         message.topic, message.partition, message.offset, exc_info=True)
            window.release()
            if self._on_fatal is not None:
                await self._on_fatal(exc)
            return
        self.metrics.processing_duration.labels(self.agent).observe(time.perf_counter() - started)
        try:
            for ready in self._acks.finish(message.tp, message.offset):
                if not isinstance(ready, RereadEvent):  # Faust never delivered those: nothing to ack there
                    await manual.ack(ready)
                if self._on_finished is not None:
                    self._on_finished(ready.message.tp, ready.message.timestamp)
        except Exception as exc:
            # Never seen, but a slot that is not given back would shrink the window for good, silently.
            log.critical("acknowledging %s[%s]@%s failed; stopping", message.topic, message.partition,
                         message.offset, exc_info=True)
            if self._on_fatal is not None:
                await self._on_fatal(exc)
        finally:
            window.release()
