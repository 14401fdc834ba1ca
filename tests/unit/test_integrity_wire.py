"""The integrity stages' internal messages are read as strictly as any input, and accounts travel as pseudonyms that
route back to the partition of their row."""

from __future__ import annotations

import time
from typing import Any

import orjson
import pytest

from models.errors import InvalidEvent
from models.forwarded_event import ForwardedSources, parse_forwarded_event
from models.integrity import AccountFlag, BandProbe, TextMatch, text_signature
from models.integrity.wire import account_key, account_partition
from tests.unit.fakes import analysis_for

SOURCES = ForwardedSources(clicks="clickstream", insights="review-insights", profile_events="rs-profile-events",
                           product_events="rs-product-events", integrity_bands="rs-integrity-bands")
NOW = time.time()
ALICE = account_key("alice", b"salt", 2)
BOB = account_key("bob", b"salt", 1)
SIGNATURE = text_signature("Amazing kettle, best purchase ever, works perfectly and boils fast").to_wire()
EVIDENCE = {"user_id": ALICE, "account_age_s": 0, "purchased_at": None, "orders": 0, "reviews_1d": 1, "reviews_7d": 1,
            "reviews": 1, "extreme_share": 1.0, "prior_reviews": 0, "prior_unverified_share": None,
            "prior_unverified_7d": 0, "flagged_recently": 0}
MATCH = {"review_id": "r2", "product_id": "p1", "user_id": ALICE, "other_review_id": "r1", "other_product_id": "p2",
         "other_user_id": BOB, "similarity": 0.8, "at": NOW - 30}
PROBE = {"review_id": "r2", "product_id": "p1", "user_id": ALICE, "at": NOW - 30, "signature": SIGNATURE,
         "shingles": 40}
FLAG = {"user_id": ALICE, "review_id": "r2", "product_id": "p1", "at": NOW - 30}
TAINT = {"review_id": "r0", "product_id": "p3", "user_id": ALICE, "flagged_review_id": "r2",
         "flagged_product_id": "p1", "flagged_at": NOW - 30}
SOURCE_OF = {"review": "rs-profile-events", "taint": "rs-profile-events", "account_flag": "rs-product-events",
             "band_probe": "rs-product-events", "text_match": "rs-integrity-bands"}


def insight() -> dict[str, Any]:
    return {"review_id": "r2", "user_id": "alice", "product_id": "p1", **analysis_for("Great kettle").to_dict(),
            "model": "local/x", "degraded": False, "redacted": [], "rating": 5, "review_created_at": NOW - 30,
            "analyzed_at": NOW, "text_signature": SIGNATURE, "text_shingles": 40}


def forwarded(kind: str, payload: Any, **changes: Any) -> bytes:
    event = {"kind": kind, "source_topic": SOURCE_OF[kind], "source_partition": 2, "source_offset": 7,
             "payload": payload}
    return orjson.dumps({**event, **changes})


def test_a_pseudonym_hides_the_user_id_is_stable_and_names_its_partition() -> None:
    assert ALICE == account_key("alice", b"salt", 2) != account_key("alice", b"pepper", 2)
    assert "alice" not in ALICE and account_partition(ALICE) == 2 and account_partition(BOB) == 1
    with pytest.raises(ValueError, match="not an account pseudonym"):
        account_partition("alice")


@pytest.mark.parametrize("kind, payload, read", [
    ("review", {"insight": insight(), "evidence": EVIDENCE}, lambda p: (p["insight"]["text_shingles"],
                                                                       p["evidence"]["extreme_share"])),
    ("text_match", MATCH, lambda p: TextMatch(**p).mirrored().user_id),
    ("band_probe", {"band_key": "3:1a2b", "probe": PROBE}, lambda p: BandProbe(**p["probe"]).shingles),
    ("account_flag", FLAG, lambda p: account_partition(AccountFlag(**p).user_id)),
    ("taint", TAINT, lambda p: p["flagged_review_id"]),
])
def test_each_integrity_kind_passes_from_its_own_source_only(kind: str, payload: Any, read: Any) -> None:
    event = parse_forwarded_event(forwarded(kind, payload), sources=SOURCES)
    assert read(event.payload) == {"review": (40, 1.0), "text_match": BOB, "band_probe": 40, "account_flag": 2,
                                   "taint": "r2"}[kind]
    with pytest.raises(InvalidEvent, match="names source topic"):
        parse_forwarded_event(forwarded(kind, payload, source_topic="review-insights"), sources=SOURCES)
    # A worker configured without the integrity topics accepts none of them.
    with pytest.raises(InvalidEvent):
        parse_forwarded_event(forwarded(kind, payload), sources=ForwardedSources("clickstream", "review-insights"))


@pytest.mark.parametrize("kind, payload, message", [
    ("review", {"insight": insight(), "evidence": {**EVIDENCE, "user_id": "alice"}}, "not an account pseudonym"),
    ("review", {"insight": insight(), "evidence": {**EVIDENCE, "orders": "many"}}, "'orders'"),
    ("review", {"insight": insight(), "evidence": EVIDENCE, "extra": 1}, "has fields"),
    ("review", {"insight": {**insight(), "text_signature": "AAAA"}, "evidence": EVIDENCE}, "text_signature"),
    ("text_match", {**MATCH, "similarity": None}, "'similarity'"),
    ("text_match", {k: v for k, v in MATCH.items() if k != "at"}, "missing fields \\['at'\\]"),
    ("text_match", {**MATCH, "other_product_id": "../etc"}, "other_product_id"),
    ("band_probe", {"band_key": "3:1a2b", "probe": {**PROBE, "signature": "AAAA"}}, "signature"),
    ("band_probe", {"band_key": "everything", "probe": PROBE}, "band key"),
    ("account_flag", {**FLAG, "user_id": "bob"}, "not an account pseudonym"),
    ("taint", {**TAINT, "surprise": True}, "unknown fields \\['surprise'\\]"),
    ("taint", "not an object", "must be an object"),
])
def test_a_garbled_or_forged_integrity_event_is_refused(kind: str, payload: Any, message: str) -> None:
    with pytest.raises(InvalidEvent, match=message):
        parse_forwarded_event(forwarded(kind, payload), sources=SOURCES)
