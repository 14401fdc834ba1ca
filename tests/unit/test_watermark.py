"""The event-time watermark the timers use: it follows the newest event, moves on with the wall clock while idle,
and does not jump to an absurd future."""

from __future__ import annotations

from streams.delivery.watermark import Watermark


class Clock:
    def __init__(self, t: float) -> None:
        self.t = t

    def __call__(self) -> float:
        return self.t


def test_nothing_seen_is_zero() -> None:
    assert Watermark(clock=Clock(100.0)).now() == 0.0


def test_follows_the_newest_event_and_the_wall_clock_while_idle() -> None:
    clock = Clock(1000.0)
    wm = Watermark(clock=clock)
    wm.observe(500.0)
    wm.observe(400.0)  # late: does not move it back
    assert wm.now() == 500.0
    clock.t = 1030.0
    assert wm.now() == 530.0


def test_an_event_far_in_the_future_counts_as_at_most_max_future_ahead() -> None:
    clock = Clock(1000.0)
    wm = Watermark(max_future_s=60.0, clock=clock)
    wm.observe(4_000_000_000.0)  # a review "written" in 2096
    assert wm.now() == 1060.0
