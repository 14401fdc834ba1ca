"""Did a fleet lose or double-count anything? What its input topics hold, against what its workers made of it.

    verdict = await settle(fleet, timeout_s=300)
    assert verdict.lost == 0 and verdict.counted_twice == 0, verdict.summary()

The clicks and reviews are read back from the input topics (what the broker really holds, in partition order), so
the check does not depend on how the producer fared during the faults; `input_duplicates` says whether it wrote any
event twice (it should not: it is idempotent). Within `timeout_s`, every review must have its insight. Then the
fleet's workers are killed (SIGKILL) and one new worker with an empty data folder, whose tables can only come from their
changelog topics, takes every partition: its `/profiles/<user>/` view must give, for every user, the profile of the
independent reference fold (tests/unit/reference_profile.py) over those clicks and insights. So a table update that
only ever reached a worker's local RocksDB, and never its changelog, is found too. (Asking the live workers instead
is not reliable: with two workers, faust-streaming 0.15.3's table routing answers 404 for some users whose profiles
exist — seen while writing this bench; one worker answers for all.)
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import orjson
from aiokafka import AIOKafkaConsumer, TopicPartition

from bench.fleet import Fleet
from streams.kafka.client import KafkaConnection
from tests.unit.reference_profile import ReferenceProfile, differences, reference_profiles

__all__ = ["CHECKER", "Verdict", "read_topics", "settle"]

# The worker that rebuilds every table from the changelogs for the final comparison.
CHECKER = "checker"


@dataclass
class Verdict:
    clicks: int = 0
    reviews: int = 0
    input_duplicates: int = 0
    insight_records: int = 0
    reviews_without_insight: list[str] = field(default_factory=list)
    dead_letters: int = 0
    profiles: int = 0
    # user_id → what differs from the reference
    profiles_differing: dict[str, list[str]] = field(default_factory=dict)
    # Clicks and reviews the profiles count more often than the input holds them, and fewer.
    counted_twice: int = 0
    missing_from_profiles: int = 0
    seconds_to_settle: float = 0.0

    @property
    def insight_duplicates(self) -> int:
        """Insights published more than once for a review (at-least-once: allowed, and the profile ignores them)."""
        return self.insight_records - (self.reviews - len(self.reviews_without_insight))

    @property
    def lost(self) -> int:
        return len(self.reviews_without_insight) + self.missing_from_profiles

    def summary(self) -> str:
        examples = list(self.profiles_differing.items())[:3]
        return (f"{self.lost} lost ({len(self.reviews_without_insight)} reviews without insight, e.g. "
                f"{self.reviews_without_insight[:5]}; {self.missing_from_profiles} events missing from profiles), "
                f"{self.counted_twice} counted twice, {self.input_duplicates} input duplicates, "
                f"{len(self.profiles_differing)} of {self.profiles} profiles differ, e.g. {examples}")


async def read_topics(kafka: KafkaConnection, topics: Iterable[str], partitions: int) -> dict[str, list[Any]]:
    """Every record of `topics` (of `partitions` partitions each) up to their current end, partition after
    partition, each partition in offset order (so each user's clicks keep their order)."""
    consumer = AIOKafkaConsumer(**kafka.client_kwargs(), group_id=None, enable_auto_commit=False)
    await consumer.start()
    tps = [TopicPartition(t, p) for t in topics for p in range(partitions)]
    try:
        consumer.assign(tps)
        await consumer.seek_to_beginning(*tps)
        ends = await consumer.end_offsets(tps)
        records: dict[TopicPartition, list[Any]] = {tp: [] for tp in tps}
        while [tp for tp in tps if await consumer.position(tp) < ends[tp]]:
            for tp, batch in (await consumer.getmany(timeout_ms=1000)).items():
                records[tp].extend(r for r in batch if r.offset < ends[tp])
    finally:
        await consumer.stop()
    return {t: [r for tp in tps if tp.topic == t for r in records[tp]] for t in topics}


async def settle(fleet: Fleet, timeout_s: float = 300.0) -> Verdict:
    """Wait up to `timeout_s` for every review's insight and for every profile to equal the reference (the fleet's
    workers are stopped on the way); the verdict says what was still wrong at the deadline (nothing, if all went
    well)."""
    started = time.monotonic()
    deadline = started + timeout_s
    s = fleet.settings
    kafka = s.kafka()
    inputs = await read_topics(kafka, [s.clickstream_topic, s.reviews_topic], s.topic_partitions)
    clicks = [orjson.loads(r.value) for r in inputs[s.clickstream_topic]]
    reviews = [orjson.loads(r.value)["review_id"] for r in inputs[s.reviews_topic]]
    verdict = Verdict(clicks=len(clicks), reviews=len(set(reviews)))
    verdict.input_duplicates = (len(clicks) - len({c["event_id"] for c in clicks})) + (len(reviews) - len(set(reviews)))

    insights = await _insights(fleet, set(reviews), deadline)
    verdict.insight_records = len(insights)
    seen = {i["review_id"] for i in insights}
    verdict.reviews_without_insight = sorted(set(reviews) - seen)
    expected = reference_profiles(clicks, insights)
    verdict.profiles = len(expected)
    # Killed rather than stopped: a crash is the harder case for the changelogs, and a clean stop can wait minutes
    # for a stream to drain.
    fleet.kill_all()
    fleet.start(CHECKER)
    try:
        await fleet.wait_ready(CHECKER, timeout_s=max(60.0, deadline - time.monotonic()))
        await _compare_profiles(fleet, CHECKER, expected, verdict, deadline)
    finally:
        fleet.kill_all()
    letters = await read_topics(kafka, [s.dead_letters_topic], s.topic_partitions)
    verdict.dead_letters = len(letters[s.dead_letters_topic])
    verdict.seconds_to_settle = time.monotonic() - started
    return verdict


async def _insights(fleet: Fleet, wanted: set[str], deadline: float) -> list[dict[str, Any]]:
    consumer = AIOKafkaConsumer(fleet.settings.insights_topic, **fleet.settings.kafka().client_kwargs(),
                                auto_offset_reset="earliest", enable_auto_commit=False, group_id=None)
    await consumer.start()
    insights: list[dict[str, Any]] = []
    seen: set[str] = set()
    try:
        while not wanted <= seen and time.monotonic() < deadline:
            for batch in (await consumer.getmany(timeout_ms=500)).values():
                for record in batch:
                    insights.append(orjson.loads(record.value))
                    seen.add(insights[-1]["review_id"])
        # What was published meanwhile, beyond the first copy of each (to count duplicates).
        for batch in (await consumer.getmany(timeout_ms=1000)).values():
            insights.extend(orjson.loads(record.value) for record in batch)
    finally:
        await consumer.stop()
    return insights


async def _compare_profiles(fleet: Fleet, worker: str, expected: dict[str, ReferenceProfile], verdict: Verdict,
                            deadline: float) -> None:
    url = f"http://127.0.0.1:{fleet.web_ports[worker]}/profiles"
    async with aiohttp.ClientSession(headers=fleet.api_headers) as session:
        while True:
            got: dict[str, dict[str, Any] | None] = {}
            for user_id in expected:
                try:
                    async with session.get(f"{url}/{user_id}/") as response:
                        got[user_id] = (await response.json())["profile"] if response.status == 200 else None
                except aiohttp.ClientError:
                    got[user_id] = None  # the worker, or the one it routes to, is restarting
            _tally(expected, got, verdict)
            if not verdict.profiles_differing or time.monotonic() >= deadline:
                return
            await asyncio.sleep(1.0)  # the workers are still folding; look again


def _tally(expected: dict[str, ReferenceProfile], got: dict[str, dict[str, Any] | None], verdict: Verdict) -> None:
    verdict.profiles_differing, verdict.counted_twice, verdict.missing_from_profiles = {}, 0, 0
    for user_id, ref in expected.items():
        profile = got[user_id]
        if profile is None:
            verdict.profiles_differing[user_id] = ["no profile"]
            verdict.missing_from_profiles += sum(ref.counts.values()) + ref.review_count
            continue
        diff = differences(ref, profile)
        if diff:
            verdict.profiles_differing[user_id] = diff
        want = Counter(ref.counts) + Counter(reviews=ref.review_count)
        have = Counter({k: int(v) for k, v in profile["counts"].items()}) + \
            Counter(reviews=int(profile["review_count"]))
        verdict.counted_twice += sum((have - want).values())
        verdict.missing_from_profiles += sum((want - have).values())
