"""The checked-in JSON Schemas agree with the records on the wire."""

from __future__ import annotations

import jsonschema
import orjson
import pytest

from models.alerts import Alert
from models.dead_letter import DeadLetter
from models.insight import INTENTS, ISSUE_KINDS, SENTIMENTS, URGENCIES, ReviewAnalysis, ReviewInsight
from models.marketing import MarketingMessage
from models.review import Review
from models.schemas import SCHEMA_NAMES, load_schema
from tests.unit.fakes import analysis_for


@pytest.mark.parametrize("name", SCHEMA_NAMES)
def test_schema_is_valid_draft_2020_12(name: str) -> None:
    schema = load_schema(name)
    jsonschema.Draft202012Validator.check_schema(schema)


@pytest.mark.parametrize(
    ("record", "schema"),
    [(ReviewInsight, "review_insight"), (DeadLetter, "dead_letter"), (ReviewAnalysis, "review_analysis"),
     (Review, "review"), (Alert, "alert"), (MarketingMessage, "marketing_message")],
)
def test_schema_properties_match_record_fields(record: type, schema: str) -> None:
    fields = set(record._options.fields)  # type: ignore[attr-defined]
    assert set(load_schema(schema)["properties"]) == fields


def test_enums_match_the_model_literals() -> None:
    props = load_schema("review_analysis")["properties"]
    assert tuple(props["sentiment"]["enum"]) == SENTIMENTS
    assert tuple(props["intent"]["enum"]) == INTENTS
    assert tuple(props["urgency"]["enum"]) == URGENCIES
    assert tuple(props["issues"]["items"]["enum"]) == ISSUE_KINDS


def test_insight_on_the_wire_is_plain_json_matching_its_schema() -> None:
    insight = ReviewInsight.build(
        review_id="r1", user_id="u1", product_id="p1", analysis=analysis_for("Great kettle"), model="m",
        degraded=False, redacted=["phone", "email", "phone"], rating=5, review_created_at=None, analyzed_at=1.0,
    )
    wire = orjson.loads(insight.dumps())
    assert "__faust" not in wire
    assert wire["redacted"] == ["email", "phone"]
    jsonschema.validate(wire, load_schema("review_insight"))
    assert ReviewInsight.loads(insight.dumps()).to_dict() == wire


def test_dead_letter_on_the_wire_matches_its_schema() -> None:
    letter = DeadLetter.for_message(value=b"\xff{bad", key=b"k", topic="reviews", partition=2, offset=7,
                                    reason="invalid_utf8", detail="d", exception=ValueError("boom"), now=5.0,
                                    redact=str, sealer=None)
    wire = orjson.loads(letter.dumps())
    jsonschema.validate(wire, load_schema("dead_letter"))
    assert DeadLetter.loads(letter.dumps()).to_dict() == wire
    assert wire["exception_type"] == "ValueError: boom"


def test_review_schema_accepts_what_the_parser_accepts_and_rejects_empty_text() -> None:
    schema = load_schema("review")
    jsonschema.validate({"review_id": "r", "user_id": 1, "product_id": "p", "text": "ok", "rating": 3}, schema)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({"review_id": "r", "user_id": "u", "product_id": "p", "text": ""}, schema)
