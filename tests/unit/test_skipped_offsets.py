"""Noticing offsets the consumer skipped (streams/delivery/skipped_offsets.py)."""

from __future__ import annotations

from streams.delivery.skipped_offsets import SkipDetector


def test_consecutive_offsets_are_next() -> None:
    d = SkipDetector()
    assert [d.observe(1, "p0", o) for o in (5, 6, 7)] == [("next", 5), ("next", 6), ("next", 7)]


def test_a_hole_is_reported_once_with_where_to_seek_then_filled_in_order() -> None:
    d = SkipDetector()
    d.observe(1, "p0", 495)
    assert d.observe(1, "p0", 504) == ("hole", 496)
    # after the seek: the missing offsets, then the event that revealed the hole, arrive in order
    assert [d.observe(1, "p0", o)[0] for o in range(496, 505)] == ["next"] * 9


def test_the_same_hole_twice_is_a_real_gap_and_accepted() -> None:
    d = SkipDetector()
    d.observe(1, "p0", 10)
    assert d.observe(1, "p0", 13) == ("hole", 11)
    assert d.observe(1, "p0", 13) == ("next", 13)  # read again: 11 and 12 do not exist (control records)


def test_redeliveries_are_again_and_partitions_and_generations_are_separate() -> None:
    d = SkipDetector()
    d.observe(1, "p0", 10)
    d.observe(1, "p1", 3)
    assert d.observe(1, "p0", 9) == ("again", 9)
    assert d.observe(1, "p1", 4) == ("next", 4)
    assert d.observe(2, "p0", 2) == ("next", 2)  # a new generation starts over


def test_a_partition_kept_across_one_rebalance_continues_its_sequence() -> None:
    d = SkipDetector()
    d.observe(2, "p0", 358)
    d.observe(2, "p1", 40)
    # Generation 3: p0 stayed this worker's; Faust delivered 526 first (359..525 went missing at the rebalance).
    assert d.observe(3, "p0", 526) == ("hole", 359)
    assert [d.observe(3, "p0", o)[0] for o in range(359, 527)] == ["next"] * 168
    # Re-delivered from the committed offset after the seek: handled again, as after any rebalance.
    assert d.observe(3, "p1", 35) == ("next", 35)


def test_after_two_rebalances_a_partition_starts_over() -> None:
    d = SkipDetector()
    d.observe(2, "p0", 358)
    d.observe(3, "p1", 1)  # generation 3 without p0: it may have been another worker's
    assert d.observe(4, "p0", 526) == ("next", 526)
