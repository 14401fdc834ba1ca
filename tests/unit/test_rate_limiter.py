"""The limiter with explicit time: no clock, no sleeping."""

from __future__ import annotations

import pytest

from streams.llm.rate_limiter import RateLimiter


def drive(limiter: RateLimiter, costs: list[int], start: float = 0.0) -> list[float]:
    """Send each request at the time the limiter allows; return the send times."""
    now, times = start, []
    for cost in costs:
        now += limiter.reserve(cost, now)
        times.append(now)
    return times


def test_requests_per_minute_bound_the_long_run_rate() -> None:
    limiter = RateLimiter(rpm=120, tpm=10**9, burst_seconds=1)
    times = drive(limiter, [1] * 241)
    # 2 per second after a burst of 2: 241 requests take 120 s give or take the burst.
    assert times[-1] == pytest.approx(119.0, abs=1.0)


def test_tokens_per_minute_bound_the_long_run_rate() -> None:
    limiter = RateLimiter(rpm=10**6, tpm=60_000, burst_seconds=1)
    times = drive(limiter, [1000] * 121)
    assert times[-1] == pytest.approx(120.0, abs=1.5)


def test_big_requests_are_served_in_arrival_order_not_starved() -> None:
    limiter = RateLimiter(rpm=10**6, tpm=6000, burst_seconds=1)
    waits = [limiter.reserve(cost, 0.0) for cost in (50, 5000, 50, 50)]
    assert waits == sorted(waits), "each later request waits at least as long as the one before it"
    assert waits[1] < 60


def test_settle_refunds_an_overestimate() -> None:
    limiter = RateLimiter(rpm=10**6, tpm=6000, burst_seconds=1)
    assert limiter.reserve(100, 0.0) == 0
    limiter.settle(estimated_tokens=100, actual_tokens=10, now=0.0)
    assert limiter.reserve(100, 0.0) == pytest.approx(0.1, abs=0.01)


def test_cool_down_holds_everyone_until_retry_after() -> None:
    limiter = RateLimiter(rpm=600, tpm=10**6)
    limiter.cool_down(5.0, now=100.0)
    assert limiter.reserve(10, 101.0) == pytest.approx(4.0, abs=0.2)
    assert limiter.blocked_for(104.0) == pytest.approx(1.0)


def test_provider_headers_lower_our_view() -> None:
    limiter = RateLimiter(rpm=600, tpm=10**6, burst_seconds=10)
    limiter.observe_headers({"x-ratelimit-remaining-requests": "0", "x-ratelimit-remaining-tokens": "oops"}, 0.0)
    assert limiter.reserve(1, 0.0) == pytest.approx(0.1, abs=0.01)


def test_rejects_nonsense_limits() -> None:
    with pytest.raises(ValueError, match="positive"):
        RateLimiter(rpm=0, tpm=10)


def test_peek_tells_the_wait_without_reserving() -> None:
    limiter = RateLimiter(rpm=60, tpm=10**6, burst_seconds=1)
    assert limiter.peek(10, 0.0) == 0.0
    limiter.reserve(10, 0.0)
    assert limiter.peek(10, 0.0) == pytest.approx(1.0)
    assert limiter.peek(10, 0.0) == pytest.approx(1.0), "peeking twice reserves nothing"
    assert limiter.reserve(10, 0.0) == pytest.approx(1.0)
