"""Offsets the consumer skipped, in the pipelined (many in flight, ordered acks) agent: streams/delivery/pipelined.py
with a fake stream and a fake read-back. Each handler call waits for the test to finish it, so the order in which events
finish is explicit."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from faust.types import TP

from streams.delivery.pipelined import PipelinedStream
from streams.delivery.skipped_reader import RereadEvent, RereadMessage
from streams.metrics import Metrics

P0 = TP("reviews", 0)
P1 = TP("reviews", 1)
DEADLINE_S = 5.0


def FakeMessage(tp: TP, offset: int) -> RereadMessage:
    """A Faust message as the agents read it: the read-back message type has exactly those fields."""
    return RereadMessage(tp=tp, offset=offset, key=None, value=b"{}", timestamp=1.0)


@dataclass
class FakeEvent:
    message: RereadMessage


@dataclass
class FakeApp:
    consumer_generation_id: int = 1
    # What `app.crash` was given: an agent that cannot go on stops the worker.
    crashed: list[BaseException] = field(default_factory=list)

    async def crash(self, reason: BaseException) -> None:
        self.crashed.append(reason)


@dataclass
class FakeStream:
    """What PipelinedStream uses of a Faust stream: noack(), events(), ack() and app.consumer_generation_id."""

    app: FakeApp = field(default_factory=FakeApp)
    inbox: asyncio.Queue[FakeEvent | None] = field(default_factory=asyncio.Queue)
    acked: list[tuple[TP, int]] = field(default_factory=list)

    def noack(self) -> FakeStream:
        return self

    async def events(self) -> AsyncIterator[FakeEvent]:
        while (event := await self.inbox.get()) is not None:
            yield event

    async def ack(self, event: FakeEvent) -> None:
        self.acked.append((event.message.tp, event.message.offset))

    def deliver(self, tp: TP, *offsets: int) -> None:
        for offset in offsets:
            self.inbox.put_nowait(FakeEvent(FakeMessage(tp, offset)))


class Handler:
    """Records each call and holds it until `finish(tp, offset)`."""

    def __init__(self) -> None:
        self.started: asyncio.Queue[tuple[TP, int, bool]] = asyncio.Queue()
        self.calls: list[tuple[TP, int]] = []
        self.running = 0
        self.max_running = 0
        self._gates: dict[tuple[TP, int], asyncio.Event] = {}

    def _gate(self, tp: TP, offset: int) -> asyncio.Event:
        return self._gates.setdefault((tp, offset), asyncio.Event())

    async def __call__(self, event: Any) -> None:
        message = event.message
        self.calls.append((message.tp, message.offset))
        self.running += 1
        self.max_running = max(self.max_running, self.running)
        self.started.put_nowait((message.tp, message.offset, isinstance(event, RereadEvent)))
        try:
            await self._gate(message.tp, message.offset).wait()
        finally:
            self.running -= 1

    def finish(self, tp: TP, *offsets: int) -> None:
        for offset in offsets:
            self._gate(tp, offset).set()

    async def next_started(self) -> tuple[TP, int, bool]:
        return await asyncio.wait_for(self.started.get(), DEADLINE_S)


class Reader:
    """Fake read-back: yields the offsets of [start, end) listed in `present` (all of them by default)."""

    def __init__(self, present: set[int] | None = None, error: Exception | None = None) -> None:
        self.present = present
        self.error = error
        self.calls: list[tuple[TP, int, int]] = []

    async def __call__(self, tp: TP, start: int, end: int) -> AsyncIterator[RereadMessage]:
        self.calls.append((tp, start, end))
        for offset in range(start, end):
            if self.error is not None:
                raise self.error
            if self.present is None or offset in self.present:
                yield RereadMessage(tp=tp, offset=offset, key=None, value=b"{}", timestamp=2.0)


async def wait_until(predicate: Any) -> None:
    """Lets the pipeline's tasks run until `predicate()` holds (no wall-clock sleeping), or fails."""
    for _ in range(10_000):
        if predicate():
            return
        await asyncio.sleep(0)
    raise AssertionError("condition not reached")


async def run_pipeline(stream: FakeStream, handler: Handler, *, capacity: int = 16,
                       reader: Reader | None = None, fatal: list[BaseException] | None = None,
                       metrics: Metrics | None = None) -> tuple[PipelinedStream, asyncio.Task[None]]:
    async def on_fatal(exc: BaseException) -> None:
        if fatal is not None:
            fatal.append(exc)

    pipeline = PipelinedStream(capacity=capacity, agent="reviews", metrics=metrics or Metrics(), on_fatal=on_fatal,
                               reread=reader or Reader())
    task = asyncio.create_task(pipeline.run(stream, handler))  # type: ignore[arg-type]
    return pipeline, task


async def stop(stream: FakeStream, task: asyncio.Task[None]) -> None:
    stream.inbox.put_nowait(None)
    await asyncio.wait_for(task, DEADLINE_S)


async def test_skipped_offsets_are_handled_before_the_event_that_revealed_them_and_hold_its_ack() -> None:
    stream, handler, reader, metrics = FakeStream(), Handler(), Reader(), Metrics()
    pipeline, task = await run_pipeline(stream, handler, reader=reader, metrics=metrics)
    stream.deliver(P0, 10, 11, 15, 16)  # 12..14 never delivered
    started = [await handler.next_started() for _ in range(6)]
    assert [(o, reread) for _, o, reread in started] == [(10, False), (11, False), (12, True), (13, True),
                                                          (14, True), (15, False)]
    assert reader.calls == [(P0, 12, 15)]
    assert metrics.skipped_offsets.labels("reviews")._value.get() == 3

    handler.finish(P0, 10, 11, 15, 16)  # everything Faust delivered is done; the read-back ones still run
    await wait_until(lambda: (P0, 11) in stream.acked)
    await handler.next_started()  # 16
    assert stream.acked == [(P0, 10), (P0, 11)], "15 must wait for 12..14, or the commit would pass them"
    handler.finish(P0, 14, 13)
    await wait_until(lambda: handler.running == 1)
    assert stream.acked == [(P0, 10), (P0, 11)]
    handler.finish(P0, 12)
    await wait_until(lambda: len(stream.acked) == 4)
    # Read-back events have nothing to ack in Faust; the real ones are acked in offset order.
    assert stream.acked == [(P0, 10), (P0, 11), (P0, 15), (P0, 16)]
    assert pipeline._acks.in_flight == 0
    await stop(stream, task)


