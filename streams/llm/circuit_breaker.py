"""A circuit breaker over the LLM: after repeated failures stop calling it for a while, then probe.

closed ──(N consecutive failures)──► open ──(cool-off elapsed)──► half-open ──(probe ok)──► closed
                                       ▲                               │
                                       └──────────(probe fails)────────┘

While open, callers answer from the offline analyzer (degraded) instead of waiting. Time is passed in.

>>> breaker = CircuitBreaker(failure_threshold=2, reset_timeout_s=10)
>>> breaker.record_failure(now=0); breaker.record_failure(now=1); breaker.state
'open'
>>> breaker.allow(now=5), breaker.allow(now=11), breaker.allow(now=11)
(False, True, False)
"""

from __future__ import annotations

from typing import Literal

__all__ = ["BreakerState", "CircuitBreaker"]

BreakerState = Literal["closed", "open", "half_open"]


class CircuitBreaker:
    def __init__(self, *, failure_threshold: int = 5, reset_timeout_s: float = 30.0, max_reset_timeout_s: float = 300.0,
                 half_open_probes: int = 1) -> None:
        if failure_threshold < 1:
            raise ValueError(f"failure_threshold must be at least 1, got {failure_threshold}")
        self.failure_threshold = failure_threshold
        self.base_reset_timeout_s = reset_timeout_s
        self.max_reset_timeout_s = max_reset_timeout_s
        self.half_open_probes = half_open_probes
        self.state: BreakerState = "closed"
        self.consecutive_failures = 0
        self.opened_at = 0.0
        # Doubles each time a probe fails, so a long outage is probed less and less often.
        self.reset_timeout_s = reset_timeout_s
        self._probes_in_flight = 0
        self.times_opened = 0

    def allow(self, now: float) -> bool:
        if self.state == "closed":
            return True
        if self.state == "open":
            if now - self.opened_at < self.reset_timeout_s:
                return False
            self.state = "half_open"
            self._probes_in_flight = 0
        if self._probes_in_flight < self.half_open_probes:
            self._probes_in_flight += 1
            return True
        return False

    def record_success(self, now: float) -> None:
        self.consecutive_failures = 0
        if self.state != "closed":
            self.state = "closed"
            self.reset_timeout_s = self.base_reset_timeout_s
            self._probes_in_flight = 0

    def record_failure(self, now: float) -> None:
        self.consecutive_failures += 1
        if self.state == "half_open":
            self.reset_timeout_s = min(self.max_reset_timeout_s, self.reset_timeout_s * 2)
            self._open(now)
        elif self.state == "closed" and self.consecutive_failures >= self.failure_threshold:
            self._open(now)

    def _open(self, now: float) -> None:
        self.state = "open"
        self.opened_at = now
        self._probes_in_flight = 0
        self.times_opened += 1
