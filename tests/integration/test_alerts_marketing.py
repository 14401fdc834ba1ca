"""Alerts and marketing messages on the real broker, through a real worker: a scripted scenario gives exactly the
expected alerts and messages, and a replay of the whole input after a restart gives no duplicates.

The scenario: a kettle that turns bad (positive reviews in earlier hours, then six negative ones in the current
hour, from customers who bought it: six complaints at once from accounts that never bought it would be a review
campaign, kept out of the spike rule), a charger that starts smoking, a champion customer's complaint, an abandoned
cart, a cart that was bought, an opted-out customer's cart, and a fan writing three positive reviews (thank-you
messages, capped at two a week).
The worker runs the default `local` analyzer, so messages come from the templates.
"""

from __future__ import annotations

import math
import re
import signal
import time
from typing import Any

import aiohttp
import jsonschema
import orjson
import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition

from models.schemas import load_schema
from tests.integration.conftest import API_HEADERS, Deployment, poll

pytestmark = [pytest.mark.integration, pytest.mark.timeout(600)]

NEGATIVE = [
    "Terrible kettle. It leaks everywhere and stopped working after two days. Very disappointed.",
    "Awful quality, the handle broke the first time I used it. Waste of money.",
    "The lid cracked and water leaks out. Poor build, would not buy again.",
    "Stopped heating after a week. Cheap junk, I regret buying it.",
    "Disappointing: it is loud, slow and the button already stopped working.",
    "Broke within a month, the switch is flimsy and it no longer turns on.",
]
POSITIVE = [
    "Great kettle, boils fast and looks lovely on the counter. Very happy with it.",
    "Excellent product, works perfectly and the design is beautiful. Highly recommend.",
    "Love it! Quiet, quick and easy to clean. Best purchase this year.",
]
SMOKING = "The charger started smoking after ten minutes and the plug melted. It burned my finger. Dangerous!"
VIP_COMPLAINT = "The blender broke after two days and customer service ignored me. I want to return it."
SETTINGS = {"REVIEWSTREAM_MARKETING_ABANDON_AFTER_S": "5", "REVIEWSTREAM_TIMER_TICK_S": "1"}


def scenario(now: float) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    hour = math.floor(now / 3600) * 3600
    clicks: list[dict[str, Any]] = []

    def click(user: str, kind: str, ts: float, **fields: Any) -> None:
        clicks.append({"event_id": f"{user}-{len(clicks)}", "user_id": user, "type": kind, "ts": ts, **fields})

    for i in range(5):  # a champion: five orders, 600 spent, the last one four days ago
        click("u-vip", "purchase", now - (8 - i) * 86400, product_id=f"p-gift{i}", category="kitchen", brand="Acme",
              price=120.0, quantity=1, order_id=f"o-vip{i}")
    for i in range(len(NEGATIVE)):  # the unhappy customers bought the kettle: their complaints are organic
        click(f"u-n{i}", "purchase", now - 10 * 86400 + i, product_id="p-kettle", category="kitchen", brand="Acme",
              price=49.0, quantity=1, order_id=f"o-n{i}")
    click("u-cart", "view", now - 3, product_id="p-kettle", category="kitchen", brand="Acme", price=49.0)
    click("u-cart", "add_to_cart", now - 2, product_id="p-kettle", category="kitchen", brand="Acme", price=49.0,
          quantity=1)
    click("u-buyer", "add_to_cart", now - 3, product_id="p-mug", category="kitchen", price=9.0, quantity=2)
    click("u-buyer", "purchase", now - 2, product_id="p-mug", category="kitchen", price=9.0, quantity=2,
          order_id="o-buyer")
    click("u-out", "marketing_opt_out", now - 4)
    click("u-out", "add_to_cart", now - 2, product_id="p-toaster", category="kitchen", price=35.0, quantity=1)

    reviews: list[dict[str, Any]] = []

    def review(review_id: str, user: str, product: str, text: str, at: float) -> None:
        reviews.append({"review_id": review_id, "user_id": user, "product_id": product, "text": text,
                        "created_at": at, "lang": "en"})

    for i, text in enumerate(POSITIVE):
        review(f"fan-{i}", "u-fan", "p-kettle", text, hour - (3 - i) * 3600 + 60)
    for i, text in enumerate(NEGATIVE):
        review(f"bad-{i}", f"u-n{i}", "p-kettle", text, hour + 10 + i)
    review("smoke-1", "u-c", "p-charger", SMOKING, hour + 20)
    return clicks, reviews


