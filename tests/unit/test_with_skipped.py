"""Offsets the consumer skipped, in the agents that handle one event at a time (forwarders, folds):
streams/delivery/forwarding.py `with_skipped` with fake events and a fake read-back (no Kafka)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest
from faust.types import TP

from streams.delivery.forwarding import with_skipped
from streams.delivery.skipped_reader import RereadEvent, RereadMessage
from streams.metrics import Metrics
from tests.unit.test_pipelined_skips import FakeApp, FakeEvent, FakeMessage

P0 = TP("clicks", 0)
P1 = TP("clicks", 1)


class Reader:
    """Serves offsets from a fake partition log; `absent` offsets do not exist (compaction, markers)."""

    def __init__(self, absent: set[int] = frozenset()) -> None:  # type: ignore[assignment]
        self.absent = absent
        self.calls: list[tuple[TP, int, int]] = []

    async def __call__(self, tp: TP, start: int, end: int) -> AsyncIterator[RereadMessage]:
        self.calls.append((tp, start, end))
        for offset in range(start, end):
            if offset not in self.absent:
                yield RereadMessage(tp=tp, offset=offset, key=None, value=str(offset).encode(), timestamp=1.0)


async def _events(*items: tuple[TP, int]) -> AsyncIterator[FakeEvent]:
    for tp, offset in items:
        yield FakeEvent(FakeMessage(tp, offset))


async def _run(app: FakeApp, reader: Reader, *items: tuple[TP, int]) -> list[tuple[int, int, bool, object]]:
    out = []
    async for event in with_skipped(_events(*items), app, Metrics(), reader, decode=lambda raw: f"decoded {raw!r}"):
        reread = isinstance(event, RereadEvent)
        out.append((event.message.partition, event.message.offset, reread,
                    event.value if isinstance(event, RereadEvent) else None))
    return out


@pytest.mark.asyncio
async def test_missing_offsets_come_back_in_order_before_the_event_that_revealed_them() -> None:
    reader = Reader()
    got = await _run(FakeApp(), reader, (P0, 495), (P0, 499), (P0, 500), (P1, 7))
    assert [(p, o, r) for p, o, r, _ in got] == [
        (0, 495, False), (0, 496, True), (0, 497, True), (0, 498, True), (0, 499, False), (0, 500, False),
        (1, 7, False)]
    assert reader.calls == [(P0, 496, 499)]
    assert got[1][3] == "decoded b'496'"


@pytest.mark.asyncio
async def test_the_events_queued_after_a_hole_are_not_mistaken_for_the_reread() -> None:
    # Found in review: with a seek, the queued 505 was taken as "next" and the re-fetched 496..504 then dropped as
    # already seen. Read back directly, every offset is handled exactly once.
    got = await _run(FakeApp(), Reader(), (P0, 495), (P0, 504), (P0, 505), (P0, 506))
    assert [o for _, o, _, _ in got] == list(range(495, 507))


@pytest.mark.asyncio
async def test_redeliveries_in_the_same_generation_are_left_out_and_a_new_generation_starts_over() -> None:
    app = FakeApp()
    seen = []

    async def events() -> AsyncIterator[FakeEvent]:
        for offset in (10, 11, 12, 11, 12, 13):
            yield FakeEvent(FakeMessage(P0, offset))
        app.consumer_generation_id = 2  # a rebalance: positions start over from the committed offset
        for offset in (12, 13):
            yield FakeEvent(FakeMessage(P0, offset))

    async for event in with_skipped(events(), app, Metrics(), Reader()):
        seen.append(event.message.offset)
    assert seen == [10, 11, 12, 13, 12, 13]


@pytest.mark.asyncio
async def test_offsets_that_do_not_exist_are_passed_over() -> None:
    reader = Reader(absent={3, 4})
    got = await _run(FakeApp(), reader, (P0, 2), (P0, 6), (P0, 7))
    assert [o for _, o, _, _ in got] == [2, 5, 6, 7]
    assert reader.calls == [(P0, 3, 6)]


@pytest.mark.asyncio
async def test_a_failed_read_back_stops_the_agent_before_the_event_that_revealed_the_hole() -> None:
    class Broken(Reader):
        async def __call__(self, tp: TP, start: int, end: int) -> AsyncIterator[RereadMessage]:
            raise ConnectionError("broker gone")
            yield  # pragma: no cover

    seen = []
    with pytest.raises(ConnectionError):
        async for event in with_skipped(_events((P0, 1), (P0, 4)), FakeApp(), Metrics(), Broken()):
            seen.append(event.message.offset)
    assert seen == [1]


@pytest.mark.asyncio
async def test_a_redelivery_left_out_is_released_so_that_a_rebalance_does_not_wait_for_it() -> None:
    @dataclass
    class Delivered:
        tp: TP
        offset: int
        acked: bool = False

    first, again = Delivered(P0, 10), Delivered(P0, 10)

    async def events() -> AsyncIterator[FakeEvent]:
        for message in (first, again, Delivered(P0, 11)):
            yield FakeEvent(message)  # type: ignore[arg-type]

    seen = [event.message async for event in with_skipped(events(), FakeApp(), Metrics(), Reader())]
    assert [m.offset for m in seen] == [10, 11]
    assert again.acked, "Consumer.wait_empty would wait for the left-out copy"
    assert not first.acked, "the delivery that is handled is acked by its agent, in its turn"
