"""The LLM fault matrix: every way the provider fails, one test each, through the worker's path.

Reviews go through the review processor, the LLM gateway and the openai transport built from `Settings` as the worker
builds them (`streams.llm.factory.build_gateway`; the offline analyzer is the fallback), over real HTTP, to the
simulator playing one fault. In every test no review is lost, an insight says `degraded` exactly when the fallback
answered it, and the breaker's state is read from the gateway and its metrics.

The timeouts are the settings' (`llm_timeout_s`, `llm_deadline_s`), short so that the matrix runs in seconds; the
breaker and the backoff have no settings and are shortened in the gateway's config. No Kafka here.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import orjson
import pytest

from models.insight import ReviewInsight
from streams.llm.factory import build_gateway, gateway_config
from streams.llm.gateway import LLMGateway
from streams.llm.local import LocalAnalyzer
from streams.llm.simulator import HostileReply, RequestRecord, RunningSimulator, SimulatorConfig, start_simulator
from streams.metrics import Metrics
from streams.review_processor import ReviewProcessor, SourceMessage
from streams.settings import Settings
from tests.conftest import sample_reviews

ATTEMPT_TIMEOUT_S = 0.5
BREAKER_FAILURES = 3
BREAKER_RESET_S = 0.3
REVIEWS = [r for r in sample_reviews() if len(r["text"]) < 300]


@dataclasses.dataclass
class Rig:
    sim: RunningSimulator
    gateway: LLMGateway
    metrics: Metrics
    processor: ReviewProcessor
    fallback_model: str

    def sample(self, name: str, **labels: str) -> float:
        return self.metrics.registry.get_sample_value(name, labels) or 0.0

    def breaker_gauge(self) -> float:
        return self.sample("reviewstream_llm_breaker_state")

    def requests(self, outcome: str) -> float:
        return self.sample("reviewstream_llm_requests_total", model="sim", outcome=outcome)

    async def analyse(self, count: int, start: int = 0) -> list[ReviewInsight]:
        """`count` sample reviews at once through the processor: each one's insight, in order (0 lost)."""
        reviews = [{**r, "review_id": f"{r['review_id']}-{start + i}"}
                   for i, r in enumerate(REVIEWS[start:start + count])]
        assert len(reviews) == count
        results = await asyncio.gather(*(
            self.processor.process(SourceMessage(value=orjson.dumps(r), key=None, topic="reviews", offset=start + i))
            for i, r in enumerate(reviews)))
        insights = [r.insight for r in results if r.insight is not None]
        assert [i.review_id for i in insights] == [r["review_id"] for r in reviews], "0 lost: one insight each"
        for insight in insights:
            # degraded exactly when the offline analyzer answered
            assert insight.degraded == (insight.model == self.fallback_model), insight
        return insights


@pytest.fixture(scope="module")
def fallback() -> LocalAnalyzer:
    return LocalAnalyzer.from_model_dir(Settings().local_model_dir)


MakeRig = Callable[..., Awaitable[Rig]]


@pytest.fixture
async def make_rig(fallback: LocalAnalyzer) -> AsyncIterator[MakeRig]:
    rigs: list[Rig] = []

    async def make(**sim_config: Any) -> Rig:
        sim = await start_simulator(SimulatorConfig(seed=1, record_requests=500, **sim_config))
        settings = Settings(llm_provider="openai", llm_model="sim", OPENAI_BASE_URL=sim.base_url,
                            OPENAI_API_KEY="sk-fault-matrix", llm_timeout_s=ATTEMPT_TIMEOUT_S, llm_deadline_s=8,
                            llm_rpm=6000, llm_tpm=10_000_000)
        config = dataclasses.replace(gateway_config(settings), breaker_failures=BREAKER_FAILURES,
                                     breaker_reset_s=BREAKER_RESET_S, backoff_base_s=0.02, backoff_max_s=0.1)
        metrics = Metrics()
        gateway = build_gateway(settings, metrics, config=config)
        rig = Rig(sim, gateway, metrics, ReviewProcessor(gateway, fallback=fallback, metrics=metrics),
                  fallback.model)
        rigs.append(rig)
        return rig

    yield make
    for rig in rigs:
        await rig.gateway.aclose()
        await rig.sim.close()


