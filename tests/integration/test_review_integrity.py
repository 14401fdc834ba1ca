"""Review integrity on the real broker, through a real worker: a copy-paste campaign of five-star reviews from new
accounts that never bought the product, injected after organic reviews by customers who did, raises exactly one
`review_campaign` alert; its reviews flagged on arrival stay out of the product's sentiment window; every organic
review passes.
"""

from __future__ import annotations

import math
import time
from typing import Any

import jsonschema
import orjson
import pytest

from models.schemas import load_schema
from tests.integration.conftest import Deployment

pytestmark = [pytest.mark.integration, pytest.mark.timeout(300)]

PRODUCT = "p-kettle"
ORGANIC = [
    "Boils a full litre in about three minutes and switches itself off reliably. The lid could open wider.",
    "Nice brushed steel finish, though it shows fingerprints. Quieter than my old one, happy overall.",
    "Works fine after two weeks of daily use. The cord is a bit short for my kitchen but that is minor.",
    "Good value for the price. The water window is easy to read and the handle stays cool.",
]
TEMPLATE = "Amazing kettle!!! Best purchase ever, works perfectly, super fast shipping, five stars, recommend to {who}!"
CAMPAIGN = [TEMPLATE.format(who=who) for who in ("everyone", "all of you", "my friends", "every family", "anyone",
                                                  "all buyers")]


def scenario(now: float) -> tuple[list[dict[str, Any]], list[dict[str, Any]], list[dict[str, Any]]]:
    """Clicks (the organic buyers' orders, three weeks ago), organic reviews, campaign reviews: all reviews in the
    current hour, so that they share one product window."""
    hour = math.floor(now / 3600) * 3600
    clicks = [{"event_id": f"buy-{i}", "user_id": f"u-buyer{i}", "type": "purchase", "ts": now - 21 * 86400 + i,
               "product_id": PRODUCT, "category": "kitchen", "price": 49.0, "quantity": 1, "order_id": f"o-{i}"}
              for i in range(len(ORGANIC))]
    organic = [{"review_id": f"org-{i}", "user_id": f"u-buyer{i}", "product_id": PRODUCT, "text": text,
                "rating": 4 + i % 2, "created_at": hour + 1 + i, "lang": "en"} for i, text in enumerate(ORGANIC)]
    campaign = [{"review_id": f"fake-{i}", "user_id": f"u-farm{i}", "product_id": PRODUCT, "text": text, "rating": 5,
                 "created_at": hour + 10 + i, "lang": "en"} for i, text in enumerate(CAMPAIGN)]
    return clicks, organic, campaign


def latest(records: list[dict[str, Any]], key: str) -> dict[str, dict[str, Any]]:
    """The last word per key (the topics are compacted; a later record replaces an earlier one)."""
    last: dict[str, dict[str, Any]] = {}
    for record in records:
        last[record[key]] = record
    return last


async def test_a_campaign_raises_one_alert_and_stays_out_of_the_window_while_organic_reviews_pass(
    deployment: Deployment,
) -> None:
    s = deployment.settings
    clicks, organic, campaign = scenario(time.time())
    deployment.start_worker("w1")
    await deployment.produce([orjson.dumps(c) for c in clicks], topic=s.clickstream_topic,
                             keys=[c["user_id"].encode() for c in clicks])
    topics = [s.review_integrity_topic, s.alerts_topic, s.product_sentiment_topic, s.dead_letters_topic]

    # The organic reviews first, with their verdicts, then the campaign: the orders are in the profiles by then (a
    # user's clicks and reviews meet on the user's partition, in order).
    await deployment.produce([orjson.dumps(r) for r in organic])

    def organic_assessed(out: dict[str, list[dict[str, Any]]]) -> bool:
        return {r["review_id"] for r in out[s.review_integrity_topic]} >= {r["review_id"] for r in organic}

    first = await deployment.collect(organic_assessed, timeout_s=120, topics=topics)
    assert organic_assessed(first), f"{first}\n{deployment.log_tail('w1')}"
    await deployment.produce([orjson.dumps(r) for r in campaign])
    fake_ids = {r["review_id"] for r in campaign}

    def settled(out: dict[str, list[dict[str, Any]]]) -> bool:
        verdicts = latest(out[s.review_integrity_topic], "review_id")
        return (fake_ids <= verdicts.keys() and all(verdicts[i]["flagged"] for i in fake_ids)
                and any(a["kind"] == "review_campaign" for a in out[s.alerts_topic]))

    out = await deployment.collect(settled, timeout_s=120, topics=topics)
    assert settled(out), f"{out[s.review_integrity_topic]}\n{out[s.alerts_topic]}\n{deployment.log_tail('w1')}"
    assert out[s.dead_letters_topic] == []

    records = out[s.review_integrity_topic]
    for record in records:
        jsonschema.validate(record, load_schema("review_integrity"))
    verdicts = latest(records, "review_id")
    assert not any(verdicts[r["review_id"]]["flagged"] for r in organic), [verdicts[r["review_id"]] for r in organic]
    # No raw user id leaves the integrity step: accounts are pseudonyms.
    assert not {r["user_id"] for r in records} & {r["user_id"] for r in organic + campaign}

    campaigns = [a for a in out[s.alerts_topic] if a["kind"] == "review_campaign"]
    assert len(campaigns) == 1 and campaigns[0]["status"] == "firing", campaigns
    jsonschema.validate(campaigns[0], load_schema("alert"))
    assert campaigns[0]["subject_id"] == PRODUCT and set(campaigns[0]["review_ids"]) <= fake_ids
    assert campaigns[0]["figures"]["account_count"] >= 2

    # Flagged on arrival (revision 0) never reached the window. The first two copies to arrive were flagged only
    # when more copies came (one copy is not enough on its own: scoring.duplicate_signals), and were counted before:
    # a documented limit. Every organic review is in.
    on_arrival = {r["review_id"] for r in records if r["revision"] == 0 and r["flagged"]}
    assert len(on_arrival & fake_ids) >= len(fake_ids) - 2, on_arrival
    windows = [w for w in latest(out[s.product_sentiment_topic], "window_start").values()
               if w["product_id"] == PRODUCT]
    assert len(windows) == 1, windows
    in_window = set(windows[0]["review_ids"])
    assert in_window >= {r["review_id"] for r in organic}
    assert in_window & fake_ids == fake_ids - on_arrival, in_window
    assert windows[0]["n"] == len(in_window)
