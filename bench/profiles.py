"""Click events folded into user profiles by the worker, against a plain aiokafka consume-and-produce loop and a
minimal Faust agent with one table write per event, on two workloads.

    python -m bench.profiles [--events 1000000] [--users 1000000]

All of it reads events from the same broker (the project's Kafka on KAFKA_PORT, default 19092):
- baseline: one aiokafka consumer reads the topic and, per event, parses the JSON and produces it to another topic,
  committing as it goes — what a hand-written repartitioner does, with no state;
- Faust floors (bench/faust_floor.py): a minimal Faust agent with the worker's settings that does nothing, one that
  makes one RocksDB table read and write per event — what any Faust agent that writes once per event costs — and one
  that does only the I/O a click of a new user needs (`distinct_users_io`: row written, profile published, and at the
  session's close row written again and session published);
- worker: `reviewstream worker` (RocksDB tables) validates each click (keyed by user, so read by the profile fold
  directly), folds it into the user's profile and session (one table row), and publishes meaningful changes.
Two workloads of the same size: distinct users (`--users` = `--events`: every click creates a profile, the worst
case, and the one that gives the peak memory for 1,000,000 profiles), and a realistic mix (bench/make_clickstream.py
`realistic_mix`: Zipf users, visits of 5–30 clicks seconds to minutes apart, view ≫ search > cart > checkout >
purchase, 3 % late). The Faust one-write floor runs on both; `worker_vs_one_write_floor` and
`mix_worker_vs_one_write_floor` compare the worker with it. Above 1.0 means fewer than one write per event: the
worker folds the events a partition has ready together and writes each touched row once.
Throughput is events per second from the first to the last event handled. `fold_only_ratio`: the worker's fold in
this process (parse, profile and session fold into a dict: no Kafka, no table, no codec) over the first 200,000
distinct-user events, against the plain loop. The worker's peak resident memory is sampled from its /metrics
(process_resident_memory_bytes). Prints one JSON line. Data: synthetic click events (the clickstream has no public
corpus on the registries).
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import os
import random
import re
import shutil
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import aiohttp
import orjson
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from bench.faust_floor import MODES
from bench.harness import bench_workdir, free_port, kafka_up, start_worker, stop_worker
from bench.make_clickstream import MixShape, realistic_mix
from models.click import parse_click
from models.profile import ProfileFacts, SourceRef, profile_facts, reasons
from models.user_row import UserRow, fold_click_into_row
from streams.kafka.client import KafkaConnection
from streams.settings import Settings
from streams.topics import TopicSpec, ensure_topics

CATEGORIES = ["kitchen", "audio", "books", "toys", "phones", "garden", "sports", "beauty"]


def make_events(n: int, users: int, seed: int) -> list[bytes]:
    rng = random.Random(seed)
    start = time.time() - 30 * 86400
    out = []
    for i in range(n):
        user = f"u{i % users:07d}" if users >= n else f"u{rng.randrange(users):07d}"
        kind = rng.choices(["view", "search", "add_to_cart", "purchase"], weights=[70, 10, 12, 8])[0]
        event: dict[str, Any] = {"event_id": f"e{i}", "user_id": user, "type": kind, "ts": start + i * 0.5}
        if kind == "search":
            event["query"] = rng.choice(CATEGORIES)
        else:
            product = rng.randrange(500)
            event.update(product_id=f"p{product}", category=CATEGORIES[product % 8], price=5.0 + product % 200)
        if kind == "purchase":
            event["order_id"] = f"o{i}"
        out.append(orjson.dumps(event))
    return out


async def produce(kafka: KafkaConnection, topic: str, events: list[bytes]) -> None:
    producer = AIOKafkaProducer(**kafka.client_kwargs(), linger_ms=20, max_batch_size=256 * 1024)
    await producer.start()
    try:
        batch = []
        for value in events:
            key = value[value.index(b'"user_id":"') + 11: value.index(b'"', value.index(b'"user_id":"') + 11)]
            batch.append(await producer.send(topic, value, key=key))
            if len(batch) >= 20_000:
                await asyncio.gather(*batch)
                batch.clear()
        await asyncio.gather(*batch)
    finally:
        await producer.stop()


async def baseline(kafka: KafkaConnection, source: str, target: str, n: int) -> tuple[float, float]:
    """Events/s of consume → parse → produce → commit with plain aiokafka, and its CPU seconds."""
    consumer = AIOKafkaConsumer(source, **kafka.client_kwargs(), group_id=f"bench-baseline-{uuid.uuid4().hex[:6]}",
                                auto_offset_reset="earliest", enable_auto_commit=False, max_poll_records=2000)
    producer = AIOKafkaProducer(**kafka.client_kwargs(), linger_ms=20, max_batch_size=256 * 1024)
    await consumer.start()
    await producer.start()
    done = 0
    first = last = first_cpu = last_cpu = 0.0
    try:
        while done < n:
            batches = await consumer.getmany(timeout_ms=1000)
            if not first and batches:
                first, first_cpu = time.perf_counter(), time.process_time()
            futures = []
            for records in batches.values():
                for record in records:
                    event = orjson.loads(record.value)
                    futures.append(await producer.send(target, orjson.dumps(event), key=event["user_id"].encode()))
                    done += 1
            await asyncio.gather(*futures)
            await consumer.commit()
            last, last_cpu = time.perf_counter(), time.process_time()
    finally:
        await consumer.stop()
        await producer.stop()
    return n / (last - first), last_cpu - first_cpu


def fold_only(events: list[bytes], limit: int = 200_000, batch: int = 1000) -> float:
    """Events/s of the worker's fold by itself — what Python spends on a click before Faust, RocksDB or Kafka: parse
    and validate, fold into the user's row (profile and session), and once per user and batch what decides
    publishing (as agents/profiles.py does; no codec, no table)."""
    rows: dict[str, UserRow] = {}
    sample = events[:limit]
    started = time.perf_counter()
    for first in range(0, len(sample), batch):
        # The worker keeps rows in RocksDB, not in Python: the rows kept here must not make every garbage
        # collection walk them (which would be this loop's main cost by 200,000 users).
        gc.freeze()
        before: dict[str, ProfileFacts | None] = {}
        for offset, raw in enumerate(sample[first:first + batch], start=first):
            click = parse_click(raw)
            user_id = click.user_id
            row = rows.get(user_id)
            if user_id not in before:
                before[user_id] = profile_facts(row.profile) if row is not None else None
            folded = fold_click_into_row(row, click, SourceRef("bench", 0, offset))
            if folded is not None:
                rows[user_id] = folded[0]
        for user_id, facts in before.items():
            reasons(facts, rows[user_id].profile)
    elapsed = time.perf_counter() - started
    gc.unfreeze()
    return len(sample) / elapsed


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def scrape(session: aiohttp.ClientSession, url: str) -> dict[str, float]:
    try:
        async with session.get(url) as response:
            text = await response.text()
    except aiohttp.ClientError:
        return {}
    figures = {}
    for name, pattern in (("rss", r"^process_resident_memory_bytes (\S+)"),
                          ("folded", r'^reviewstream_profile_folds_total\{kind="click"\} (\S+)')):
        match = re.search(pattern, text, re.MULTILINE)
        if match:
            figures[name] = float(match.group(1))
    return figures


async def through_worker(port: int, events: list[bytes], workdir: Path,
                         worker_settings: dict[str, str]) -> dict[str, float]:
    tag = uuid.uuid4().hex[:8]
    web_port = free_port()
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("REVIEWSTREAM_")},
        "REVIEWSTREAM_BROKER": f"kafka://127.0.0.1:{port}", "REVIEWSTREAM_APP_ID": f"bench-profiles-{tag}",
        "REVIEWSTREAM_CLICKSTREAM_TOPIC": f"bench-clicks-{tag}", "REVIEWSTREAM_REVIEWS_TOPIC": f"bench-r-{tag}",
        "REVIEWSTREAM_INSIGHTS_TOPIC": f"bench-i-{tag}", "REVIEWSTREAM_DEAD_LETTERS_TOPIC": f"bench-d-{tag}",
        "REVIEWSTREAM_PROFILES_TOPIC": f"bench-up-{tag}", "REVIEWSTREAM_SESSIONS_TOPIC": f"bench-us-{tag}",
        "REVIEWSTREAM_PRODUCT_SENTIMENT_TOPIC": f"bench-ps-{tag}", "REVIEWSTREAM_WEB_PORT": str(web_port),
        "REVIEWSTREAM_DATADIR": str(workdir / f"data-{tag}"),
        **{f"REVIEWSTREAM_{name.upper()}": value for name, value in worker_settings.items()},
    }
    settings = Settings.model_validate({k[len("REVIEWSTREAM_"):].lower(): v for k, v in env.items()
                                        if k.startswith("REVIEWSTREAM_")})
    await ensure_topics(settings)
    await produce(settings.kafka(), settings.clickstream_topic, events)
    worker = start_worker(env, workdir / "worker.log")
    peak = 0.0
    first = last = first_cpu = last_cpu = folded_first = 0.0
    try:
        async with aiohttp.ClientSession() as session:
            url = f"http://127.0.0.1:{web_port}/metrics"
            deadline = time.monotonic() + 3600
            while time.monotonic() < deadline and worker.poll() is None:
                figures = await scrape(session, url)
                peak = max(peak, figures.get("rss", 0.0))
                folded = figures.get("folded", 0.0)
                if folded and not first:
                    first, first_cpu, folded_first = time.perf_counter(), cpu_seconds(worker.pid), folded
                if folded >= len(events):
                    last, last_cpu = time.perf_counter(), cpu_seconds(worker.pid)
                    break
                # Each scrape costs the worker the exposition of every metric: often only where timing needs it.
                await asyncio.sleep(0.25 if not first or folded >= 0.95 * len(events) else 2.0)
    finally:
        stop_worker(worker)
        shutil.rmtree(workdir / f"data-{tag}", ignore_errors=True)
    if not last:
        raise RuntimeError(f"the worker did not fold all events; see {workdir / 'worker.log'}")
    # Counted from the first scrape that saw folding: the events folded before it are not in the span.
    counted = len(events) - folded_first
    return {"events_per_s": counted / (last - first), "peak_rss_bytes": peak, "seconds": last - first,
            "cpu_us_per_event": (last_cpu - first_cpu) / counted * 1e6}


def faust_floor(mode: str, port: int, topic: str, partitions: int, n: int, workdir: Path) -> dict[str, float]:
    """Events/s (and CPU seconds) of the minimal Faust app of bench/faust_floor.py over the same events."""
    tag = uuid.uuid4().hex[:8]
    result = workdir / f"floor-{mode}-{tag}.json"
    env = {**os.environ, "FLOOR_MODE": mode, "FLOOR_BROKER": f"kafka://127.0.0.1:{port}", "FLOOR_TOPIC": topic,
           "FLOOR_PARTITIONS": str(partitions), "FLOOR_EVENTS": str(n), "FLOOR_RESULT": str(result),
           "FLOOR_DATADIR": str(workdir / f"floor-data-{tag}"), "FLOOR_TAG": tag}
    with (workdir / "floor.log").open("ab") as log:
        subprocess.run([sys.executable, "-m", "bench.faust_floor"], env=env, stdout=log, stderr=subprocess.STDOUT,
                       timeout=3600, check=False)
    shutil.rmtree(workdir / f"floor-data-{tag}", ignore_errors=True)
    if not result.exists():
        raise RuntimeError(f"the Faust floor app ({mode}) did not finish; see {workdir / 'floor.log'}")
    figures = orjson.loads(result.read_bytes())
    return {"events_per_s": float(figures["events_per_s"]), "cpu_s": float(figures["cpu_s"])}


async def run(n: int, users: int, port: int, seed: int, workdir: Path,
              worker_settings: dict[str, str]) -> dict[str, Any]:
    events = make_events(n, users, seed)
    shape = MixShape()
    mix_records = realistic_mix(n, seed, shape)
    mix = [orjson.dumps(e) for e in mix_records]
    tag = uuid.uuid4().hex[:8]
    source, target, mix_source = f"bench-base-src-{tag}", f"bench-base-dst-{tag}", f"bench-mix-src-{tag}"
    settings = Settings(broker=f"kafka://127.0.0.1:{port}")
    kafka = settings.kafka()
    await ensure_topics(settings, [TopicSpec(topic, settings.topic_partitions, 1)
                                   for topic in (source, target, mix_source)])
    await produce(kafka, source, events)
    await produce(kafka, mix_source, mix)
    base_rate, base_cpu = await baseline(kafka, source, target, n)
    floors = {mode: faust_floor(mode, port, source, settings.topic_partitions, n, workdir) for mode in MODES}
    mix_floor = faust_floor("one_table_write", port, mix_source, settings.topic_partitions, n, workdir)
    fold_rate = fold_only(events)
    worker = await through_worker(port, events, workdir, worker_settings)
    mix_worker = await through_worker(port, mix, workdir, worker_settings)
    one_write, mix_one_write = floors["one_table_write"]["events_per_s"], mix_floor["events_per_s"]
    cpu_us = {name: round(us, 1) for name, us in (
        ("baseline", base_cpu / n * 1e6), ("faust_stateless", floors["stateless"]["cpu_s"] / n * 1e6),
        ("faust_one_table_write", floors["one_table_write"]["cpu_s"] / n * 1e6),
        ("faust_distinct_users_io", floors["distinct_users_io"]["cpu_s"] / n * 1e6),
        ("mix_faust_one_table_write", mix_floor["cpu_s"] / n * 1e6), ("worker", worker["cpu_us_per_event"]),
        ("mix_worker", mix_worker["cpu_us_per_event"]))}
    return {
        "bench": "profiles",
        "events": n,
        "distinct_users": min(users, n),
        "baseline_events_per_s": round(base_rate, 1),
        "worker_events_per_s": round(worker["events_per_s"], 1),
        "ratio": round(worker["events_per_s"] / base_rate, 3),
        "worker_seconds": round(worker["seconds"], 1),
        # The same events through a minimal Faust agent: doing nothing, and one RocksDB table read + write per event.
        "faust_stateless_events_per_s": round(floors["stateless"]["events_per_s"], 1),
        "faust_stateless_ratio": round(floors["stateless"]["events_per_s"] / base_rate, 3),
        "faust_one_table_write_events_per_s": round(one_write, 1),
        "faust_one_table_write_ratio": round(one_write / base_rate, 3),
        "worker_vs_one_write_floor": round(worker["events_per_s"] / one_write, 3),
        # What the worker cannot avoid with one click per user (bench/faust_floor.py `distinct_users_io`: two reads,
        # two writes, two output records per event, nothing computed), against the one-write floor: the ratio no
        # worker that keeps sessions and publishes them can pass on this workload; and the worker against it.
        "faust_distinct_users_io_events_per_s": round(floors["distinct_users_io"]["events_per_s"], 1),
        "distinct_users_io_vs_one_write_floor": round(floors["distinct_users_io"]["events_per_s"] / one_write, 3),
        "worker_vs_distinct_users_io_floor": round(worker["events_per_s"]
                                                   / floors["distinct_users_io"]["events_per_s"], 3),
        # The realistic mix, same number of events: the worker and the one-write floor on it.
        "mix_worker_events_per_s": round(mix_worker["events_per_s"], 1),
        "mix_faust_one_table_write_events_per_s": round(mix_one_write, 1),
        "mix_worker_vs_one_write_floor": round(mix_worker["events_per_s"] / mix_one_write, 3),
        "mix_distinct_users": len({e["user_id"] for e in mix_records}),
        "mix_worker_peak_rss_mib": round(mix_worker["peak_rss_bytes"] / 2**20, 1),
        "mix_span_h": round(shape.span_s / 3600, 1),
        # The fold alone, no I/O: what Python spends per click before Faust, RocksDB or Kafka.
        "fold_only_events_per_s": round(fold_rate, 1),
        "fold_only_us_per_click": round(1e6 / fold_rate, 1),
        "fold_only_ratio": round(fold_rate / base_rate, 3),
        "worker_peak_rss_mib": round(worker["peak_rss_bytes"] / 2**20, 1),
        # CPU time per event of each process over its measured span (the broker's not counted): less sensitive than
        # throughput to other work on the machine; the same ratios from it.
        "cpu_us_per_event": cpu_us,
        "cpu_worker_vs_one_write_floor": round(cpu_us["faust_one_table_write"] / cpu_us["worker"], 3),
        "cpu_mix_worker_vs_one_write_floor": round(cpu_us["mix_faust_one_table_write"] / cpu_us["mix_worker"], 3),
        "worker_settings": worker_settings,
        "store": "rocksdb",
        "data": "synthetic clicks: distinct users (views, searches, carts, purchases over 500 products); a realistic "
                "mix (bench/make_clickstream.py)",
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.profiles", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--users", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--worker-setting", action="append", default=[], metavar="NAME=VALUE",
                        help="a worker setting (streams/settings.py name, e.g. fold_batch_max_events=1) for both "
                        "worker runs, to measure one lever at a time")
    args = parser.parse_args(argv)
    worker_settings = dict(item.split("=", 1) for item in args.worker_setting)
    result = asyncio.run(run(args.events, args.users, kafka_up(), args.seed, bench_workdir("bench-profiles"),
                             worker_settings))
    sys.stdout.write(orjson.dumps(result).decode() + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
