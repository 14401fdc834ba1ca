"""Requests-per-minute and tokens-per-minute limits together, first come first served.

Two constraints, both with time passed in (`now`), so this class has no clock and no sleeping and tests drive it with
explicit times:

- the provider's own rule, mirrored: what was sent in any rolling minute stays within the limits. Every reservation
  is logged at the time it will be sent and counted until a minute (plus a small margin for the trip to the
  provider) has passed, with its estimate until `settle()` replaces it with the real usage. A client that only paces
  at limit/60 fills the provider's rolling window to the brim after a minute and from then on gets a 429 whenever a
  request is a little bigger than the one that left the window (measured: 22 of them in a 6,000-review run);
  this one waits the few hundred milliseconds instead.
- a token bucket that refills at limit/60 with a two-second burst, so the minute's budget is spread over the minute
  (providers enforce at a finer grain than a minute, and a full minute's burst would hit 429s).

A reservation takes its cost at once and is told how long to wait; because reservations queue by arrival (no one is
scheduled before an earlier reservation), a large review is never starved by a stream of small ones (aiolimiter
serves small requests first). `observe_headers()` counts what the provider says is used beyond what we sent (another
client on the same key) until its reset time, and `cool_down()` holds everyone back after a 429.

>>> limiter = RateLimiter(rpm=60, tpm=6000, burst_seconds=1)
>>> limiter.reserve(tokens=100, now=0.0).wait
0.0
>>> round(limiter.reserve(tokens=100, now=0.0).wait, 3)   # the second request in the same instant waits 1 s
1.0
"""

from __future__ import annotations

import collections
import re
from collections.abc import Mapping
from dataclasses import dataclass, field

__all__ = ["RateLimiter", "Reservation"]

# The provider's window, and how much later than us it may see a request (network, its clock): a logged request
# counts that much longer here, so it has surely left the provider's window when we count it gone.
WINDOW_S = 60.0
WINDOW_MARGIN_S = 0.5


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


@dataclass(eq=False, slots=True)
class Reservation:
    """One reserved request: send it after `wait` seconds; hand it back to `settle()` or `cancel()`."""

    wait: float
    send_at: float
    tokens: int
    requests: int = 1
    settled: bool = field(default=False, repr=False)
    # Still counted in the rolling minute (a flag, not a search of the log: a settle per reply must stay cheap).
    logged: bool = field(default=False, repr=False)


