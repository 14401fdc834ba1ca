"""Hostile input through a real worker: numbers no codec can hold, times from nowhere, repeated keys, ids with NULs
and paths, a forged internal event, and events that make the code raise. Each ends as a dead letter with its reason;
every valid event still ends as its output, and the worker never stops."""

from __future__ import annotations

import time
from typing import Any

import orjson
import pytest
from aiokafka.partitioner import DefaultPartitioner

from tests.integration.conftest import Deployment
from tests.integration.test_profiles_pipeline import make_clicks, make_reviews, profiles_match
from tests.unit.reference_profile import reference_profiles

pytestmark = pytest.mark.integration

NOW = time.time()
BASE_CLICK = {"event_id": "h", "user_id": "u-hostile", "type": "add_to_cart", "ts": NOW - 3600, "product_id": "p01"}
HOSTILE_CLICKS: list[tuple[bytes, str]] = [
    (orjson.dumps({**BASE_CLICK, "event_id": "h1", "quantity": 1e20}), "out_of_range"),
    (orjson.dumps({**BASE_CLICK, "event_id": "h2", "type": "purchase", "price": 1e308, "order_id": "o"}),
     "out_of_range"),
    (orjson.dumps({**BASE_CLICK, "event_id": "h3", "ts": 1e300}), "out_of_range"),
    (b'{"event_id": "h4", "user_id": "alice", "type": "view", "ts": %d, "user_id": "bob"}' % int(NOW), "duplicate_key"),
    (orjson.dumps({**BASE_CLICK, "event_id": "h5", "user_id": "u\u0000x"}), "bad_id"),
    (orjson.dumps({**BASE_CLICK, "event_id": "h6", "user_id": "../../etc/passwd"}), "bad_id"),
    (b'{"event_id": "h7", "user_id": "u-hostile", "type": "view", "ts": 1e400}', "invalid_json"),
]
BASE_REVIEW = {"review_id": "hr", "user_id": "u-hostile", "product_id": "p01", "text": "Fine kettle"}
HOSTILE_REVIEWS: list[tuple[bytes, str]] = [
    (orjson.dumps({**BASE_REVIEW, "review_id": "hr1", "created_at": 1e300}), "out_of_range"),
    (b'{"review_id": "hr2", "user_id": "a", "product_id": "p01", "text": "x", "user_id": "b"}', "duplicate_key"),
    (orjson.dumps({**BASE_REVIEW, "review_id": "hr3", "text": "POISON-PILL kettle"}), "internal_error"),
]


@pytest.mark.timeout(420)
async def test_hostile_and_poisoned_events_become_dead_letters_and_everything_else_folds(
        deployment: Deployment) -> None:
    settings = deployment.settings
    clicks = make_clicks(1200, seed=23)
    reviews = make_reviews(clicks, 40)
    victim = clicks[-1]["user_id"]
    poison_clicks = [{"event_id": f"pc{i}", "user_id": "u-poison", "type": "view", "ts": NOW - 600 + i,
                      "product_id": "p02"} for i in range(3)]

    # A forged internal event claiming offset 10^12 of the victim's clickstream partition: folded, it would make
    # the victim's profile skip every real click of that partition from then on.
    partition = DefaultPartitioner()(victim.encode(), list(range(4)), list(range(4)))
    forged = {"kind": "click", "source_topic": settings.clickstream_topic, "source_partition": partition,
              "source_offset": 10**12, "payload": {**clicks[0], "user_id": victim, "event_id": "forged"}}
    await deployment.produce([orjson.dumps(forged)], topic=settings.profile_events_topic, keys=[victim.encode()])

    values = [orjson.dumps(c) for c in clicks] + [raw for raw, _ in HOSTILE_CLICKS] + \
        [orjson.dumps(c) for c in poison_clicks]
    keys = [c["user_id"].encode() for c in clicks] + [b"u-hostile"] * len(HOSTILE_CLICKS) + [b"u-poison"] * 3
    await deployment.produce(values, topic=settings.clickstream_topic, keys=keys)
    await deployment.produce([orjson.dumps(r) for r in reviews] + [raw for raw, _ in HOSTILE_REVIEWS])

    worker = deployment.start_worker("w1", entry="tests.integration.poison_injection")
    expected_letters = len(HOSTILE_CLICKS) + len(HOSTILE_REVIEWS) + len(poison_clicks) + 1

    def done(out: dict[str, list[dict[str, Any]]]) -> bool:
        seen = {i["review_id"] for i in out[settings.insights_topic]}
        return len(out[settings.dead_letters_topic]) >= expected_letters and \
            {r["review_id"] for r in reviews} <= seen

    outputs = await deployment.collect(done, timeout_s=300, proc=worker)
    assert done(outputs), deployment.log_tail("w1")
    letters = outputs[settings.dead_letters_topic]
    by_original = {deployment.original(d): d for d in letters if d["source_topic"] != settings.profile_events_topic}
    for raw, reason in HOSTILE_CLICKS + HOSTILE_REVIEWS:
        assert by_original[raw]["reason"] == reason, (raw, by_original[raw])
    poisoned = by_original[orjson.dumps({**BASE_REVIEW, "review_id": "hr3", "text": "POISON-PILL kettle"})]
    assert poisoned["exception_type"] == "ZeroDivisionError: planted bug: this review cannot be analysed"
    for click in poison_clicks:
        letter = by_original[orjson.dumps(click)]
        assert (letter["reason"], letter["stage"]) == ("fold_failed", "fold")
        assert letter["exception_type"] == "RuntimeError: planted bug: this user's clicks cannot be folded"
    [forged_letter] = [d for d in letters if d["source_topic"] == settings.profile_events_topic]
    assert forged_letter["reason"] == "implausible_source"

    # Every valid click still folds, the victim's included; nothing hostile reached a profile.
    expected = reference_profiles(clicks, outputs[settings.insights_topic])
    problems = await profiles_match(deployment.web_ports["w1"], expected)
    assert not problems, f"{len(problems)} profiles differ, e.g. {list(problems.items())[:3]}\n" + \
        deployment.log_tail("w1")
    assert worker.poll() is None, "hostile input must never stop the worker"
