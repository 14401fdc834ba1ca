"""Requests-per-minute and tokens-per-minute limits together, first come first served.

Each limit is a bucket that refills continuously and may go into debt: a reservation takes its cost at once and is
told how long to wait until the debt is paid. Because reservations queue by arrival, a large review is never starved
by a stream of small ones (aiolimiter serves small requests first). The token cost is an estimate; `settle()`
corrects the bucket with the real usage once the reply is in, `observe_headers()` trusts the provider's own
`x-ratelimit-remaining-*` when it is lower than ours, and `cool_down()` holds everyone back after a 429.

Time is passed in (`now`), so this class has no clock and no sleeping: tests drive it with explicit times.

>>> limiter = RateLimiter(rpm=60, tpm=6000, burst_seconds=1)
>>> limiter.reserve(tokens=100, now=0.0)
0.0
>>> round(limiter.reserve(tokens=100, now=0.0), 3)   # the second request in the same instant waits 1 s
1.0
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

__all__ = ["RateLimiter"]


@dataclass(slots=True)
class _Bucket:
    rate_per_s: float
    capacity: float
    level: float
    updated_at: float

    def refill(self, now: float) -> None:
        if now > self.updated_at:
            self.level = min(self.capacity, self.level + (now - self.updated_at) * self.rate_per_s)
            self.updated_at = now

    def wait_for(self, now: float) -> float:
        return 0.0 if self.level >= 0 else -self.level / self.rate_per_s


class RateLimiter:
    def __init__(self, *, rpm: float, tpm: float, burst_seconds: float = 2.0, now: float = 0.0) -> None:
        if rpm <= 0 or tpm <= 0:
            raise ValueError(f"limits must be positive, got rpm={rpm} tpm={tpm}")
        # A small burst allowance: the provider counts a rolling minute, so a full minute's burst would hit 429s.
        self._requests = _Bucket(rpm / 60.0, max(1.0, rpm * burst_seconds / 60.0), 0.0, now)
        self._tokens = _Bucket(tpm / 60.0, max(1.0, tpm * burst_seconds / 60.0), 0.0, now)
        self._requests.level = self._requests.capacity
        self._tokens.level = self._tokens.capacity
        self._blocked_until = now
        self.rpm = rpm
        self.tpm = tpm

    def reserve(self, tokens: int, now: float) -> float:
        """Take one request and `tokens` tokens; return the seconds to wait before sending (0 = send now)."""
        for bucket in (self._requests, self._tokens):
            bucket.refill(now)
        self._requests.level -= 1
        # A single request larger than the bucket may still pass once the bucket is full, not never.
        self._tokens.level -= min(tokens, self._tokens.capacity + self._tokens.rate_per_s * 60)
        wait = max(self._requests.wait_for(now), self._tokens.wait_for(now), self._blocked_until - now)
        return max(0.0, wait)

    def peek(self, tokens: int, now: float) -> float:
        """How long a request of `tokens` would wait if reserved now; changes nothing."""
        waits = [self._blocked_until - now]
        for bucket, cost in ((self._requests, 1.0), (self._tokens, float(tokens))):
            level = min(bucket.capacity, bucket.level + max(0.0, now - bucket.updated_at) * bucket.rate_per_s)
            waits.append((cost - level) / bucket.rate_per_s if level < cost else 0.0)
        return max(0.0, *waits)

    def settle(self, estimated_tokens: int, actual_tokens: int, now: float) -> None:
        """Correct the token bucket once the real usage is known (refund or extra charge)."""
        self._tokens.refill(now)
        self._tokens.level += estimated_tokens - actual_tokens

    def cancel(self, estimated_tokens: int, now: float) -> None:
        """Give back a reservation whose request was never sent."""
        self._requests.refill(now)
        self._tokens.refill(now)
        self._requests.level = min(self._requests.capacity, self._requests.level + 1)
        self._tokens.level = min(self._tokens.capacity, self._tokens.level + estimated_tokens)

    def cool_down(self, seconds: float, now: float) -> None:
        """After a 429: nobody sends until `retry-after` has passed, and the buckets restart empty."""
        self._blocked_until = max(self._blocked_until, now + seconds)
        for bucket in (self._requests, self._tokens):
            bucket.refill(now)
            bucket.level = min(bucket.level, 0.0)
            bucket.updated_at = max(bucket.updated_at, now + seconds)

    def observe_headers(self, headers: Mapping[str, str], now: float) -> None:
        """Lower our view of what is left when the provider says less is left (another client shares the key)."""
        for bucket, name in ((self._requests, "requests"), (self._tokens, "tokens")):
            raw = headers.get(f"x-ratelimit-remaining-{name}")
            if raw is None:
                continue
            try:
                remaining = float(raw)
            except ValueError:
                continue
            bucket.refill(now)
            bucket.level = min(bucket.level, remaining)

    def blocked_for(self, now: float) -> float:
        return max(0.0, self._blocked_until - now)
