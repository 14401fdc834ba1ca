"""Broker restarts and worker kills under load, then: was anything lost or counted twice?

    python -m bench.chaos [--port 19592] [--rate 150] [--outage-s 20] [--broker-faults SIGTERM,SIGKILL]
                          [--worker-kills 20] [--kill-every-s 6]

On a broker of its own (the project's, deploy/kafka/kafka.sh, on `--port`, data in .local/kafka-<port>/, removed at
the end), two workers share a fresh deployment while a producer sends clicks and reviews of real text at `--rate`
events/s, riding out the outages (idempotent, so it never writes an event twice). Then:
1. broker faults: for each of `--broker-faults` the broker is stopped with that signal, stays away `--outage-s`
   seconds and is started again from its data folder; the workers are not touched. `recover_s` is the time from the
   broker accepting clients again to the insight of the first review sent after that (everything queued before it
   in its partition is done by then);
2. worker chaos: `--worker-kills` times, every `--kill-every-s` seconds, one worker (each in turn) is killed with
   SIGKILL and started again at once with its data folder, as a crashed pod is;
3. the producer stops; within `--settle-timeout-s` every review must have its insight and every profile must equal
   the independent reference fold over what the input topics hold (bench/verdict.py).
A worker that exits by itself is restarted, as a supervisor would (`unexpected_exits`; a worker rides out a broker
outage shorter than its producer's 60 s request timeout, so none are expected here).
Prints one JSON line: kills, restarts, events, lost (must be 0), counted_twice (must be 0), the recovery time after
each broker restart, input duplicates (must be 0), insight duplicates (at-least-once re-publications: allowed).
The tests run the same scenario, shorter (tests/integration/test_broker_faults.py, test_chaos.py).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import signal
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
from aiokafka import AIOKafkaConsumer

from bench.fleet import Fleet
from bench.harness import LocalBroker, bench_workdir
from bench.verdict import Verdict, settle
from bench.workload import ShopProducer, Workload

__all__ = ["ChaosPlan", "ChaosResult", "run_chaos"]


@dataclass(frozen=True)
class ChaosPlan:
    workers: int = 2
    rate_per_s: float = 150.0
    users: int = 300
    warmup_s: float = 10.0
    # Signals the broker is stopped with, one restart each, in order.
    broker_faults: tuple[signal.Signals, ...] = (signal.SIGTERM, signal.SIGKILL)
    outage_s: float = 20.0
    worker_kills: int = 20
    kill_every_s: float = 6.0
    # Restart a worker that exits by itself (a supervisor); off, it stays down (and the run says so).
    supervise: bool = True
    settle_timeout_s: float = 300.0
    recover_timeout_s: float = 300.0


@dataclass
class BrokerRestart:
    signal: str
    outage_s: float
    broker_start_s: float
    recover_s: float | None


@dataclass
class ChaosResult:
    plan: ChaosPlan
    verdict: Verdict
    fleet: Fleet
    events_sent: int = 0
    broker_restarts: list[BrokerRestart] = field(default_factory=list)
    worker_kills: int = 0
    worker_ready_s: list[float] = field(default_factory=list)
    seconds: float = 0.0

    def figures(self) -> dict[str, Any]:
        v = self.verdict
        return {
            "bench": "chaos",
            "workers": self.plan.workers,
            "rate_per_s": self.plan.rate_per_s,
            "events": self.events_sent,
            "clicks": v.clicks,
            "reviews": v.reviews,
            "broker_restarts": [vars(r) for r in self.broker_restarts],
            "worker_kills": self.worker_kills,
            "worker_restarts": self.fleet.restarts,
            "unexpected_exits": [vars(e) for e in self.fleet.unexpected_exits],
            "lost": v.lost,
            "reviews_without_insight": len(v.reviews_without_insight),
            "counted_twice": v.counted_twice,
            "profiles": v.profiles,
            "profiles_differing": len(v.profiles_differing),
            "input_duplicates": v.input_duplicates,
            "insight_duplicates": v.insight_duplicates,
            "dead_letters": v.dead_letters,
            "settle_s": round(v.seconds_to_settle, 1),
            "seconds": round(self.seconds, 1),
        }


class InsightClock:
    """When each review's first insight was seen (wall clock, by a reader tailing the insights topic)."""

    def __init__(self) -> None:
        self.first_seen: dict[str, float] = {}
        self._more = asyncio.Event()

    async def follow(self, fleet: Fleet, stop: asyncio.Event) -> None:
        consumer = AIOKafkaConsumer(fleet.settings.insights_topic, **fleet.settings.kafka().client_kwargs(),
                                    auto_offset_reset="earliest", enable_auto_commit=False, group_id=None)
        await consumer.start()
        try:
            while not stop.is_set():
                for batch in (await consumer.getmany(timeout_ms=500)).values():
                    now = time.monotonic()
                    for record in batch:
                        self.first_seen.setdefault(orjson.loads(record.value)["review_id"], now)
                    self._more.set()
        finally:
            await consumer.stop()

    async def seen(self, review_id: str, timeout_s: float) -> float | None:
        deadline = time.monotonic() + timeout_s
        while review_id not in self.first_seen and time.monotonic() < deadline:
            self._more.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._more.wait(), timeout=deadline - time.monotonic())
        return self.first_seen.get(review_id)