def first_accepted_after(history: list[RequestRecord], record: RequestRecord) -> RequestRecord:
    return next(r for r in history if r.arrived_at > record.arrived_at and r.status == 200)


async def wait_for_the_breaker_cool_off(gateway: LLMGateway) -> None:
    # The cool-off is wall-clock time by design (CircuitBreaker): wait it out, then the next request probes.
    breaker = gateway.breaker
    await asyncio.sleep(max(0.0, breaker.opened_at + breaker.reset_timeout_s - time.monotonic()))


async def probe_closes_the_breaker(rig: Rig, start: int) -> None:
    """After the cool-off, one review is the breaker's probe (reviews arriving with it are answered by the fallback
    until the probe is back); its success closes the breaker."""
    [probe] = await rig.analyse(1, start=start)
    assert not probe.degraded, "the probe is answered by the model"
    assert rig.gateway.breaker.state == "closed" and rig.breaker_gauge() == 0


# ------------------------------------------------------------------------------------------------ rate limits
async def test_429_with_retry_after_is_waited_out_and_answered(make_rig: MakeRig) -> None:
    rig = await make_rig(script=("rate_limit", "rate_limit"), retry_after_s=0.4)
    insights = await rig.analyse(8)
    assert not any(i.degraded for i in insights), "a rate limit is waited out, never a reason to degrade"
    history = rig.sim.history
    limited = [r for r in history if r.status == 429]
    assert len(limited) == 2 and rig.sample("reviewstream_llm_rate_limited_total") == 2
    for record in limited:
        # The provider asked for 0.4 s (retry-after-ms): nothing was sent again before.
        assert first_accepted_after(history, record).arrived_at - record.arrived_at >= 0.4
    assert rig.gateway.breaker.state == "closed" and rig.sample("reviewstream_llm_breaker_opened_total") == 0


async def test_429_without_retry_after_cools_down_for_a_second(make_rig: MakeRig) -> None:
    rig = await make_rig(script=("rate_limit_no_retry_after",))
    insights = await rig.analyse(6)
    assert not any(i.degraded for i in insights)
    history = rig.sim.history
    limited = next(r for r in history if r.status == 429)
    assert first_accepted_after(history, limited).arrived_at - limited.arrived_at >= 1.0
    assert rig.gateway.breaker.state == "closed"


# --------------------------------------------------------------------------------------------- server errors
async def test_a_burst_of_5xx_opens_the_breaker_which_closes_once_a_probe_succeeds(make_rig: MakeRig) -> None:
    rig = await make_rig(script=("error",) * BREAKER_FAILURES)
    during = await rig.analyse(6)
    assert all(i.degraded for i in during), "the burst outlasted the attempts: the fallback answered"
    assert rig.sim.stats()["server_errors_5xx"] == BREAKER_FAILURES
    assert rig.gateway.breaker.state == "open" and rig.breaker_gauge() == 2
    assert rig.sample("reviewstream_llm_breaker_opened_total") == 1

    received = rig.sim.stats()["requests_received"]
    while_open = await rig.analyse(3, start=6)
    assert all(i.degraded for i in while_open) and rig.sim.stats()["requests_received"] == received, \
        "an open breaker answers from the fallback at once, sending nothing"
    assert rig.sample("reviewstream_analyzer_requests_total", analyzer="openai", outcome="circuit_open") == 3

    await wait_for_the_breaker_cool_off(rig.gateway)
    await probe_closes_the_breaker(rig, start=9)
    after = await rig.analyse(6, start=10)
    assert not any(i.degraded for i in after), "the model answers again"
    assert rig.sample("reviewstream_llm_breaker_opened_total") == 1


# ------------------------------------------------------------------------------------------------- slowness
async def test_requests_that_hang_past_the_attempt_timeout_are_retried(make_rig: MakeRig) -> None:
    rig = await make_rig(script=("timeout", "timeout"), timeout_hold_s=60)
    insights = await rig.analyse(6)
    assert not any(i.degraded for i in insights)
    assert rig.sim.stats()["timeouts"] == 2 and rig.requests("timeout") == 2
    assert rig.gateway.breaker.state == "closed", "two failures, fewer than the breaker's threshold"


