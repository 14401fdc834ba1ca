"""Breaker, batcher and cache: plain classes driven with explicit time."""

from __future__ import annotations

from streams.llm.batcher import MicroBatcher
from streams.llm.cache import AnalysisCache
from streams.llm.circuit_breaker import CircuitBreaker


def test_breaker_opens_after_consecutive_failures_only() -> None:
    breaker = CircuitBreaker(failure_threshold=3, reset_timeout_s=10)
    breaker.record_failure(0)
    breaker.record_failure(1)
    breaker.record_success(2)
    breaker.record_failure(3)
    breaker.record_failure(4)
    assert breaker.state == "closed", "a success in between resets the count"
    breaker.record_failure(5)
    assert breaker.state == "open"
    assert not breaker.allow(14.9)


def test_breaker_probes_once_then_closes_on_success() -> None:
    breaker = CircuitBreaker(failure_threshold=1, reset_timeout_s=10)
    breaker.record_failure(0)
    assert breaker.allow(10) is True
    assert breaker.state == "half_open"
    assert breaker.allow(10) is False, "only one probe at a time"
    breaker.record_success(11)
    assert breaker.state == "closed" and breaker.allow(11)


def test_failed_probe_reopens_with_a_longer_cool_off() -> None:
    breaker = CircuitBreaker(failure_threshold=1, reset_timeout_s=10, max_reset_timeout_s=25)
    breaker.record_failure(0)
    assert breaker.allow(10)
    breaker.record_failure(10)
    assert breaker.state == "open"
    assert not breaker.allow(29) and breaker.allow(30)
    breaker.record_failure(30)
    assert not breaker.allow(54) and breaker.allow(55), "capped at max_reset_timeout_s"


def test_batcher_closes_on_size() -> None:
    batcher = MicroBatcher[int](max_items=3, max_tokens=10_000, max_wait_s=1)
    out = [b for i in range(7) for b in batcher.add(i, 10, now=0)]
    assert out == [[0, 1, 2], [3, 4, 5]]
    assert batcher.flush_due(now=1) == [6], "the rest waits for its deadline"


def test_batcher_closes_before_exceeding_the_token_budget() -> None:
    batcher = MicroBatcher[str](max_items=10, max_tokens=100, max_wait_s=1)
    assert batcher.add("a", 60, 0) == []
    assert batcher.add("b", 60, 0) == [["a"]]
    assert batcher.add("huge", 500, 0) == [["b"], ["huge"]], "an oversized item goes alone, never dropped"


def test_batcher_flushes_a_quiet_batch_after_max_wait() -> None:
    batcher = MicroBatcher[str](max_items=10, max_tokens=100, max_wait_s=0.05)
    batcher.add("a", 1, now=1.0)
    batcher.add("b", 1, now=1.04)
    assert batcher.deadline() == 1.05
    assert batcher.flush_due(1.049) == []
    assert batcher.flush_due(1.05) == ["a", "b"]
    assert batcher.deadline() is None


def test_cache_normalises_and_evicts_least_recently_used() -> None:
    cache = AnalysisCache[str](max_entries=2)
    cache.put(cache.key("好评", "zh"), "x")
    cache.put(cache.key("Great!", None), "y")
    assert cache.get(cache.key(" 好评 ", "zh")) == "x"
    cache.put(cache.key("Meh", None), "z")
    assert cache.get(cache.key("Great!", None)) is None, "least recently used goes first"
    assert cache.get(cache.key("好评", "en")) is None, "the language hint is part of the key"
    assert (cache.hits, cache.misses) == (1, 2)


def test_batcher_flushes_exactly_when_its_deadline_says_so() -> None:
    # Values where `now - opened >= wait` and `now >= opened + wait` disagree in floating point.
    for opened, wait in ((0.1, 0.2), (1795963000.123, 0.05), (3.3, 0.7000000000000001)):
        batcher = MicroBatcher[str](max_items=10, max_tokens=100, max_wait_s=wait)
        batcher.add("a", 1, now=opened)
        deadline = batcher.deadline()
        assert deadline is not None
        assert batcher.flush_due(deadline) == ["a"], (opened, wait)
