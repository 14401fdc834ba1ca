"""The gateway's one retry policy: a plain class driven with explicit time."""

from __future__ import annotations

import random

import pytest

from streams.llm.circuit_breaker import CircuitBreaker
from streams.llm.errors import (
    CircuitOpen,
    InvalidReply,
    LLMError,
    LLMRateLimited,
    LLMTimeout,
    PermanentLLMError,
    TransientLLMError,
)
from streams.llm.retry_policy import RetryPolicy


def policy(max_attempts: int = 5, failures: int = 100, base: float = 0.5, cap: float = 20.0) -> RetryPolicy:
    return RetryPolicy(CircuitBreaker(failure_threshold=failures, reset_timeout_s=10), max_attempts=max_attempts,
                       backoff_base_s=base, backoff_max_s=cap, rng=random.Random(1))


def test_a_429_cools_down_for_retry_after_without_counting_an_attempt_or_a_failure() -> None:
    p = policy(max_attempts=1, failures=1)
    step = p.after_failure(LLMRateLimited("429", retry_after_s=7.5), attempts=0, now=0, deadline=100)
    assert (step.action, step.wait_s, step.attempts) == ("cool_down", 7.5, 0)
    assert p.breaker.state == "closed" and p.breaker.consecutive_failures == 0
    no_hint = p.after_failure(LLMRateLimited("429"), attempts=0, now=0, deadline=100)
    assert no_hint.wait_s == 1.0, "one second when the provider gave no retry-after"


@pytest.mark.parametrize("exc", [TransientLLMError("503"), LLMTimeout("slow"), InvalidReply("prose")])
def test_failures_back_off_with_full_jitter_and_count_against_the_breaker(exc: LLMError) -> None:
    p = policy(base=0.5, cap=3.0)
    waits = []
    for attempts in range(4):
        step = p.after_failure(exc, attempts=attempts, now=0, deadline=1000)
        assert step.action == "backoff" and step.attempts == attempts + 1
        waits.append(step.wait_s)
    assert p.breaker.consecutive_failures == 4
    caps = [0.5, 1.0, 2.0, 3.0]  # base * 2^(attempt-1), at most backoff_max_s
    assert all(0 <= w <= c for w, c in zip(waits, caps, strict=True)), waits


def test_backoff_never_waits_past_the_deadline() -> None:
    p = policy(base=50, cap=50)
    assert p.after_failure(LLMTimeout("slow"), attempts=3, now=99.5, deadline=100).wait_s <= 0.5
    assert p.after_failure(LLMTimeout("slow"), attempts=3, now=101, deadline=100).wait_s == 0


def test_gives_up_when_the_attempts_are_used_up() -> None:
    p = policy(max_attempts=2)
    assert p.after_failure(TransientLLMError("503"), attempts=0, now=0, deadline=100).action == "backoff"
    step = p.after_failure(TransientLLMError("503"), attempts=1, now=1, deadline=100)
    assert (step.action, step.attempts) == ("give_up", 2)


def test_gives_up_as_soon_as_the_breaker_opens() -> None:
    p = policy(max_attempts=10, failures=2)
    assert p.after_failure(TransientLLMError("503"), attempts=0, now=0, deadline=100).action == "backoff"
    assert p.after_failure(TransientLLMError("503"), attempts=0, now=1, deadline=100).action == "give_up"
    assert p.breaker.state == "open"
    p.breaker.allow(20)  # the cool-off has passed: one probe
    p.after_success(21)
    assert p.breaker.state == "closed"


@pytest.mark.parametrize("exc", [PermanentLLMError("401"), LLMError("?")])
def test_permanent_errors_give_up_at_once_and_do_not_trip_the_breaker(exc: LLMError) -> None:
    p = policy(failures=1)
    assert p.after_failure(exc, attempts=0, now=0, deadline=100).action == "give_up"
    assert p.breaker.state == "closed"


def test_an_open_circuit_is_transient() -> None:
    assert isinstance(CircuitOpen("open"), TransientLLMError)


def test_max_attempts_must_allow_one_attempt() -> None:
    with pytest.raises(ValueError, match="max_attempts must be at least 1, got 0"):
        policy(max_attempts=0)
