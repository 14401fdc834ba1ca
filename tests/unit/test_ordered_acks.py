from __future__ import annotations

import random

import pytest

from streams.delivery.ordered_acks import OrderedAcks


def test_acks_are_released_only_in_offset_order() -> None:
    acks = OrderedAcks[int]()
    for offset in range(5):
        acks.start("p0", offset, offset)
    assert acks.finish("p0", 3) == []
    assert acks.finish("p0", 1) == []
    assert acks.finish("p0", 0) == [0, 1]
    assert acks.finish("p0", 2) == [2, 3]
    assert acks.in_flight == 1
    assert acks.finish("p0", 4) == [4]
    assert acks.in_flight == 0


def test_partitions_are_independent() -> None:
    acks = OrderedAcks[str]()
    acks.start("p0", 10, "a")
    acks.start("p1", 3, "b")
    assert acks.finish("p1", 3) == ["b"], "a slow event on p0 must not hold back p1"
    assert acks.finish("p0", 10) == ["a"]


def test_random_completion_order_never_releases_past_an_unfinished_event() -> None:
    rng = random.Random(7)
    acks = OrderedAcks[int]()
    offsets = list(range(200))
    for o in offsets:
        acks.start("p", o, o)
    released: list[int] = []
    finished: set[int] = set()
    for o in rng.sample(offsets, len(offsets)):
        finished.add(o)
        released += acks.finish("p", o)
        # Everything released is finished, and it is a prefix of the offsets.
        assert released == offsets[: len(released)]
        assert set(released) <= finished
    assert released == offsets


def test_offsets_must_increase_per_partition() -> None:
    acks = OrderedAcks[int]()
    acks.start("p", 5, 5)
    with pytest.raises(ValueError, match="not after"):
        acks.start("p", 5, 5)


def test_forget_and_late_finish_of_a_revoked_partition() -> None:
    acks = OrderedAcks[int]()
    acks.start("p", 1, 1, now=10.0)
    acks.start("q", 1, 1, now=12.0)
    assert acks.oldest_started_at() == 10.0
    assert acks.forget("p") == 1
    assert acks.finish("p", 1) == []
    assert acks.oldest_started_at() == 12.0
