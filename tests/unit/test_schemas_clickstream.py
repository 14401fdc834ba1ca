"""The checked-in JSON Schemas of the clickstream, profile, session and product-window records agree with them."""

from __future__ import annotations

from typing import Any

import jsonschema
import orjson
import pytest
from referencing import Registry, Resource

from models.click import CLICK_TYPES, ClickEvent, parse_click
from models.insight import ReviewAnalysis, ReviewInsight
from models.product_sentiment import AspectCount, ProductWindow, fold_insight_into_window
from models.profile import (
    PRICE_BANDS,
    SEGMENTS,
    CartLine,
    NegativeReview,
    SentimentNote,
    SourceRef,
    UserProfile,
    fold_click,
    fold_insight,
)
from models.schemas import SCHEMA_NAMES, load_schema
from models.session import Session, SessionState, expire, observe
from models.structs import field_names

T0 = 1_699_999_200.0


def test_new_schemas_are_registered() -> None:
    assert {"click", "user_profile", "session", "product_sentiment"} <= set(SCHEMA_NAMES)


@pytest.mark.parametrize(
    ("record", "schema", "definition"),
    [
        (ClickEvent, "click", None),
        (UserProfile, "user_profile", None),
        (CartLine, "user_profile", "CartLine"),
        (SentimentNote, "user_profile", "SentimentNote"),
        (NegativeReview, "user_profile", "NegativeReview"),
        (Session, "session", None),
        (SessionState, "session", "SessionState"),
        (ProductWindow, "product_sentiment", None),
        (AspectCount, "product_sentiment", "AspectCount"),
    ],
)
def test_schema_properties_match_record_fields(record: type, schema: str, definition: str | None) -> None:
    doc = load_schema(schema)
    if definition is not None:
        doc = doc["$defs"][definition]
    assert set(doc["properties"]) == set(field_names(record))
    if doc.get("additionalProperties") is False:  # an output record: every field is always written
        assert set(doc["required"]) == set(doc["properties"])


def test_enums_match_the_model_literals() -> None:
    assert tuple(load_schema("click")["properties"]["type"]["enum"]) == CLICK_TYPES
    profile = load_schema("user_profile")["properties"]
    assert tuple(profile["segment"]["enum"]) == SEGMENTS
    assert tuple(profile["price_band"]["enum"]) == (*PRICE_BANDS, None)
    assert tuple(profile["counts"]["propertyNames"]["enum"]) == CLICK_TYPES


def validate_definition(instance: Any, schema: str, definition: str) -> None:
    root = load_schema(schema)
    registry: Registry[Any] = Registry().with_resource(root["$id"], Resource.from_contents(root))
    jsonschema.Draft202012Validator({"$ref": f"{root['$id']}#/$defs/{definition}"}, registry=registry).validate(
        instance)


# ---------------------------------------------------------------------------------------------------- click


VALID_RAW_CLICKS: list[dict[str, Any]] = [
    {"event_id": "e1", "user_id": "u1", "type": "view", "ts": 1700000000, "product_id": "p1", "price": 9.5},
    {"event_id": 2, "user_id": 7, "type": "search", "ts": "2024-03-01T12:00:00Z", "query": "kettle"},
    {"event_id": "e3", "user_id": "u1", "type": "add_to_cart", "ts": 1700000000123, "product_id": "p1", "quantity": 2},
    {"event_id": "e4", "user_id": "u1", "type": "purchase", "ts": 1700000000.5, "order_id": "o1", "price": 0},
    {"event_id": "e5", "user_id": "u1", "type": "checkout", "ts": 1700000001, "session_id": "s", "extra": "ignored"},
]


@pytest.mark.parametrize("raw", VALID_RAW_CLICKS)
def test_click_schema_accepts_what_the_parser_accepts_and_the_parsed_click_too(raw: dict[str, Any]) -> None:
    schema = load_schema("click")
    jsonschema.validate(raw, schema)
    click = parse_click(orjson.dumps(raw))
    wire = orjson.loads(click.dumps())
    assert "__faust" not in wire
    jsonschema.validate(wire, schema)


