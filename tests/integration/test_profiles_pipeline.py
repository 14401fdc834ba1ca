"""Clickstream and reviews → user profiles on the real broker, through real workers, against an independent
reference; with a SIGKILL and a restart from the changelog, and with two workers sharing the partitions."""

from __future__ import annotations

import asyncio
import random
import signal
import time
from typing import Any

import aiohttp
import orjson
import pytest

from tests.conftest import sample_reviews
from tests.integration.conftest import API_HEADERS, Deployment
from tests.unit.reference_profile import ReferenceProfile, differences, reference_profiles

pytestmark = pytest.mark.integration

USERS = 120
PRODUCTS = {f"p{i:02d}": (["kitchen", "audio", "books", "toys"][i % 4], ["Acme", "Globex", "Initech"][i % 3],
                          round(5 + 7.5 * i, 2)) for i in range(40)}


def make_clicks(n: int, seed: int = 3) -> list[dict[str, Any]]:
    """A plausible clickstream: browsing, searches, carts, removals, one-line orders, in event-time order."""
    rng = random.Random(seed)
    start = time.time() - 20 * 86400
    clicks = []
    for i in range(n):
        user = f"u{rng.randrange(USERS):03d}"
        product = rng.choice(list(PRODUCTS))
        category, brand, price = PRODUCTS[product]
        kind = rng.choices(["view", "search", "add_to_cart", "remove_from_cart", "purchase"],
                           weights=[50, 15, 15, 5, 10])[0]
        click: dict[str, Any] = {"event_id": f"e{i}", "user_id": user, "type": kind, "ts": start + i * 60}
        if kind == "search":
            click["query"] = f"{category} {brand}".lower()
        else:
            click.update(product_id=product, category=category, brand=brand, price=price)
        if kind in ("add_to_cart", "purchase"):
            click["quantity"] = rng.randint(1, 3)
        if kind == "purchase":
            click["order_id"] = f"o{i}"
        clicks.append(click)
    return clicks


def make_reviews(clicks: list[dict[str, Any]], n: int) -> list[dict[str, Any]]:
    texts = sample_reviews()
    rng = random.Random(5)
    users = sorted({c["user_id"] for c in clicks})
    return [{**texts[i % len(texts)], "review_id": f"pr-{i:04d}", "user_id": rng.choice(users),
             "product_id": rng.choice(list(PRODUCTS)), "created_at": clicks[0]["ts"] + i * 3600} for i in range(n)]


async def produce_all(deployment: Deployment, clicks: list[dict[str, Any]], reviews: list[dict[str, Any]]) -> None:
    # Keyed by user, as a shop's tracker sends them: one user's clicks stay in order in one partition.
    await deployment.produce([orjson.dumps(c) for c in clicks], topic=deployment.settings.clickstream_topic,
                             keys=[c["user_id"].encode() for c in clicks])
    await deployment.produce([orjson.dumps(r) for r in reviews])


async def all_insights(deployment: Deployment, reviews: list[dict[str, Any]]) -> list[dict[str, Any]]:
    wanted = {r["review_id"] for r in reviews}
    outputs = await deployment.collect(
        lambda out: wanted <= {i["review_id"] for i in out[deployment.settings.insights_topic]}, timeout_s=180)
    insights = outputs[deployment.settings.insights_topic]
    assert wanted <= {i["review_id"] for i in insights}
    return insights


async def profiles_match(port: int, expected: dict[str, ReferenceProfile], timeout_s: float = 180) -> dict[str, list]:
    """Poll the worker's HTTP view until every profile equals the reference; return what still differs."""
    deadline = time.monotonic() + timeout_s
    problems: dict[str, list] = {}
    async with aiohttp.ClientSession(headers=API_HEADERS) as session:
        while time.monotonic() < deadline:
            problems = {}
            try:
                for user_id, ref in expected.items():
                    async with session.get(f"http://127.0.0.1:{port}/profiles/{user_id}/") as response:
                        if response.status != 200:
                            problems[user_id] = [f"HTTP {response.status}"]
                            continue
                        diff = differences(ref, (await response.json())["profile"])
                        if diff:
                            problems[user_id] = diff
            except aiohttp.ClientError as exc:  # the worker is still starting
                problems = {"*": [str(exc)]}
            if not problems:
                return {}
            await asyncio.sleep(0.5)  # the worker is still folding; poll again
    return problems


