"""The micro-batching fold loop (streams/delivery/fold_loop.py) with a fake stream: batches are what is ready, split by
partition in offset order, with an event of that partition current for Faust's tables; acks only after the fold
returned, in order; a failing batch is refolded one event at a time and only the poison pill dead-lettered."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from typing import Any, cast

import pytest
from aiokafka.errors import KafkaConnectionError
from faust import streams as faust_streams
from faust.types import TP

from streams.compat.current_event import current_event
from streams.delivery.dead_letters import DeadLetters
from streams.delivery.fold_loop import run_fold_loop
from streams.delivery.skipped_reader import RereadMessage
from streams.metrics import Metrics
from tests.unit.test_pipelined_skips import FakeApp, FakeEvent

P0 = TP("clicks", 0)
P1 = TP("clicks", 1)
DEADLINE_S = 5.0


@dataclass
class FakeChannel:
    queue: asyncio.Queue[FakeEvent | None]


@dataclass
class FakeStream:
    """What the loop uses of a Faust stream: noack(), events(), ack(), channel.queue (the events delivered and not
    yet iterated) and app.consumer_generation_id. Like Faust's, the iteration yields to the event loop before each
    event."""

    app: FakeApp = field(default_factory=FakeApp)
    inbox: asyncio.Queue[FakeEvent | None] = field(default_factory=asyncio.Queue)
    acked: list[tuple[TP, int]] = field(default_factory=list)

    @property
    def channel(self) -> FakeChannel:
        return FakeChannel(self.inbox)

    def noack(self) -> FakeStream:
        return self

    async def events(self) -> AsyncIterator[FakeEvent]:
        while True:
            await asyncio.sleep(0)
            if (event := await self.inbox.get()) is None:
                return
            yield event

    async def ack(self, event: FakeEvent) -> None:
        self.acked.append((event.message.tp, event.message.offset))

    def deliver(self, tp: TP, *offsets: int) -> None:
        for offset in offsets:
            self.inbox.put_nowait(FakeEvent(RereadMessage(tp=tp, offset=offset, key=None, value=b"{}",
                                                          timestamp=1.0)))


class Letters:
    def __init__(self) -> None:
        self.sent: list[tuple[int, str]] = []

    async def send(self, event: Any, exc: BaseException, *, stage: str) -> None:
        self.sent.append((event.message.offset, f"{stage}: {exc}"))


class Fold:
    """Records each call (partition, offsets, whether the current event is of that partition); can hold a call
    until released, and raise for chosen offsets."""

    def __init__(self, poison: set[int] | None = None, error: type[Exception] = RuntimeError) -> None:
        self.calls: list[tuple[int, list[int]]] = []
        self.current_ok: list[bool] = []
        self.poison = poison or set()
        self.error = error
        self.gate: asyncio.Event | None = None
        self.entered = asyncio.Event()

    async def __call__(self, partition: int, events: Sequence[Any]) -> None:
        current = faust_streams.current_event()
        self.current_ok.append(current is not None and current.message.partition == partition)
        offsets = [event.message.offset for event in events]
        self.entered.set()
        if self.gate is not None:
            await self.gate.wait()
        if self.poison & set(offsets):
            raise self.error(f"planted bug at {sorted(self.poison & set(offsets))}")
        self.calls.append((partition, offsets))


async def read_back(tp: TP, start: int, end: int) -> AsyncIterator[RereadMessage]:
    for offset in range(start, end):
        yield RereadMessage(tp=tp, offset=offset, key=None, value=b"{}", timestamp=2.0)


def start_loop(stream: FakeStream, fold: Fold, letters: Letters | None = None, *, max_batch: int = 100,
               finished: list[tuple[TP, int]] | None = None) -> asyncio.Task[None]:
    def on_finished(tp: Any, _timestamp: float | None) -> None:
        if finished is not None:
            finished.append(tp)

    return asyncio.create_task(run_fold_loop(
        stream, fold, app=stream.app, metrics=Metrics(), reader=read_back,  # type: ignore[arg-type]
        dead_letters=cast(DeadLetters, letters or Letters()), agent="profiles", max_batch=max_batch,
        poison_attempts=3, on_finished=on_finished))


async def stop(stream: FakeStream, task: asyncio.Task[None]) -> None:
    stream.inbox.put_nowait(None)
    await asyncio.wait_for(task, DEADLINE_S)


async def test_what_is_ready_is_one_batch_split_by_partition_in_offset_order_and_acked_after_the_fold() -> None:
    stream, fold = FakeStream(), Fold()
    stream.deliver(P0, 0, 1)
    stream.deliver(P1, 7)
    stream.deliver(P0, 2)
    stream.deliver(P1, 8)
    task = start_loop(stream, fold)
    await stop(stream, task)
    assert fold.calls == [(0, [0, 1, 2]), (1, [7, 8])]
    assert all(fold.current_ok), "an event of the folded partition is Faust's current event"
    assert stream.acked == [(P0, 0), (P0, 1), (P1, 7), (P0, 2), (P1, 8)]


async def test_nothing_is_acked_before_the_fold_returns() -> None:
    stream, fold = FakeStream(), Fold()
    fold.gate = asyncio.Event()
    stream.deliver(P0, 0, 1, 2)
    task = start_loop(stream, fold)
    await asyncio.wait_for(fold.entered.wait(), DEADLINE_S)
    stream.deliver(P0, 3)  # arrives while the batch is folded: the next batch
    for _ in range(50):
        await asyncio.sleep(0)
    assert stream.acked == []
    fold.gate.set()
    await stop(stream, task)
    assert [offsets for _, offsets in fold.calls] == [[0, 1, 2], [3]]
    assert stream.acked == [(P0, offset) for offset in range(4)]


async def test_a_batch_holds_at_most_max_batch_events() -> None:
    stream, fold = FakeStream(), Fold()
    stream.deliver(P0, *range(7))
    task = start_loop(stream, fold, max_batch=3)
    await stop(stream, task)
    assert [len(offsets) for _, offsets in fold.calls] == [3, 3, 1]
    assert [offset for _, offset in stream.acked] == list(range(7))


async def test_a_poison_pill_is_dead_lettered_alone_and_the_rest_is_folded() -> None:
    stream, fold, letters = FakeStream(), Fold(poison={2}), Letters()
    stream.deliver(P0, 0, 1, 2, 3)
    stream.deliver(P1, 5)
    task = start_loop(stream, fold, letters)
    await stop(stream, task)
    assert fold.calls == [(0, [0]), (0, [1]), (0, [3]), (1, [5])]
    assert letters.sent == [(2, "fold: planted bug at [2]")]
    assert [offset for _, offset in stream.acked] == [0, 1, 2, 3, 5], "the poison pill is acked with its letter"


async def test_an_event_that_fails_alone_gets_the_configured_attempts_in_all() -> None:
    attempts: list[int] = []

    async def failing(partition: int, events: Sequence[Any]) -> None:
        attempts.append(events[0].message.offset)
        raise ValueError("always")

    stream, letters = FakeStream(), Letters()
    stream.deliver(P0, 4)
    task = asyncio.create_task(run_fold_loop(
        stream, failing, app=stream.app, metrics=Metrics(), reader=read_back,  # type: ignore[arg-type]
        dead_letters=cast(DeadLetters, letters), agent="profiles", max_batch=10, poison_attempts=3))
    await stop(stream, task)
    assert attempts == [4, 4, 4]
    assert letters.sent == [(4, "fold: always")]


async def test_an_infrastructure_error_stops_the_loop_with_nothing_acked() -> None:
    stream, fold = FakeStream(), Fold(poison={1}, error=KafkaConnectionError)
    stream.deliver(P0, 0, 1)
    task = start_loop(stream, fold)
    with pytest.raises(KafkaConnectionError):
        await asyncio.wait_for(task, DEADLINE_S)
    assert stream.acked == []
    assert [type(reason) for reason in stream.app.crashed] == [KafkaConnectionError], (
        "the worker stops: an agent restarted in place would keep the held events unacknowledged")


async def test_offsets_the_consumer_skipped_are_folded_before_the_event_that_revealed_them() -> None:
    stream, fold, finished = FakeStream(), Fold(), []
    stream.deliver(P0, 0, 4)
    task = start_loop(stream, fold, finished=finished, max_batch=2)
    await stop(stream, task)
    assert [offset for _, offsets in fold.calls for offset in offsets] == [0, 1, 2, 3, 4]
    assert all(fold.current_ok)
    assert stream.acked == [(P0, 0), (P0, 4)], "read-back events have nothing to ack in Faust"
    assert len(finished) == 5


async def test_current_event_restores_the_previous_one() -> None:
    first = FakeEvent(RereadMessage(tp=P0, offset=1, key=None, value=None, timestamp=0.0))
    second = FakeEvent(RereadMessage(tp=P1, offset=2, key=None, value=None, timestamp=0.0))
    with current_event(first):
        with current_event(second):
            assert faust_streams.current_event() is second
        assert faust_streams.current_event() is first
    assert faust_streams.current_event() is not first


def test_max_batch_must_be_positive() -> None:
    with pytest.raises(ValueError, match="max_batch"):
        asyncio.run(run_fold_loop(FakeStream(), Fold(), app=FakeApp(), metrics=Metrics(),  # type: ignore[arg-type]
                                  reader=read_back, dead_letters=cast(DeadLetters, Letters()), agent="x", max_batch=0,
                                  poison_attempts=1))