async def test_read_back_takes_window_slots_and_gives_each_back_once() -> None:
    stream, handler = FakeStream(), Handler()
    pipeline, task = await run_pipeline(stream, handler, capacity=2)
    stream.deliver(P0, 0, 5, 6)  # 1..4 skipped
    assert (await handler.next_started())[1] == 0
    assert (await handler.next_started())[1] == 1
    for offset in range(0, 7):
        # finish one at a time, in order: the next starts only when a slot is free
        handler.finish(P0, offset)
        if offset < 5:
            assert (await handler.next_started())[1] == offset + 2
    await wait_until(lambda: pipeline._acks.in_flight == 0)
    assert handler.max_running == 2
    assert handler.calls == [(P0, o) for o in range(7)]
    assert stream.acked == [(P0, 0), (P0, 5), (P0, 6)]

    # The window is whole again: two more events run at once.
    stream.deliver(P0, 7, 8)
    assert [(await handler.next_started())[1] for _ in range(2)] == [7, 8]
    assert handler.running == 2
    handler.finish(P0, 7, 8)
    await stop(stream, task)


async def test_redelivery_in_the_same_generation_is_neither_handled_again_nor_acked_twice() -> None:
    stream, handler = FakeStream(), Handler()
    _pipeline, task = await run_pipeline(stream, handler)
    stream.deliver(P0, 3, 4, 5)
    for _ in range(3):
        await handler.next_started()
    handler.finish(P0, 3)
    await wait_until(lambda: stream.acked == [(P0, 3)])
    stream.deliver(P0, 3, 4, 5, 6)  # Faust sought back to the committed offset: 4 and 5 are still in flight
    assert (await handler.next_started())[1] == 6
    handler.finish(P0, 4, 5, 6)
    await wait_until(lambda: len(stream.acked) == 4)
    assert stream.acked == [(P0, o) for o in (3, 4, 5, 6)]
    assert handler.calls == [(P0, o) for o in (3, 4, 5, 6)]
    await stop(stream, task)


async def test_first_event_of_a_partition_and_of_a_new_generation_is_taken_as_it_comes() -> None:
    stream, handler, reader = FakeStream(), Handler(), Reader()
    pipeline, task = await run_pipeline(stream, handler, reader=reader)
    stream.deliver(P0, 100)  # the committed offset is not known here: no hole is assumed before the first event
    stream.deliver(P1, 7, 8)
    for _ in range(3):
        await handler.next_started()
    handler.finish(P0, 100)
    handler.finish(P1, 7, 8)
    await wait_until(lambda: len(stream.acked) == 3)

    # Two rebalances later: the partitions may have been another worker's meanwhile (one rebalance later they could
    # not: see test_skipped_offsets.py).
    stream.app.consumer_generation_id = 3
    stream.deliver(P0, 100, 101)  # replayed from the committed offset: handled again (a duplicate insight at worst)
    stream.deliver(P1, 40)  # a jump across a rebalance is not a hole either
    started = {(tp, o) for tp, o, _ in [await handler.next_started() for _ in range(3)]}
    assert started == {(P0, 100), (P0, 101), (P1, 40)}
    assert reader.calls == []
    handler.finish(P0, 100, 101)
    handler.finish(P1, 40)
    await wait_until(lambda: len(stream.acked) == 6)
    assert pipeline._acks.in_flight == 0
    await stop(stream, task)


async def test_a_hole_the_read_back_cannot_fill_is_accepted_once_read() -> None:
    stream, handler = FakeStream(), Handler()
    reader = Reader(present={21})  # 20 and 22 do not exist (transaction markers, compaction)
    _pipeline, task = await run_pipeline(stream, handler, reader=reader)
    stream.deliver(P0, 19, 23, 24)
    assert [(await handler.next_started())[1] for _ in range(4)] == [19, 21, 23, 24]
    handler.finish(P0, 24, 23, 21, 19)
    await wait_until(lambda: len(stream.acked) == 3)
    assert stream.acked == [(P0, 19), (P0, 23), (P0, 24)]
    assert reader.calls == [(P0, 20, 23)]
    await stop(stream, task)


async def test_a_failed_read_back_stops_the_worker_without_acking_past_the_hole() -> None:
    stream, handler = FakeStream(), Handler()
    fatal: list[BaseException] = []
    _pipeline, task = await run_pipeline(stream, handler, reader=Reader(error=OSError("broker gone")), fatal=fatal)
    stream.deliver(P0, 1, 2)
    assert [(await handler.next_started())[1] for _ in range(2)] == [1, 2]
    handler.finish(P0, 1, 2)
    await wait_until(lambda: len(stream.acked) == 2)
    stream.deliver(P0, 9)
    with pytest.raises(OSError, match="broker gone"):
        await asyncio.wait_for(task, DEADLINE_S)
    assert [type(e) for e in fatal] == [OSError]
    assert stream.acked == [(P0, 1), (P0, 2)], "nothing after the hole may be acked"
    assert (P0, 9) not in handler.calls