@pytest.mark.parametrize(
    "raw",
    [
        {"event_id": "e", "user_id": "u", "type": "teleport", "ts": 1},
        {"event_id": "e", "user_id": "u", "type": "search", "ts": 1},
        {"event_id": "e", "user_id": "u", "type": "search", "ts": 1, "query": "  "},
        {"event_id": "e", "user_id": "u", "type": "add_to_cart", "ts": 1},
        {"event_id": "e", "user_id": "u", "type": "purchase", "ts": 1, "order_id": "o"},
        {"event_id": "e", "user_id": "u", "type": "purchase", "ts": 1, "price": 3},
        {"event_id": "e", "user_id": "u", "type": "view", "ts": 1, "price": -1},
        {"event_id": "e", "user_id": "u", "type": "view", "ts": 1, "quantity": 0},
        {"event_id": "e", "user_id": "u", "type": "view"},
    ],
)
def test_click_schema_rejects_what_the_parser_rejects(raw: dict[str, Any]) -> None:
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(raw, load_schema("click"))


# ---------------------------------------------------------------------------------------------------- outputs


def insight(review_id: str, sentiment: str, score: float, at: float) -> ReviewInsight:
    analysis = ReviewAnalysis.from_data({
        "sentiment": sentiment, "sentiment_score": score,
        "aspects": [{"name": "lid", "sentiment": "negative", "evidence": "lid"}], "intent": "complaint",
        "urgency": "low", "issues": ["quality"], "competitors": ["Philips"], "summary": "lid broke",
        "suggested_reply": None, "language": "en",
    })
    return ReviewInsight.build(review_id=review_id, user_id="u1", product_id="p1", analysis=analysis, model="m",
                               degraded=False, redacted=[], rating=2, review_created_at=at, analyzed_at=at + 5)


def test_a_full_profile_on_the_wire_is_plain_json_matching_its_schema() -> None:
    clicks = [
        ClickEvent(event_id="1", user_id="u1", type="view", ts=T0, product_id="p1", category="kitchen", brand="acme",
                   price=30.0),
        ClickEvent(event_id="2", user_id="u1", type="add_to_cart", ts=T0 + 10, product_id="p1", price=30.0),
        ClickEvent(event_id="3", user_id="u1", type="purchase", ts=T0 + 20, product_id="p2", order_id="o1",
                   price=12.0, quantity=2),
    ]
    profile = None
    for i, click in enumerate(clicks):
        profile = fold_click(profile, click, SourceRef("clickstream", 0, i)).profile
    review = insight("r1", "negative", -0.7, T0 + 30)
    profile = fold_insight(profile, review, SourceRef("review-insights", 2, 9)).profile
    wire = orjson.loads(profile.dumps())
    assert "__faust" not in wire
    assert wire["cart"]["p1"] == {"qty": 1, "price": 30.0, "added_at": T0 + 10}
    assert wire["last_negative_review"]["review_id"] == "r1"
    jsonschema.validate(wire, load_schema("user_profile"))
    assert wire == profile.to_dict()
    assert UserProfile.loads(profile.dumps()) == profile
    empty = orjson.loads(UserProfile.empty("u2", T0).dumps())
    jsonschema.validate(empty, load_schema("user_profile"))


def test_sessions_and_session_state_match_their_schema() -> None:
    state, _ = observe(None, ClickEvent(event_id="1", user_id="u1", type="view", ts=T0, product_id="p1"),
                       SourceRef("clickstream", 0, 0))
    validate_definition(orjson.loads(state.dumps()), "session", "SessionState")
    closed_state, session = expire(state, T0 + 3600)
    assert session is not None and closed_state is not None
    wire = orjson.loads(session.dumps())
    jsonschema.validate(wire, load_schema("session"))
    assert wire == session.to_dict() and Session.loads(session.dumps()) == session
    validate_definition(orjson.loads(closed_state.dumps()), "session", "SessionState")
    assert SessionState.loads(state.dumps()) == state


def test_product_window_on_the_wire_matches_its_schema() -> None:
    window = fold_insight_into_window(None, insight("r1", "negative", -0.7, T0 + 30), int(T0), int(T0) + 3600,
                                      SourceRef("review-insights", 0, 4))
    window = fold_insight_into_window(window, insight("r2", "positive", 1.0, T0 + 40), int(T0), int(T0) + 3600)
    wire = orjson.loads(window.dumps())
    assert "__faust" not in wire
    assert wire["aspects"] == {"lid": {"count": 2, "negative": 2}}
    jsonschema.validate(wire, load_schema("product_sentiment"))
    assert wire == window.to_dict()
    assert ProductWindow.loads(window.dumps()) == window
