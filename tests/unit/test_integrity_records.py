"""`ReviewIntegrity` on the wire agrees with its JSON Schema (the pattern of test_schemas.py)."""

from __future__ import annotations

import jsonschema
import orjson

from models.integrity import SIGNALS, IntegritySignal, ReviewIntegrity
from models.schemas import SCHEMA_NAMES, load_schema
from tests.unit.integrity_factories import CAMPAIGN_TEXT, T0, Shop, facts, fake_account


def test_the_schema_is_registered_and_matches_the_records() -> None:
    assert "review_integrity" in SCHEMA_NAMES
    schema = load_schema("review_integrity")
    jsonschema.Draft202012Validator.check_schema(schema)
    assert set(schema["properties"]) == set(ReviewIntegrity._options.fields) == set(schema["required"])
    signal = schema["$defs"]["IntegritySignal"]
    assert set(signal["properties"]) == set(IntegritySignal._options.fields) == set(signal["required"])
    assert tuple(signal["properties"]["name"]["enum"]) == SIGNALS


def test_verdicts_on_the_wire_are_plain_json_matching_the_schema() -> None:
    shop = Shop()
    for i in range(4):
        user = f"fake{i}"
        shop.review(facts(f"c{i}", user_id=user, at=T0 + i * 60), CAMPAIGN_TEXT + "!" * i, fake_account(user))
    schema = load_schema("review_integrity")
    assert any(r.flagged and r.signals and r.near_duplicates for r in shop.records)
    for record in shop.records:
        wire = orjson.loads(record.dumps())
        assert "__faust" not in wire
        jsonschema.validate(wire, schema)
        assert ReviewIntegrity.loads(record.dumps()).to_dict() == wire == record.to_dict()
