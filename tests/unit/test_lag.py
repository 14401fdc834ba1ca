from __future__ import annotations

from streams.delivery.lag import LagTracker


def test_caught_up_partition_has_no_lag() -> None:
    lag = LagTracker()
    sample = lag.sample("p0", committed=10, end_offset=10, now=100.0)
    assert (sample.messages, sample.seconds, sample.seconds_since_commit) == (0, 0.0, 0.0)


def test_lag_in_messages_and_seconds_behind_the_newest_finished_event() -> None:
    lag = LagTracker()
    lag.note_finished("p0", 90.0)
    lag.note_finished("p0", 80.0)  # an older timestamp never moves it back
    sample = lag.sample("p0", committed=10, end_offset=25, now=100.0)
    assert sample.messages == 15
    assert sample.seconds == 10.0


def test_seconds_since_commit_grow_until_the_committed_offset_moves() -> None:
    lag = LagTracker()
    lag.sample("p0", committed=10, end_offset=20, now=100.0)
    assert lag.sample("p0", committed=10, end_offset=20, now=130.0).seconds_since_commit == 30.0
    assert lag.sample("p0", committed=12, end_offset=20, now=131.0).seconds_since_commit == 0.0


def test_unknown_end_offset_reports_nothing_waiting() -> None:
    assert LagTracker().sample("p0", committed=None, end_offset=None, now=1.0).messages == 0