async def wait_for_profiles(deployment: Deployment, count: int, proc: Any) -> None:
    outputs = await deployment.collect(lambda out: len(out[deployment.settings.profiles_topic]) >= count,
                                       topics=[deployment.settings.profiles_topic], proc=proc)
    assert len(outputs[deployment.settings.profiles_topic]) >= count, deployment.log_tail()


async def test_profiles_equal_the_reference_after_sigkill_and_recovery_from_the_changelog(
    deployment: Deployment,
) -> None:
    clicks, reviews = make_clicks(5000), []
    reviews = make_reviews(clicks, 150)
    await produce_all(deployment, clicks, reviews)
    first = deployment.start_worker("w1")
    await wait_for_profiles(deployment, 100, first)
    first.send_signal(signal.SIGKILL)
    first.wait(timeout=30)

    # A fresh data folder: the tables can only come back from their changelog topics.
    second = deployment.start_worker("w2")
    expected = reference_profiles(clicks, await all_insights(deployment, reviews))
    problems = await profiles_match(deployment.web_ports["w2"], expected)
    assert not problems, f"{len(problems)} profiles differ, e.g. {list(problems.items())[:3]}\n" + \
        deployment.log_tail("w2")
    assert second.poll() is None


@pytest.mark.timeout(300)
async def test_offsets_the_consumer_skips_are_read_back_into_the_profiles(deployment: Deployment) -> None:
    """The consumer passes over offsets of a clickstream partition and of a profile-events partition (see
    tests/integration/skip_injection.py): the forwarder and the fold notice the holes and read them back, so the
    profiles still equal the reference. Every click is repartitioned here, so that both agents see holes."""
    clicks = make_clicks(1500, seed=19)
    settings = deployment.settings
    await produce_all(deployment, clicks, [])
    drops = f"{settings.clickstream_topic}:0:3-9,{settings.profile_events_topic}:1:20-31"
    worker = deployment.start_worker("w1", entry="tests.integration.skip_injection", RS_TEST_DROP_OFFSETS=drops,
                                     REVIEWSTREAM_CLICKS_KEYED_BY_USER="false")
    problems = await profiles_match(deployment.web_ports["w1"], reference_profiles(clicks, []))
    log = deployment.log_tail("w1", 200_000)
    assert log.count("skip injection: dropped") == 7 + 12, "the injection must have taken effect for this to count"
    assert not problems, f"{len(problems)} profiles differ, e.g. {list(problems.items())[:3]}\n" + log[-5000:]
    assert f"{settings.clickstream_topic}[0]: offsets 3..9 were skipped by the consumer; reading them back" in log
    assert f"{settings.profile_events_topic}[1]: offsets 20..31 were skipped by the consumer; reading them back" in log
    assert worker.poll() is None


async def test_clicks_keyed_by_something_else_reach_their_users_partition(deployment: Deployment) -> None:
    """The fold reads the clickstream directly; clicks that a tracker keyed by its own visitor id land on other
    partitions than their user's and are repartitioned there, so the profiles are the same as with clicks keyed by
    user_id. (One key per user keeps each user's clicks in order; a key per event would not, and the cart, which
    depends on the order of adds and removes, could then differ whatever the worker does.)"""
    clicks = make_clicks(1200, seed=23)
    reviews = make_reviews(clicks, 30)
    await deployment.produce([orjson.dumps(c) for c in clicks], topic=deployment.settings.clickstream_topic,
                             keys=[f"visitor-{c['user_id']}".encode() for c in clicks])
    await deployment.produce([orjson.dumps(r) for r in reviews])
    worker = deployment.start_worker("w1")
    expected = reference_profiles(clicks, await all_insights(deployment, reviews))
    problems = await profiles_match(deployment.web_ports["w1"], expected)
    assert not problems, f"{len(problems)} profiles differ, e.g. {list(problems.items())[:3]}\n" + \
        deployment.log_tail("w1")
    async with aiohttp.ClientSession() as session:
        async with session.get(f"http://127.0.0.1:{deployment.web_ports['w1']}/metrics") as response:
            exposition = await response.text()
    produced = f'reviewstream_events_produced_total{{topic="{deployment.settings.profile_events_topic}"}}'
    repartitioned = float(next(line.split()[-1] for line in exposition.splitlines() if line.startswith(produced)))
    # The insights go this way too; most of the 1,200 clicks must have as well (a user's partition is 1 in 4).
    assert repartitioned > len(reviews) + len(clicks) / 2
    assert worker.poll() is None


