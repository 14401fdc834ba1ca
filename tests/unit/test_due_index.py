"""The in-memory due index the timer ticks read instead of scanning tables."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest

from streams.delivery.due_index import DueIndex, clear_all


def test_pops_what_is_due_in_order_each_key_once() -> None:
    index = DueIndex()
    index.load(0, [(30.0, "c"), (10.0, "a"), (20.0, "b")])
    index.push(0, 15.0, "a")  # a row that got a later due time: the old entry stays, as a hint
    assert index.pop_due(0, 9.0) == []
    assert index.pop_due(0, 20.0) == ["a", "b"]
    assert index.pop_due(0, 100.0) == ["c"]
    assert index.size(0) == 0


def test_partitions_are_separate_and_unloaded_ones_ignore_pushes() -> None:
    index = DueIndex()
    index.load(1, [])
    index.push(1, 5.0, "x")
    index.push(2, 5.0, "y")  # partition 2 not loaded: its load will read the row
    index.push(1, None, "z")  # nothing due
    assert not index.is_loaded(2)
    assert index.pop_due(2, 10.0) == [] and index.pop_due(1, 10.0) == ["x"]


def test_clear_forgets_everything_for_a_rebuild() -> None:
    index = DueIndex()
    index.load(0, [(1.0, "a")])
    index.clear()
    assert not index.is_loaded(0) and index.pop_due(0, 5.0) == []


async def test_rebuild_loads_the_given_partitions_from_one_pass_over_the_rows() -> None:
    index = DueIndex()
    rows = [("a", 30.0), ("b", None), ("c", 10.0), ("d", 20.0)]
    read = await index.rebuild(rows, lambda due: due, lambda key, _due: 0 if key in "ab" else 1, partitions=[0, 1, 2])
    assert read == 4 and all(index.is_loaded(p) for p in (0, 1, 2))
    assert index.pop_due(0, 100.0) == ["a"] and index.pop_due(1, 100.0) == ["c", "d"] and index.pop_due(2, 1e9) == []


def test_clear_all_forgets_every_index() -> None:
    one, two = DueIndex(), DueIndex()
    one.load(0, [])
    two.load(3, [])
    clear_all()
    assert not one.is_loaded(0) and not two.is_loaded(3)


async def test_a_background_rebuild_answers_at_once_keeps_pushes_and_adds_rows_as_it_reads_them() -> None:
    index = DueIndex()
    rows = [(f"k{i}", float(i)) for i in range(5000)]  # more than one chunk: the scan yields in between
    task = index.rebuild_in_background(rows, lambda due: due, lambda _key, _due: 0, partitions=[0, 1])
    assert index.is_loaded(0) and index.is_loaded(1), "loaded from the start: pushes count from now on"
    index.push(1, 7.0, "fresh")
    assert index.pop_due(1, 10.0) == ["fresh"]
    assert await task == 5000
    assert index.pop_due(0, 2.0) == ["k0", "k1", "k2"] and index.size(0) == 4997


async def test_a_rebalance_cancels_a_running_rebuild() -> None:
    index = DueIndex()
    task = index.rebuild_in_background(((f"k{i}", 1.0) for i in range(10_000)), lambda due: due,
                                       lambda _key, _due: 0, partitions=[0])
    await asyncio.sleep(0)  # the scan reads its first chunk
    clear_all()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert not index.is_loaded(0)


async def test_a_failed_rebuild_unloads_its_partitions_for_the_next_tick() -> None:
    def rows() -> Iterator[tuple[str, float]]:
        yield "a", 1.0
        raise RuntimeError("the table was closed")

    index = DueIndex()
    assert await index.rebuild_in_background(rows(), lambda due: due, lambda _key, _due: 0, partitions=[0]) == 1
    assert not index.is_loaded(0)
