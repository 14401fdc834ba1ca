from __future__ import annotations

import orjson
import pytest

from models.errors import InvalidEvent
from models.review import parse_review


def raw(**fields: object) -> bytes:
    base: dict[str, object] = {"review_id": "r1", "user_id": "u1", "product_id": "p1", "text": "Great kettle"}
    base.update(fields)
    return orjson.dumps({k: v for k, v in base.items() if v is not ...})


def test_valid_review_is_parsed_and_normalised() -> None:
    review = parse_review(raw(user_id=42, rating=5.0, lang=" EN ", created_at="2024-03-01T12:00:00Z", text="  hi  "))
    assert review.user_id == "42"
    assert review.rating == 5
    assert review.lang == "en"
    assert review.text == "hi"
    assert review.created_at == 1709294400.0


def test_millisecond_timestamps_are_recognised() -> None:
    assert parse_review(raw(created_at=1709294400000)).created_at == 1709294400.0


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        (b"\xff\xfe", "invalid_utf8"),
        (b"{not json", "invalid_json"),
        (b"[]", "not_an_object"),
        (b"", "empty_message"),
        (None, "empty_message"),
        (raw(text=...), "missing_field"),
        (raw(text="  "), "empty_text"),
        (raw(text=3), "wrong_type"),
        (raw(review_id=...), "missing_field"),
        (raw(review_id=True), "wrong_type"),
        (raw(user_id=[1]), "wrong_type"),
        (raw(product_id="x" * 201), "field_too_long"),
        (raw(rating=0), "out_of_range"),
        (raw(rating=2.5), "wrong_type"),
        (raw(rating="5"), "wrong_type"),
        (raw(lang=5), "wrong_type"),
        (raw(created_at="tomorrow"), "wrong_type"),
        (raw(created_at="2024-03-01T12:00:00"), "wrong_type"),
        (raw(created_at=-1), "out_of_range"),
        (raw(text="x" * 8001), "text_too_long"),
    ],
)
def test_bad_input_is_rejected_with_its_reason(value: bytes | None, reason: str) -> None:
    with pytest.raises(InvalidEvent) as info:
        parse_review(value)
    assert info.value.reason == reason
    assert info.value.detail


def test_text_limit_is_configurable() -> None:
    with pytest.raises(InvalidEvent, match="limit is 5"):
        parse_review(raw(text="123456"), max_text_chars=5)