async def test_malformed_clicks_become_dead_letters_and_the_rest_folds(deployment: Deployment) -> None:
    """Bad clicks read by the profile fold itself (keyed by user) go to dead-letters with the reason, the original
    bytes and where they came from; the worker keeps going and the good clicks give the reference profiles."""
    clicks = make_clicks(600, seed=29)
    bad = {b"not json": "invalid_json", b'{"event_id":"x1","type":"view","ts":1700000000}': "missing_field",
           b'{"event_id":"x2","user_id":"u001","type":"teleport","ts":1700000000}': "unknown_type",
           b'{"event_id":"x3","user_id":"u002","type":"search","ts":1700000000}': "missing_field",
           b"\xff\xfe": "invalid_utf8"}
    values = [orjson.dumps(c) for c in clicks]
    keys = [c["user_id"].encode() for c in clicks]
    for i, raw in enumerate(bad):  # spread over the stream, keyed like their neighbours
        values.insert(100 * (i + 1), raw)
        keys.insert(100 * (i + 1), keys[100 * (i + 1)])
    settings = deployment.settings
    await deployment.produce(values, topic=settings.clickstream_topic, keys=keys)
    worker = deployment.start_worker("w1")
    outputs = await deployment.collect(lambda out: len(out[settings.dead_letters_topic]) >= len(bad), proc=worker,
                                       topics=[settings.dead_letters_topic])
    letters = outputs[settings.dead_letters_topic]
    assert sorted((deployment.original(d), d["reason"]) for d in letters) == sorted(bad.items())
    assert {d["source_topic"] for d in letters} == {settings.clickstream_topic}
    problems = await profiles_match(deployment.web_ports["w1"], reference_profiles(clicks, []))
    assert not problems, f"{len(problems)} profiles differ, e.g. {list(problems.items())[:3]}\n" + \
        deployment.log_tail("w1")
    assert worker.poll() is None


async def test_two_workers_share_partitions_and_one_leaving_loses_nothing(deployment: Deployment) -> None:
    clicks = make_clicks(3000, seed=11)
    reviews = make_reviews(clicks, 80)
    half = len(clicks) // 2
    one = deployment.start_worker("w1")
    two = deployment.start_worker("w2")
    await produce_all(deployment, clicks[:half], reviews[:40])
    await wait_for_profiles(deployment, 60, two)
    # Each worker answers for every user, its own partitions' or proxied to the other (the view routes by the raw
    # user id, the key the rows are partitioned by).
    so_far = reference_profiles(clicks[:half], await all_insights(deployment, reviews[:40]))
    for name in ("w1", "w2"):
        problems = await profiles_match(deployment.web_ports[name], so_far)
        assert not problems, f"through {name}: {len(problems)} profiles differ, e.g. {list(problems.items())[:3]}"
    one.send_signal(signal.SIGTERM)
    one.wait(timeout=60)
    await produce_all(deployment, clicks[half:], reviews[40:])
    expected = reference_profiles(clicks, await all_insights(deployment, reviews))
    problems = await profiles_match(deployment.web_ports["w2"], expected)
    if problems:
        pytest.fail(f"{len(problems)} profiles differ, e.g. {list(problems.items())[:3]}\n"
                    + await deployment.diagnose("w2", two), pytrace=False)


async def test_an_idle_session_closes_on_a_tick_without_another_click(deployment: Deployment) -> None:
    s = deployment.settings
    worker = deployment.start_worker("w1", REVIEWSTREAM_SESSION_GAP_S="3", REVIEWSTREAM_TIMER_TICK_S="1")
    now = time.time()
    clicks = [{"event_id": f"s{i}", "user_id": "u-idle", "type": kind, "ts": now - 2 + i, "product_id": "p01",
               "category": "kitchen", "price": 10.0} for i, kind in enumerate(["view", "add_to_cart"])]
    clicks[1]["quantity"] = 1
    await produce_all(deployment, clicks, [])
    outputs = await deployment.collect(lambda out: bool(out[s.sessions_topic]), topics=[s.sessions_topic],
                                       proc=worker)
    sessions = outputs[s.sessions_topic]
    assert [(x["user_id"], x["events"], x["carts"], x["converted"]) for x in sessions] == \
        [("u-idle", 2, 1, False)], deployment.log_tail("w1")
