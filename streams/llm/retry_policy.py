"""What the gateway does after a failed request: one policy for review analyses and marketing text alike.

    policy = RetryPolicy(CircuitBreaker(failure_threshold=10, reset_timeout_s=15), max_attempts=5,
                         backoff_base_s=0.5, backoff_max_s=20, rng=random.Random(7))
    step = policy.after_failure(LLMTimeout("timed out after 30s"), attempts=0, now=100.0, deadline=280.0)
    step.action, step.attempts        # ("backoff", 1); step.wait_s is in [0, 0.5)

- **429** (`LLMRateLimited`) is not the model's fault: every request pauses for the provider's `retry-after` (the
  caller cools its rate limiter down for `wait_s`, 1 s when the provider gave no hint); the attempt is not counted
  and the breaker is not told.
- **Transient errors and invalid replies** count against the breaker and the attempts; the request is sent again
  after an exponential backoff with full jitter (`uniform(0, min(max, base * 2^(attempt-1)))`, from the AWS
  architecture blog's "Exponential Backoff and Jitter": it spreads the retries of many failed requests over the whole
  interval), never past the deadline, unless the attempts are used up or the breaker has opened (the caller answers
  from the offline analyzer instead of waiting).
- **Permanent errors** (bad request, auth, unknown model) give up at once.

A plain class with time passed in, like `CircuitBreaker` and `RateLimiter`: the gateway does the waiting and the
sending, this decides, and unit tests drive it without sleeping.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Literal

from streams.llm.circuit_breaker import CircuitBreaker
from streams.llm.errors import InvalidReply, LLMError, LLMRateLimited, TransientLLMError

__all__ = ["RetryAction", "RetryPolicy", "RetryStep"]

RetryAction = Literal["cool_down", "backoff", "give_up"]


@dataclass(frozen=True, slots=True)
class RetryStep:
    action: RetryAction
    # cool_down: how long the rate limiter pauses every request; backoff: how long this request waits.
    wait_s: float
    # Failed attempts so far, this one included when it counts.
    attempts: int


class RetryPolicy:
    def __init__(self, breaker: CircuitBreaker, *, max_attempts: int, backoff_base_s: float, backoff_max_s: float,
                 rng: random.Random | None = None) -> None:
        if max_attempts < 1:
            raise ValueError(f"max_attempts must be at least 1, got {max_attempts}")
        self.breaker = breaker
        self.max_attempts = max_attempts
        self.backoff_base_s = backoff_base_s
        self.backoff_max_s = backoff_max_s
        self._rng = rng or random.Random()

    def after_success(self, now: float) -> None:
        self.breaker.record_success(now)

    def after_failure(self, exc: LLMError, *, attempts: int, now: float, deadline: float) -> RetryStep:
        """The next step after `exc` ended an attempt; `attempts` is the failed attempts before this one."""
        if isinstance(exc, LLMRateLimited):
            return RetryStep("cool_down", exc.retry_after_s or 1.0, attempts)
        if not isinstance(exc, TransientLLMError | InvalidReply):
            return RetryStep("give_up", 0.0, attempts)
        self.breaker.record_failure(now)
        attempts += 1
        if attempts >= self.max_attempts or self.breaker.state == "open":
            return RetryStep("give_up", 0.0, attempts)
        return RetryStep("backoff", min(self.backoff_s(attempts), max(0.0, deadline - now)), attempts)

    def backoff_s(self, attempt: int) -> float:
        cap = min(self.backoff_max_s, self.backoff_base_s * 2 ** (attempt - 1))
        return self._rng.uniform(0, cap)
