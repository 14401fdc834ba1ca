"""The limiter with explicit time: no clock, no sleeping."""

from __future__ import annotations

import random

import pytest

from streams.llm.rate_limiter import WINDOW_MARGIN_S, RateLimiter
from streams.llm.simulator import SlidingWindowLimiter


def drive(limiter: RateLimiter, costs: list[int], start: float = 0.0) -> list[float]:
    """Send each request at the time the limiter allows; return the send times."""
    now, times = start, []
    for cost in costs:
        now += limiter.reserve(cost, now).wait
        times.append(now)
    return times


def test_requests_per_minute_bound_the_long_run_rate() -> None:
    limiter = RateLimiter(rpm=120, tpm=10**9, burst_seconds=1)
    times = drive(limiter, [1] * 241)
    # 2 per second after a burst of 2, and never more than 120 in a rolling minute: 241 requests take ~120 s.
    assert times[-1] == pytest.approx(120.0, abs=1.5)


def test_tokens_per_minute_bound_the_long_run_rate() -> None:
    limiter = RateLimiter(rpm=10**6, tpm=60_000, burst_seconds=1)
    times = drive(limiter, [1000] * 121)
    assert times[-1] == pytest.approx(120.0, abs=1.5)


def test_a_provider_counting_a_rolling_minute_never_refuses_and_is_kept_busy() -> None:
    # Requests of uneven size sent as fast as allowed for five minutes, as a busy gateway does: the provider's own
    # rolling-minute count (the simulator's) must accept every one, and the limit must still be used.
    rng = random.Random(3)
    limiter = RateLimiter(rpm=1200, tpm=400_000)
    provider = SlidingWindowLimiter(rpm=1200, tpm=400_000)
    now, sent = 0.0, 0
    while now < 300.0:
        cost = rng.randint(1_000, 6_000)
        now += limiter.reserve(cost, now).wait
        assert provider.try_acquire(cost, now + 0.2) is None, f"refused at {now:.1f}s"  # 0.2 s on the way
        sent += cost
    assert sent / now * 60 / 400_000 > 0.97


def test_settle_corrects_the_charge_both_ways() -> None:
    limiter = RateLimiter(rpm=10**6, tpm=6000, burst_seconds=1)
    first = limiter.reserve(100, 0.0)
    assert first.wait == 0
    limiter.settle(first, actual_tokens=10, now=0.0)
    assert limiter.reserve(100, 0.0).wait == pytest.approx(0.1, abs=0.01)
    # Within the rolling minute, a refund frees room for a request that would otherwise wait for the window.
    full = RateLimiter(rpm=10**6, tpm=6000, burst_seconds=60)
    big = full.reserve(6000, 0.0)
    assert full.peek(1000, 1.0) == pytest.approx(60 + WINDOW_MARGIN_S - 1.0)
    full.settle(big, actual_tokens=4000, now=1.0)
    assert full.peek(1000, 1.0) == 0.0
    full.settle(big, actual_tokens=0, now=1.0)  # settled once; a second call changes nothing
    assert full.peek(2001, 1.0) > 0


def test_cancel_gives_back_a_reservation_never_sent() -> None:
    limiter = RateLimiter(rpm=2, tpm=10**6, burst_seconds=60)
    limiter.reserve(10, 0.0)
    second = limiter.reserve(10, 0.0)
    assert limiter.peek(10, 0.0) == pytest.approx(60 + WINDOW_MARGIN_S)
    limiter.cancel(second, 0.0)
    assert limiter.peek(10, 0.0) == 0.0


def test_cool_down_holds_everyone_until_retry_after() -> None:
    limiter = RateLimiter(rpm=600, tpm=10**6)
    limiter.cool_down(5.0, now=100.0)
    assert limiter.reserve(10, 101.0).wait == pytest.approx(4.0, abs=0.2)
    assert limiter.peek(10, 104.0) == pytest.approx(1.0, abs=0.2), "until retry-after has passed"


def test_provider_headers_count_what_others_used_until_the_reset() -> None:
    limiter = RateLimiter(rpm=600, tpm=10**6, burst_seconds=10)
    limiter.observe_headers({"x-ratelimit-remaining-requests": "0", "x-ratelimit-remaining-tokens": "oops",
                             "x-ratelimit-reset-requests": "2.5s"}, 0.0)
    assert limiter.reserve(1, 0.0).wait == pytest.approx(2.5)
    # Tokens: another client used 990k of the 1M; ours fit again once the provider's window resets (1m0s at most).
    tokens = RateLimiter(rpm=10**6, tpm=10**6, burst_seconds=60)
    tokens.observe_headers({"x-ratelimit-remaining-tokens": "10000", "x-ratelimit-reset-tokens": "6m0s"}, 0.0)
    assert tokens.peek(10_000, 0.0) == 0.0
    assert tokens.peek(20_000, 0.0) == pytest.approx(60.0)
    # What we sent ourselves is not counted twice.
    ours = RateLimiter(rpm=10**6, tpm=10**6, burst_seconds=60)
    ours.reserve(500_000, 0.0)
    ours.observe_headers({"x-ratelimit-remaining-tokens": "500000", "x-ratelimit-reset-tokens": "30s"}, 0.0)
    assert ours.peek(500_000, 0.0) == 0.0


def test_rejects_nonsense_limits() -> None:
    with pytest.raises(ValueError, match="positive"):
        RateLimiter(rpm=0, tpm=10)


def test_peek_tells_the_wait_without_reserving() -> None:
    limiter = RateLimiter(rpm=60, tpm=10**6, burst_seconds=1)
    assert limiter.peek(10, 0.0) == 0.0
    limiter.reserve(10, 0.0)
    assert limiter.peek(10, 0.0) == pytest.approx(1.0)
    assert limiter.peek(10, 0.0) == pytest.approx(1.0), "peeking twice reserves nothing"
    assert limiter.reserve(10, 0.0).wait == pytest.approx(1.0)


def test_big_requests_are_served_in_arrival_order_not_starved() -> None:
    limiter = RateLimiter(rpm=10**6, tpm=6000, burst_seconds=1)
    waits = [limiter.reserve(cost, 0.0).wait for cost in (50, 5000, 50, 50)]
    assert waits == sorted(waits), "each later request waits at least as long as the one before it"
    assert waits[1] < 60