class RateLimiter:
    def __init__(self, *, rpm: float, tpm: float, burst_seconds: float = 2.0, now: float = 0.0) -> None:
        if rpm <= 0 or tpm <= 0:
            raise ValueError(f"limits must be positive, got rpm={rpm} tpm={tpm}")
        self._requests = _Bucket(rpm / 60.0, max(1.0, rpm * burst_seconds / 60.0), 0.0, now)
        self._tokens = _Bucket(tpm / 60.0, max(1.0, tpm * burst_seconds / 60.0), 0.0, now)
        self._requests.level = self._requests.capacity
        self._tokens.level = self._tokens.capacity
        self._blocked_until = now
        # The rolling-minute log, oldest first: our reservations (in send order) and what others used.
        self._log: collections.deque[Reservation] = collections.deque()
        self._log_tokens = 0
        self._log_requests = 0
        self.rpm = rpm
        self.tpm = tpm

    # ------------------------------------------------------------------------------------------- reserving
    def reserve(self, tokens: int, now: float) -> Reservation:
        """Take one request and `tokens` tokens; the reservation says how long to wait before sending (0 = now)."""
        self._expire(now)
        # A single request larger than the limit may still pass once everything else has left, not never.
        cost = min(tokens, int(self.tpm))
        send_at = self._send_at(cost, now)
        for bucket, need in ((self._requests, 1), (self._tokens, cost)):
            bucket.refill(now)
            bucket.level -= need
        reservation = Reservation(wait=send_at - now, send_at=send_at, tokens=cost)
        # Appended: nothing logged is sent after it (first come, first served).
        self._log_add(reservation, len(self._log))
        return reservation

    def peek(self, tokens: int, now: float) -> float:
        """How long a request of `tokens` would wait if reserved now; changes nothing."""
        self._expire(now)
        return self._send_at(min(tokens, int(self.tpm)), now) - now

    def _send_at(self, cost: int, now: float) -> float:
        """When one more request of `cost` tokens may go: after the cool-down, after every earlier reservation
        (first come, first served), when both buckets hold what it takes, and when the rolling minute has room."""
        at = max(now, self._blocked_until, self._log[-1].send_at if self._log else now)
        for bucket, need in ((self._requests, 1.0), (self._tokens, float(cost))):
            level = min(bucket.capacity, bucket.level + max(0.0, now - bucket.updated_at) * bucket.rate_per_s)
            if level < need:
                at = max(at, now + (need - level) / bucket.rate_per_s)
        return self._window_allows(cost, at)

    def _window_allows(self, tokens: int, at: float) -> float:
        """The earliest time from `at` on when one more request of `tokens` keeps the rolling minute within both
        limits (counting every logged request, including those scheduled before `at`)."""
        span = WINDOW_S + WINDOW_MARGIN_S
        used_tokens, used_requests = self._log_tokens, self._log_requests
        for entry in self._log:
            if entry.send_at + span > at and used_tokens + tokens <= self.tpm and used_requests + 1 <= self.rpm:
                return at
            at = max(at, entry.send_at + span)
            used_tokens -= entry.tokens
            used_requests -= entry.requests
        return at

    def _log_add(self, entry: Reservation, index: int) -> None:
        """Count `entry` in the rolling minute, at `index` of the log (which stays in send order)."""
        self._log.insert(index, entry)
        entry.logged = True
        self._log_tokens += entry.tokens
        self._log_requests += entry.requests

    def _expire(self, now: float) -> None:
        span = WINDOW_S + WINDOW_MARGIN_S
        while self._log and self._log[0].send_at + span <= now:
            gone = self._log.popleft()
            gone.logged = False
            self._log_tokens -= gone.tokens
            self._log_requests -= gone.requests

    def _recount(self, reservation: Reservation, tokens: int, requests: int) -> None:
        """Change what a logged reservation counts (a no-op once it has left the window)."""
        if reservation.logged:
            self._log_tokens += tokens - reservation.tokens
            self._log_requests += requests - reservation.requests
        reservation.tokens, reservation.requests = tokens, requests

    # ------------------------------------------------------------------------------------------- outcomes
    def settle(self, reservation: Reservation, actual_tokens: int, now: float) -> None:
        """The real usage is known: correct the bucket (refund or extra charge) and the rolling minute."""
        if reservation.settled:
            return
        reservation.settled = True
        self._tokens.refill(now)
        # A refund never lifts the bucket above its burst: refunds of a run of over-estimates would otherwise add up
        # to a burst the provider's window then holds against us for a minute.
        self._tokens.level = min(self._tokens.capacity, self._tokens.level + reservation.tokens - actual_tokens)
        self._recount(reservation, actual_tokens, reservation.requests)

    def cancel(self, reservation: Reservation, now: float) -> None:
        """Give back a reservation whose request was never sent."""
        if reservation.settled:
            return
        reservation.settled = True
        self._requests.refill(now)
        self._tokens.refill(now)
        self._requests.level = min(self._requests.capacity, self._requests.level + 1)
        self._tokens.level = min(self._tokens.capacity, self._tokens.level + reservation.tokens)
        self._recount(reservation, 0, 0)

    def cool_down(self, seconds: float, now: float) -> None:
        """After a 429: nobody sends until `retry-after` has passed, and the buckets restart empty."""
        self._blocked_until = max(self._blocked_until, now + seconds)
        for bucket in (self._requests, self._tokens):
            bucket.refill(now)
            bucket.level = min(bucket.level, 0.0)
            bucket.updated_at = max(bucket.updated_at, now + seconds)

    def observe_headers(self, headers: Mapping[str, str], now: float) -> None:
        """Count what the provider says is used beyond what we logged (another client shares the key) until the
        provider's reset time: `x-ratelimit-remaining-*` against our own rolling minute."""
        self._expire(now)
        remaining_tokens = _number(headers.get("x-ratelimit-remaining-tokens"))
        remaining_requests = _number(headers.get("x-ratelimit-remaining-requests"))
        others_tokens = 0 if remaining_tokens is None else int(self.tpm - remaining_tokens - self._log_tokens)
        others_requests = 0 if remaining_requests is None else int(self.rpm - remaining_requests - self._log_requests)
        if others_tokens <= 0 and others_requests <= 0:
            return
        resets = [_duration_s(headers.get(f"x-ratelimit-reset-{name}")) for name in ("tokens", "requests")]
        lasts = min((r for r in resets if r is not None), default=WINDOW_S)
        # Logged as sent `lasts` seconds before a minute ago, so it leaves our window when the provider resets.
        others = Reservation(wait=0.0, send_at=now + min(lasts, WINDOW_S) - WINDOW_S - WINDOW_MARGIN_S,
                             tokens=max(0, others_tokens), requests=max(0, others_requests), settled=True)
        # Kept in send order: it leaves the window before anything logged after it was sent.
        self._log_add(others, next((i for i, entry in enumerate(self._log) if entry.send_at > others.send_at),
                                   len(self._log)))


def _number(raw: str | None) -> float | None:
    if raw is None:
        return None
    try:
        return float(raw)
    except ValueError:
        return None


def _duration_s(raw: str | None) -> float | None:
    """OpenAI's reset durations ("850ms", "1.5s", "6m0s", "1h2m3s") in seconds; None when absent or unreadable."""
    match = _DURATION.fullmatch(raw or "")
    if not raw or match is None:
        return None
    hours, minutes, seconds, millis = (float(part or 0) for part in match.groups())
    return hours * 3600 + minutes * 60 + seconds + millis / 1000


_DURATION = re.compile(r"(?:(\d+(?:\.\d+)?)h)?(?:(\d+(?:\.\d+)?)m(?!s))?(?:(\d+(?:\.\d+)?)s)?(?:(\d+(?:\.\d+)?)ms)?")