async def produce(deployment: Deployment, clicks: list[dict[str, Any]], reviews: list[dict[str, Any]]) -> None:
    if clicks:
        await deployment.produce([orjson.dumps(c) for c in clicks], topic=deployment.settings.clickstream_topic,
                                 keys=[c["user_id"].encode() for c in clicks])
    if reviews:
        await deployment.produce([orjson.dumps(r) for r in reviews])


async def read_all(deployment: Deployment, topics: list[str], until: Any, timeout_s: float = 120) -> dict[str, Any]:
    return await deployment.collect(until, timeout_s=timeout_s, topics=topics)


async def metric(port: int, name: str, **labels: str) -> float:
    """Sum of a counter's samples on the worker's /metrics that carry `labels`."""
    try:
        async with aiohttp.ClientSession() as session, session.get(f"http://127.0.0.1:{port}/metrics") as response:
            text = await response.text()
    except aiohttp.ClientError:
        return 0.0  # the worker is still starting
    total = 0.0
    for line in text.splitlines():
        if line.startswith(name + "{") and all(f'{k}="{v}"' in line for k, v in labels.items()):
            total += float(line.rsplit(" ", 1)[1])
    return total


async def profile_segment(port: int, user_id: str) -> str | None:
    try:
        async with aiohttp.ClientSession(headers=API_HEADERS) as session, \
                session.get(f"http://127.0.0.1:{port}/profiles/{user_id}/") as response:
            return (await response.json())["profile"]["segment"] if response.status == 200 else None
    except aiohttp.ClientError:
        return None


async def reset_input_offsets(deployment: Deployment) -> None:
    """What an operator does to replay: move the (stopped) group's committed offsets on the inputs back to 0."""
    settings = deployment.settings
    consumer = AIOKafkaConsumer(**deployment.kafka_kwargs, group_id=settings.app_id,
                                enable_auto_commit=False)
    await consumer.start()
    try:
        tps = [TopicPartition(topic, p) for topic in (settings.reviews_topic, settings.clickstream_topic)
               for p in range(settings.topic_partitions)]
        consumer.assign(tps)
        await consumer.commit({tp: 0 for tp in tps})
    finally:
        await consumer.stop()


def firing(alerts: list[dict[str, Any]]) -> set[tuple[str, str]]:
    return {(a["kind"], a["subject_id"]) for a in alerts if a["status"] == "firing"}


