"""Event time as far as this worker has seen it, moving on with the wall clock while the streams are idle.

Shared by the agents whose timers need "now" in event time: sessions closing, marketing triggers, alert incidents
going quiet. Event times more than `max_future_s` ahead of the wall clock are taken as the wall clock plus that: one
review dated 2099 must not close every session and fire every trigger.
"""

from __future__ import annotations

import time
from collections.abc import Callable

__all__ = ["WATERMARK", "Watermark"]


class Watermark:
    def __init__(self, *, max_future_s: float = 3600.0, clock: Callable[[], float] = time.time) -> None:
        self.max_future_s = max_future_s
        self._clock = clock
        self.event_time = 0.0
        self.seen_at = 0.0

    def observe(self, ts: float) -> None:
        now = self._clock()
        ts = min(ts, now + self.max_future_s)
        if ts > self.event_time:
            self.event_time, self.seen_at = ts, now

    def now(self) -> float:
        """0.0 until an event was seen."""
        if not self.event_time:
            return 0.0
        return self.event_time + max(0.0, self._clock() - self.seen_at)


WATERMARK = Watermark()
