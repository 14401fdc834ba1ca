"""Property-based tests (hypothesis): whatever arrives, a parser returns its model or raises `InvalidEvent` — nothing
else, no crash; and folding a sequence of valid clicks again (a replay) changes no profile."""

from __future__ import annotations

import json
import time
from typing import Any

import orjson
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from models.click import CLICK_TYPES, ClickEvent, parse_click
from models.errors import InvalidEvent
from models.forwarded_event import ForwardedSources, parse_forwarded_event
from models.insight import parse_insight
from models.marketing import parse_marketing_trigger
from models.profile import DEFAULT_CONFIG, SourceRef, UserProfile, fold_click
from models.review import Review, parse_review
from models.wire import decode_json_object

NOW = time.time()
SOURCES = ForwardedSources(clicks="clickstream", insights="review-insights")
PROPERTY_SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# Numbers a JSON producer may write that Python's float cannot hold, and values near the bounds.
_WILD_NUMBERS = ["1e400", "-1e400", "NaN", "Infinity", "-0", "1e20", "18446744073709551616", "1e308", "0.0000001",
                 "-1", "9007199254740993"]
_scalars = st.one_of(
    st.none(), st.booleans(), st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=False, allow_infinity=False), st.text(max_size=40),
    st.text(alphabet=st.characters(min_codepoint=0, max_codepoint=0x10FFFF, blacklist_categories=("Cs",)),
            max_size=20),
)
_json_values = st.recursive(_scalars, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(
    st.text(max_size=8), inner, max_size=4), max_leaves=12)


def _render(pairs: list[tuple[str, Any]], wild: dict[str, str]) -> bytes:
    """An object written by hand, so that keys may repeat and numbers may be what `orjson.dumps` refuses to write."""
    parts = []
    for key, value in pairs:
        # The standard library writes integers of any size, which orjson refuses to.
        text = wild[key] if key in wild else json.dumps(value)
        parts.append(f"{json.dumps(key)}: {text}")
    return ("{" + ", ".join(parts) + "}").encode()


def _near(valid: dict[str, Any]) -> st.SearchStrategy[bytes]:
    """Objects close to `valid`: fields replaced by any JSON value or a wild number, dropped, repeated, extra keys,
    deep nesting."""
    keys = sorted(valid)

    @st.composite
    def build(draw: st.DrawFn) -> bytes:
        pairs = [(k, valid[k]) for k in keys if draw(st.integers(0, 9)) > 0]  # each field dropped 1 time in 10
        for _ in range(draw(st.integers(0, 3))):
            key = draw(st.sampled_from(keys))
            pairs = [(k, draw(_json_values)) if k == key else (k, v) for k, v in pairs]
        wild = {}
        if draw(st.booleans()):
            wild[draw(st.sampled_from(keys))] = draw(st.sampled_from(_WILD_NUMBERS))
        if draw(st.integers(0, 5)) == 0:  # a repeated key
            key = draw(st.sampled_from(keys))
            pairs.append((key, draw(_json_values)))
        if draw(st.integers(0, 5)) == 0:  # an extra key
            pairs.append((draw(st.text(max_size=10)), draw(_json_values)))
        if draw(st.integers(0, 10)) == 0:  # deep nesting
            wild[keys[0]] = "[" * 3000 + "]" * 3000
        return _render(pairs, {k: v for k, v in wild.items() if any(k == p for p, _ in pairs)})

    return build()


VALID_REVIEW = {"review_id": "r1", "user_id": "u1", "product_id": "p1", "text": "Great kettle", "rating": 5,
                "lang": "en", "created_at": NOW - 60}
VALID_CLICK = {"event_id": "e1", "user_id": "u1", "type": "add_to_cart", "ts": NOW - 60, "product_id": "p1",
               "category": "kitchen", "brand": "Acme", "price": 49.0, "quantity": 2, "session_id": "s1",
               "order_id": None, "query": None}
VALID_FORWARDED = {"kind": "click", "source_topic": "clickstream", "source_partition": 0, "source_offset": 7,
                   "payload": VALID_CLICK}
