"""The simulator's rate limits: requests and tokens over a sliding window, and OpenAI's `x-ratelimit-*` headers.

Counted the way the provider counts (what it admitted in the last `window_s`), not the way the gateway's own
`streams.llm.rate_limiter` plans ahead: the gateway is tested against it.
"""

from __future__ import annotations

import collections
import math
from dataclasses import dataclass

__all__ = ["RateLimitState", "SlidingWindowLimiter", "duration", "ratelimit_headers"]


@dataclass(frozen=True, slots=True)
class RateLimitState:
    limit_requests: int
    remaining_requests: int
    limit_tokens: int
    remaining_tokens: int
    reset_requests_s: float
    reset_tokens_s: float


class SlidingWindowLimiter:
    """Requests and tokens admitted in the last `window_s` seconds; time is passed in, so it is testable without
    sleeping.

    >>> lim = SlidingWindowLimiter(rpm=2, tpm=100, window_s=60)
    >>> lim.try_acquire(30, now=0.0), lim.try_acquire(30, now=1.0), lim.try_acquire(30, now=2.0)
    (None, None, 58.0)
    """

    def __init__(self, rpm: int, tpm: int, window_s: float = 60.0) -> None:
        if rpm < 1 or tpm < 1 or window_s <= 0:
            raise ValueError(f"rate limits must be positive, got rpm={rpm} tpm={tpm} window_s={window_s}")
        self.rpm = rpm
        self.tpm = tpm
        self.window_s = window_s
        self._charges: collections.deque[tuple[float, int]] = collections.deque()
        self._tokens = 0

    def _expire(self, now: float) -> None:
        while self._charges and self._charges[0][0] + self.window_s <= now:
            self._tokens -= self._charges.popleft()[1]

    def try_acquire(self, tokens: int, now: float) -> float | None:
        """Charge one request of `tokens` and return None, or return the seconds until it would fit."""
        self._expire(now)
        wait = 0.0
        if len(self._charges) >= self.rpm:
            # The charge whose expiry brings the count down to rpm - 1.
            wait = self._charges[len(self._charges) - self.rpm][0] + self.window_s - now
        if self._tokens + tokens > self.tpm:
            if tokens > self.tpm:
                # Never fits; OpenAI answers 429 too ("Request too large"). A full window is the honest hint.
                wait = max(wait, self.window_s)
            else:
                freed = 0
                for t, charged in self._charges:
                    freed += charged
                    if self._tokens - freed + tokens <= self.tpm:
                        wait = max(wait, t + self.window_s - now)
                        break
        if wait > 0:
            return wait
        self._charges.append((now, tokens))
        self._tokens += tokens
        return None

    def state(self, now: float) -> RateLimitState:
        self._expire(now)
        reset = self._charges[0][0] + self.window_s - now if self._charges else 0.0
        return RateLimitState(
            limit_requests=self.rpm,
            remaining_requests=max(0, self.rpm - len(self._charges)),
            limit_tokens=self.tpm,
            remaining_tokens=max(0, self.tpm - self._tokens),
            reset_requests_s=reset,
            reset_tokens_s=reset,
        )


def duration(seconds: float) -> str:
    """OpenAI's header style for durations: "850ms", "1.5s", "6m0s"."""
    if seconds < 1:
        return f"{max(0, math.ceil(seconds * 1000))}ms"
    minutes, rest = divmod(seconds, 60)
    text = f"{rest:.3f}".rstrip("0").rstrip(".")
    return f"{int(minutes)}m{text}s" if minutes else f"{text}s"


def ratelimit_headers(state: RateLimitState) -> dict[str, str]:
    """The `x-ratelimit-*` headers OpenAI sends on every chat response; "reset" is when capacity next grows."""
    return {
        "x-ratelimit-limit-requests": str(state.limit_requests),
        "x-ratelimit-remaining-requests": str(state.remaining_requests),
        "x-ratelimit-limit-tokens": str(state.limit_tokens),
        "x-ratelimit-remaining-tokens": str(state.remaining_tokens),
        "x-ratelimit-reset-requests": duration(state.reset_requests_s),
        "x-ratelimit-reset-tokens": duration(state.reset_tokens_s),
    }