async def run_chaos(plan: ChaosPlan, broker_url: str, workdir: Path, broker: LocalBroker | None = None,
                    loglevel: str = "info") -> ChaosResult:
    """The scenario of this module's docstring; `broker` is needed only for broker faults."""
    if plan.broker_faults and broker is None:
        raise ValueError("broker faults need a LocalBroker of the run's own, never a shared one")
    started = time.monotonic()
    fleet = Fleet(broker_url, workdir, loglevel=loglevel)
    await fleet.create_topics()
    names = [f"w{i + 1}" for i in range(plan.workers)]
    for name in names:
        fleet.start(name)
    stop, stop_producing = asyncio.Event(), asyncio.Event()
    clock = InsightClock()
    result = ChaosResult(plan=plan, verdict=Verdict(), fleet=fleet)
    tasks = [asyncio.create_task(fleet.watch(stop, restart=plan.supervise)),
             asyncio.create_task(clock.follow(fleet, stop))]
    try:
        result.worker_ready_s = [await fleet.wait_ready(name) for name in names]
        async with ShopProducer(fleet.settings.kafka(), fleet.settings) as producer:
            producing = asyncio.create_task(producer.send_paced(
                Workload(users=plan.users, prefix=f"{fleet.tag}-"), plan.rate_per_s, stop=stop_producing))
            await asyncio.sleep(plan.warmup_s)  # load before the first fault
            for sig in plan.broker_faults:
                assert broker is not None
                result.broker_restarts.append(await _restart_broker(broker, sig, plan, producer, clock))
            for k in range(plan.worker_kills):
                victim = names[k % len(names)]
                await fleet.kill(victim, signal.SIGKILL)
                fleet.start(victim)
                result.worker_kills += 1
                await asyncio.sleep(plan.kill_every_s)  # the chaos loop's period
            stop_producing.set()
            result.events_sent = await producing
        result.verdict = await settle(fleet, timeout_s=plan.settle_timeout_s)
    finally:
        stop.set()
        for task in tasks:
            with contextlib.suppress(Exception):
                await task
        fleet.stop_all()
    result.seconds = time.monotonic() - started
    return result


async def _restart_broker(broker: LocalBroker, sig: signal.Signals, plan: ChaosPlan, producer: ShopProducer,
                          clock: InsightClock) -> BrokerRestart:
    stopped_at = time.monotonic()
    await asyncio.to_thread(broker.stop, sig)
    await asyncio.sleep(plan.outage_s)  # how long the broker stays away
    start_s = await asyncio.to_thread(broker.up)
    back_at = time.monotonic()
    # The first review the producer sends from now on: its insight means its partition has caught up.
    first_new = len(producer.sent)
    probe = None
    while probe is None and time.monotonic() - back_at < plan.recover_timeout_s:
        probe = next((e.ident for e in producer.sent[first_new:] if e.kind == "review"), None)
        if probe is None:
            await asyncio.sleep(0.1)  # the producer sends at its pace
    seen_at = await clock.seen(probe, plan.recover_timeout_s) if probe else None
    return BrokerRestart(signal=sig.name, outage_s=round(back_at - stopped_at, 1), broker_start_s=round(start_s, 1),
                         recover_s=round(seen_at - back_at, 1) if seen_at is not None else None)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.chaos", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--port", type=int, default=19592, help="the run's own broker (never a shared one)")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--rate", type=float, default=150.0, help="events per second (clicks, 1 in 10 a review)")
    parser.add_argument("--users", type=int, default=300)
    parser.add_argument("--broker-faults", default="SIGTERM,SIGKILL", help="comma-separated signals, '' for none")
    parser.add_argument("--outage-s", type=float, default=20.0)
    parser.add_argument("--worker-kills", type=int, default=20)
    parser.add_argument("--kill-every-s", type=float, default=6.0)
    parser.add_argument("--settle-timeout-s", type=float, default=300.0)
    parser.add_argument("--keep", action="store_true", help="leave the broker and its data for a look afterwards")
    args = parser.parse_args(argv)
    # The run's own clients complain about every connection the outages refuse; the workers' logs say what matters.
    logging.getLogger("aiokafka").setLevel(logging.CRITICAL)
    plan = ChaosPlan(workers=args.workers, rate_per_s=args.rate, users=args.users,
                     broker_faults=tuple(signal.Signals[s.strip()] for s in args.broker_faults.split(",") if s.strip()),
                     outage_s=args.outage_s, worker_kills=args.worker_kills, kill_every_s=args.kill_every_s,
                     settle_timeout_s=args.settle_timeout_s)
    broker = LocalBroker(args.port)
    broker.reset()  # a fresh data folder: nothing of an earlier run
    broker.up()
    try:
        result = asyncio.run(run_chaos(plan, broker.url, bench_workdir(f"bench-chaos-{int(time.time())}"), broker))
    finally:
        if not args.keep:
            broker.reset()
    figures = result.figures()
    figures["workdir"] = str(result.fleet.workdir)
    sys.stdout.write(orjson.dumps(figures).decode() + "\n")
    if result.verdict.lost or result.verdict.counted_twice:
        sys.stderr.write(result.verdict.summary() + "\n")
    return 0 if result.verdict.lost == 0 and result.verdict.counted_twice == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