VALID_TRIGGER = {"message_id": "m1", "user_id": "u1", "kind": "abandoned_cart", "at": NOW, "language": "en",
                 "segment": "loyal", "interests": ["kitchen"], "brands": [], "items": [{"product_id": "p1", "qty": 1}],
                 "price_band": None, "reviewed_product_id": None}


def _returns_or_refuses(parse: Any, raw: bytes) -> None:
    try:
        parse(raw)
    except InvalidEvent:
        pass


PARSERS = {
    "review": lambda raw: parse_review(raw),
    "click": lambda raw: parse_click(raw),
    "forwarded": lambda raw: parse_forwarded_event(raw, sources=SOURCES),
    "trigger": lambda raw: parse_marketing_trigger(raw),
    "insight": lambda raw: parse_insight(decode_json_object(raw)),
}


@PROPERTY_SETTINGS
@given(st.binary(max_size=400))
def test_any_bytes_give_a_model_or_invalid_event(raw: bytes) -> None:
    for parse in PARSERS.values():
        _returns_or_refuses(parse, raw)


@PROPERTY_SETTINGS
@given(_near(VALID_REVIEW))
def test_reviews_near_the_valid_shape_give_a_review_or_invalid_event(raw: bytes) -> None:
    try:
        review = parse_review(raw)
    except InvalidEvent:
        return
    assert isinstance(review, Review)
    orjson.dumps(review.to_representation())  # whatever passed, every codec can write


@PROPERTY_SETTINGS
@given(_near(VALID_CLICK))
def test_clicks_near_the_valid_shape_give_a_click_or_invalid_event(raw: bytes) -> None:
    try:
        click = parse_click(raw)
    except InvalidEvent:
        return
    assert isinstance(click, ClickEvent)
    orjson.dumps(click.to_dict())


@PROPERTY_SETTINGS
@given(_near(VALID_FORWARDED), _near(VALID_TRIGGER))
def test_internal_events_near_the_valid_shape_give_a_model_or_invalid_event(forwarded: bytes, trigger: bytes) -> None:
    _returns_or_refuses(PARSERS["forwarded"], forwarded)
    _returns_or_refuses(PARSERS["trigger"], trigger)


_clicks = st.builds(
    lambda i, user, kind, dt, product, price, qty: ClickEvent(
        event_id=f"e{i}", user_id=user, type=kind, ts=NOW - 10_000 + dt, product_id=product,
        category="kitchen" if product else None, brand="Acme" if product else None,
        price=price if kind in ("purchase", "add_to_cart", "view") else None,
        quantity=qty if kind in ("add_to_cart", "purchase", "remove_from_cart") else None,
        query="kettle" if kind == "search" else None, session_id="s1",
        order_id=f"o{i}" if kind == "purchase" else None),
    st.integers(0, 10**6), st.sampled_from(["u1", "u2"]), st.sampled_from(CLICK_TYPES), st.floats(0, 9_000),
    st.sampled_from(["p1", "p2", "p3"]), st.floats(0.01, 1e6), st.integers(1, 50))


@PROPERTY_SETTINGS
@given(st.lists(_clicks, min_size=1, max_size=25))
def test_folding_clicks_again_changes_no_profile(clicks: list[ClickEvent]) -> None:
    clicks = [c for c in clicks if c.type != "search" or c.query]
    profiles: dict[str, UserProfile | None] = {}
    for offset, click in enumerate(clicks):
        update = fold_click(profiles.get(click.user_id), click, SourceRef("clickstream", 0, offset), DEFAULT_CONFIG)
        profiles[click.user_id] = update.profile
    once = {user: profile.to_dict() if profile else None for user, profile in profiles.items()}
    for offset, click in enumerate(clicks):  # the replay after a crash: same events, same source offsets
        update = fold_click(profiles.get(click.user_id), click, SourceRef("clickstream", 0, offset), DEFAULT_CONFIG)
        assert not update.changed
        profiles[click.user_id] = update.profile
    assert {user: profile.to_dict() if profile else None for user, profile in profiles.items()} == once
