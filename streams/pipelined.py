"""Many events in flight in one agent, acknowledged in offset order, with a bounded window.

Faust's `concurrency>1` can commit past an unfinished event (faust-streaming issue 606), so the agent stays a single
instance and concurrency lives here: each event is handled in its own task, at most `capacity` at once (when the
window is full, consumption waits: that is the backpressure), and acks are released per partition strictly in
offset order by `OrderedAcks`. A crash replays unfinished events; it never skips one.

Offsets the consumer skipped (streams/skipped_offsets.py) are read back with `reread` (streams/skipped_reader.py) when
the next event of the partition shows the hole, and handled like any other event, before that event: so the ack of
the event that revealed the hole, and with it the commit, waits until the missing ones are finished.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any, cast

from faust.streams import Stream
from faust.types import EventT, StreamT

from streams.metrics import Metrics
from streams.ordered_acks import OrderedAcks
from streams.skipped_offsets import SkipDetector
from streams.skipped_reader import RereadEvent, SkippedReader

__all__ = ["Handler", "PipelinedStream"]

log = logging.getLogger(__name__)


# With `reread`, the handler also gets `RereadEvent`s (typed as events here): it must read only `event.message`'s tp,
# topic, partition, offset, key, value and timestamp.
Handler = Callable[[EventT], Awaitable[None]]


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
        self._acks: OrderedAcks[EventT | RereadEvent] = OrderedAcks()
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
        skips = SkipDetector()

        async def start(event: EventT | RereadEvent) -> None:
            await window.acquire()
            message = event.message
            self.metrics.events_consumed.labels(message.topic).inc()
            self._acks.start(message.tp, message.offset, event, now=time.monotonic())
            task = asyncio.create_task(self._handle_one(manual, event, handle, window))
            tasks.add(task)
            task.add_done_callback(tasks.discard)

        try:
            async for event in manual.events():
                if self._reread is not None:
                    message = event.message
                    verdict, first_missing = skips.observe(stream.app.consumer_generation_id, message.tp,
                                                           message.offset)
                    if verdict == "again":
                        # Delivered again in the same generation (Faust sought back to the committed offset): the
                        # first delivery is in flight or done and acks in its turn. Not acked, not started (the
                        # ordered acks accept each offset once); Faust forgets the message once it is unreferenced.
                        continue
                    if verdict == "hole":
                        await self._read_back(stream, event, first_missing, start)
                        # The same hole again means "filled": the event now continues its partition's sequence.
                        skips.observe(stream.app.consumer_generation_id, message.tp, message.offset)
                await start(event)
        finally:
            for task in list(tasks):
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

    async def _read_back(self, stream: StreamT[Any], event: EventT, first_missing: int,
                         start: Callable[[EventT | RereadEvent], Awaitable[None]]) -> None:
        """Start the skipped events `first_missing` .. before `event`, read back from Kafka, in offset order."""
        assert self._reread is not None
        message = event.message
        log.error("%s[%s]: offsets %d..%d were skipped by the consumer; reading them back", message.topic,
                  message.partition, first_missing, message.offset - 1)
        self.metrics.skipped_offsets.labels(message.topic).inc(message.offset - first_missing)
        found = 0
        try:
            async for missing in self._reread(message.tp, first_missing, message.offset):
                await start(RereadEvent(missing))
                found += 1
        except Exception as exc:
            # The event that revealed the hole is not started, so nothing after the hole is acked: the commit stays
            # before it, and a restart replays the missing offsets from Kafka.
            log.critical("%s[%s]: reading back offsets %d..%d failed; stopping so that they are replayed",
                         message.topic, message.partition, first_missing, message.offset - 1, exc_info=True)
            if self._on_fatal is not None:
                await self._on_fatal(exc)
            raise
        if found < message.offset - first_missing:
            log.warning("%s[%s]: %d of offsets %d..%d exist (compacted, transaction markers or retention)",
                        message.topic, message.partition, found, first_missing, message.offset - 1)

    async def _handle_one(
        self, manual: StreamT[Any], event: EventT | RereadEvent, handle: Handler, window: asyncio.Semaphore
    ) -> None:
        message = event.message
        started = time.perf_counter()
        try:
            await handle(cast(EventT, event))
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