async def test_scenario_gives_exactly_the_expected_alerts_and_messages_and_a_replay_no_duplicates(
    deployment: Deployment,
) -> None:
    s = deployment.settings
    now = time.time()
    clicks, reviews = scenario(now)
    worker = deployment.start_worker("w1", **SETTINGS)
    port = deployment.web_ports["w1"]
    await produce(deployment, clicks, [])
    # The champion's orders must be in the profile before the complaint arrives.
    assert await poll(lambda: profile_segment(port, "u-vip"), 120) == "champion", deployment.log_tail("w1")
    reviews.append({"review_id": "vip-1", "user_id": "u-vip", "product_id": "p-blender", "text": VIP_COMPLAINT,
                    "created_at": now - 30, "lang": "en"})
    await produce(deployment, [], reviews)

    expected_alerts = {("negative_spike", "p-kettle"), ("safety_issue", "p-charger"), ("vip_unhappy", "u-vip")}
    expected_messages = {("abandoned_cart", "u-cart"), ("thank_you", "u-fan")}
    topics = [s.alerts_topic, s.marketing_topic, s.support_queue_topic, s.insights_topic]

    def complete(out: dict[str, list[dict[str, Any]]]) -> bool:
        return (firing(out[s.alerts_topic]) >= expected_alerts
                and {(m["kind"], m["user_id"]) for m in out[s.marketing_topic]} >= expected_messages
                and len(out[s.insights_topic]) >= len(reviews))

    first = await read_all(deployment, topics, complete)
    assert complete(first), f"{first[s.alerts_topic]}\n{first[s.marketing_topic]}\n" + deployment.log_tail("w1")
    # The opted-out customer's cart was due as well, and refused for the opt-out.
    assert await poll(lambda: metric(port, "reviewstream_marketing_triggers_total", kind="abandoned_cart",
                                     outcome="opted_out"), 30) == 1

    # Replay: stop, move the input offsets back to the start, restart on a fresh data folder (tables come back from
    # their changelogs); every review is analysed again and every click read again.
    worker.send_signal(signal.SIGTERM)
    worker.wait(timeout=60)
    await reset_input_offsets(deployment)
    deployment.start_worker("w2", **SETTINGS)
    port = deployment.web_ports["w2"]

    async def replayed() -> bool:
        return (await metric(port, "reviewstream_events_consumed_total", topic=s.reviews_topic) >= len(reviews)
                and await metric(port, "reviewstream_events_consumed_total", topic=s.clickstream_topic)
                >= len(clicks))

    assert await poll(replayed, 180), deployment.log_tail("w2")
    # A sentinel after the replay: a new abandoned cart, whose message proves ticks and triggers ran again.
    late = time.time()
    await produce(deployment, [{"event_id": "late-1", "user_id": "u-late", "type": "add_to_cart", "ts": late,
                                "product_id": "p-kettle", "price": 49.0, "quantity": 1}], [])

    def settled(out: dict[str, list[dict[str, Any]]]) -> bool:
        return ("abandoned_cart", "u-late") in {(m["kind"], m["user_id"]) for m in out[s.marketing_topic]} and \
            len(out[s.insights_topic]) >= 2 * len(reviews)

    final = await read_all(deployment, topics, settled, timeout_s=180)
    assert settled(final), deployment.log_tail("w2")

    alerts = final[s.alerts_topic]
    assert firing(alerts) == expected_alerts, alerts
    assert len(alerts) == len(expected_alerts), f"an alert was published twice: {alerts}"
    assert len({a["alert_id"] for a in alerts}) == len(alerts)
    for alert in alerts:
        jsonschema.validate(alert, load_schema("alert"))
    by_kind = {a["kind"]: a for a in alerts}
    assert set(by_kind["negative_spike"]["review_ids"]) <= {f"bad-{i}" for i in range(len(NEGATIVE))}
    assert by_kind["negative_spike"]["figures"]["reviews"] >= 5
    assert by_kind["safety_issue"]["review_ids"] == ["smoke-1"] and by_kind["safety_issue"]["severity"] == "critical"
    assert by_kind["vip_unhappy"]["review_ids"] == ["vip-1"] and by_kind["vip_unhappy"]["figures"]["segment"] == \
        "champion"

    messages = final[s.marketing_topic]
    kinds = sorted((m["kind"], m["user_id"]) for m in messages)
    # Two thank-yous for three positive reviews (the cap), one reminder each for the two abandoned carts; nothing
    # for the opted-out customer, the buyer or the unhappy ones.
    assert kinds == [("abandoned_cart", "u-cart"), ("abandoned_cart", "u-late"), ("thank_you", "u-fan"),
                     ("thank_you", "u-fan")], messages
    assert len({m["message_id"] for m in messages}) == len(messages)
    for message in messages:
        jsonschema.validate(message, load_schema("marketing_message"))
        assert message["generated_by"] == "template" and message["language"] == "en" and message["body"]
        assert not re.search(r"u-\w+|@", message["subject"] + message["body"]), message  # no personal data
    cart = next(m for m in messages if m["user_id"] == "u-cart")
    assert cart["items"] == [{"product_id": "p-kettle", "qty": 1, "price": 49.0}]

    # Urgent insights (the smoking charger among them) went to the support queue, each once per analysis.
    insights = {i["review_id"]: i for i in final[s.insights_topic]}
    urgent = {rid for rid, i in insights.items() if i["urgency"] in ("high", "critical")}
    tickets = final[s.support_queue_topic]
    assert "smoke-1" in urgent and {t["review_id"] for t in tickets} == urgent
    for ticket in tickets:
        assert ticket["suggested_reply"] and not re.search(r"refund|compensat", ticket["suggested_reply"], re.I)


async def test_an_incident_that_goes_quiet_is_resolved_without_a_new_review(deployment: Deployment) -> None:
    s = deployment.settings
    deployment.start_worker("w1", REVIEWSTREAM_ALERT_COOLDOWN_S="5", REVIEWSTREAM_TIMER_TICK_S="1")
    await produce(deployment, [], [{"review_id": "smoke-2", "user_id": "u-c", "product_id": "p-charger",
                                    "text": SMOKING, "created_at": time.time(), "lang": "en"}])

    def resolved(out: dict[str, list[dict[str, Any]]]) -> bool:
        return any(a["status"] == "resolved" for a in out[s.alerts_topic])

    out = await read_all(deployment, [s.alerts_topic], resolved)
    assert [(a["kind"], a["status"]) for a in out[s.alerts_topic]] == \
        [("safety_issue", "firing"), ("safety_issue", "resolved")], deployment.log_tail("w1")
    firing, ended = out[s.alerts_topic]
    assert firing["alert_id"] == ended["alert_id"] and ended["at"] - firing["at"] >= 5