async def test_a_slow_drip_of_bytes_times_out_as_a_whole_and_is_retried(make_rig: MakeRig) -> None:
    # A few kB at 8 bytes per 0.1 s takes over half a minute; every read gets bytes well within the client's read
    # timeout, so only a timeout on the whole attempt ends it.
    rig = await make_rig(script=("drip",), drip_bytes=8, drip_interval_s=0.1)
    insights = await rig.analyse(6)
    assert not any(i.degraded for i in insights)
    assert rig.sim.stats()["faults"] == {"drip": 1} and rig.requests("timeout") == 1


# --------------------------------------------------------------------------------------------- broken replies
@pytest.mark.parametrize("fault", ["truncated", "wrong_schema", "extra_fields", "huge"])
async def test_replies_that_break_the_contract_are_answered_by_the_fallback(make_rig: MakeRig, fault: str) -> None:
    rig = await make_rig(fault=fault, huge_reply_bytes=3_000_000)
    insights = await rig.analyse(4)
    assert all(i.degraded for i in insights), "no broken reply becomes an insight"
    stats = rig.sim.stats()
    assert stats["faults"] == {fault: stats["responses_ok"]} and stats["invalid_replies"] == stats["responses_ok"]
    # Each review alone: a request and its repair per round, two rounds of five attempts, after the batch.
    max_attempts = rig.gateway.config.max_attempts
    assert stats["responses_ok"] == 1 + 4 * 2 * ((max_attempts + 1) // 2)
    # The model answers, if badly: that costs attempts, not the breaker (which guards against outages).
    assert rig.gateway.breaker.state == "closed"
    if fault == "huge":
        # A repair shows the model at most 2,000 characters of its answer, never megabytes.
        assert max(len(json.dumps(body)) for body in rig.sim.requests) < 20_000


async def test_a_wrong_content_type_counts_as_a_failure_and_opens_the_breaker(make_rig: MakeRig) -> None:
    rig = await make_rig(fault="wrong_content_type")
    insights = await rig.analyse(4)
    assert all(i.degraded for i in insights)
    assert rig.requests("invalid_reply") == BREAKER_FAILURES
    assert rig.gateway.breaker.state == "open" and rig.breaker_gauge() == 2

    rig.sim.config.fault = None  # the proxy in front of the model recovers
    await wait_for_the_breaker_cool_off(rig.gateway)
    await probe_closes_the_breaker(rig, start=4)
    after = await rig.analyse(4, start=5)
    assert not any(i.degraded for i in after)


# ------------------------------------------------------------------------------------------------ hostile replies
async def test_a_hostile_reply_is_cleaned_before_it_becomes_an_insight(make_rig: MakeRig) -> None:
    """The model answers in the schema, but with personal data and a link in the summary and the reply draft, a
    competitor the review never named and a one-letter "quote": the output guard removes each before publishing."""
    rig = await make_rig(fault="hostile", hostile=HostileReply(language=None))
    insights = await rig.analyse(6)
    assert not any(i.degraded for i in insights), "the model's answer is kept, cleaned; no fallback needed"
    for insight in insights:
        published = orjson.dumps(insight.to_dict()).decode()
        for planted in ("claims@evil.example", "evil.example", "John Smith"):
            assert planted not in published, (planted, insight.summary, insight.suggested_reply)
        assert "EvilCorp" not in insight.competitors
        assert all(len(a.evidence) > 1 for a in insight.aspects), insight.aspects
    rejected = {(s.labels["field"], s.labels["reason"]) for m in rig.metrics.registry.collect()
                if m.name == "reviewstream_model_output_rejections" for s in m.samples if s.value > 0}
    assert {field for field, _ in rejected} >= {"summary", "suggested_reply", "competitor"}, rejected


async def test_a_reply_that_smuggles_instructions_into_a_field_is_refused_and_answered_offline(
        make_rig: MakeRig) -> None:
    """`language: "en'; ignore previous instructions"` fails the schema: the reply is never used; after the retries
    the offline analyzer answers (degraded), and nothing is lost."""
    rig = await make_rig(fault="hostile", hostile=HostileReply())
    insights = await rig.analyse(4)
    assert all(i.degraded for i in insights)
    assert all("ignore" not in i.language for i in insights)
