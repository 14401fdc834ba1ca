"""The `Review` input event and its strict parser.

Reviews arrive as JSON objects from systems we do not control, so the parser checks everything and says exactly what
is wrong; anything it rejects goes to `dead-letters` instead of crashing the worker.

>>> parse_review(b'{"review_id": "r1", "user_id": "u1", "product_id": "p1", "text": "Great kettle", "rating": 5}')
<Review: review_id='r1', user_id='u1', product_id='p1', text='Great kettle', rating=5, lang=None, created_at=None>
"""

from __future__ import annotations

import math
from datetime import datetime
from typing import Any

import faust
import orjson

from models.errors import InvalidEvent

__all__ = ["MAX_ID_CHARS", "MAX_TEXT_CHARS", "Review", "decode_json_object", "parse_review"]

# Long enough for any real review (the longest in the bundled corpora is ~4k characters), short enough that one
# event cannot blow the LLM context or the token budget.
MAX_TEXT_CHARS = 8000
MAX_ID_CHARS = 200


class Review(faust.Record, include_metadata=False, serializer="json"):
    review_id: str
    user_id: str
    product_id: str
    text: str
    rating: int | None = None
    lang: str | None = None
    # Unix seconds; the parser also accepts RFC 3339 strings and normalises them.
    created_at: float | None = None


def decode_json_object(raw: bytes | str | None) -> dict[str, Any]:
    """Decode one JSON object from the wire, or raise `InvalidEvent` saying why not."""
    if raw is None or raw == b"" or raw == "":
        raise InvalidEvent("empty_message", "the message value is empty; expected a JSON object")
    if isinstance(raw, bytes | bytearray | memoryview):
        try:
            text = bytes(raw).decode("utf-8")
        except UnicodeDecodeError as exc:
            detail = f"the message is not valid UTF-8 ({exc.reason} at byte {exc.start})"
            raise InvalidEvent("invalid_utf8", detail) from exc
    else:
        text = raw
    try:
        value = orjson.loads(text)
    except orjson.JSONDecodeError as exc:
        raise InvalidEvent("invalid_json", f"the message is not JSON: {exc}") from exc
    if not isinstance(value, dict):
        raise InvalidEvent("not_an_object", f"expected a JSON object, got {type(value).__name__}")
    return value


def _required_id(data: dict[str, Any], name: str) -> str:
    if name not in data or data[name] is None:
        raise InvalidEvent("missing_field", f"required field {name!r} is missing")
    value = data[name]
    # Integer ids are common in shop databases; they are unambiguous, so accept them as their decimal string.
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    if not isinstance(value, str):
        raise InvalidEvent("wrong_type", f"field {name!r} must be a string, got {type(value).__name__}: {value!r:.60}")
    value = value.strip()
    if not value:
        raise InvalidEvent("missing_field", f"field {name!r} is empty")
    if len(value) > MAX_ID_CHARS:
        raise InvalidEvent("field_too_long", f"field {name!r} has {len(value)} characters; the limit is {MAX_ID_CHARS}")
    return value


def _parse_time(value: Any) -> float | None:
    if value is None:
        return None
    if isinstance(value, int | float) and not isinstance(value, bool):
        if not math.isfinite(value) or value < 0:
            raise InvalidEvent("out_of_range", f"field 'created_at' must be a non-negative Unix time, got {value!r}")
        # Milliseconds are a frequent mistake upstream; anything past year 5000 in seconds is surely milliseconds.
        return float(value) / 1000.0 if value > 95_617_584_000 else float(value)
    if isinstance(value, str):
        try:
            parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError as exc:
            raise InvalidEvent("wrong_type", f"field 'created_at' is not an RFC 3339 time: {value!r:.60}") from exc
        if parsed.tzinfo is None:
            raise InvalidEvent("wrong_type", f"field 'created_at' has no time zone: {value!r:.60}")
        return parsed.timestamp()
    raise InvalidEvent("wrong_type", f"field 'created_at' must be a string or a number, got {type(value).__name__}")


def parse_review(raw: bytes | str | None, *, max_text_chars: int = MAX_TEXT_CHARS) -> Review:
    """Parse and validate one review from the wire; raise `InvalidEvent` with the reason when it is unusable."""
    data = decode_json_object(raw)
    review_id = _required_id(data, "review_id")
    user_id = _required_id(data, "user_id")
    product_id = _required_id(data, "product_id")
    if "text" not in data or data["text"] is None:
        raise InvalidEvent("missing_field", "required field 'text' is missing")
    text = data["text"]
    if not isinstance(text, str):
        raise InvalidEvent("wrong_type", f"field 'text' must be a string, got {type(text).__name__}")
    if not text.strip():
        raise InvalidEvent("empty_text", "field 'text' is empty; a review needs some text")
    if len(text) > max_text_chars:
        raise InvalidEvent("text_too_long", f"field 'text' has {len(text)} characters; the limit is {max_text_chars}")
    rating = data.get("rating")
    if rating is not None:
        if isinstance(rating, float) and rating.is_integer():
            rating = int(rating)
        if not isinstance(rating, int) or isinstance(rating, bool):
            raise InvalidEvent("wrong_type", f"field 'rating' must be an integer 1-5, got {rating!r:.60}")
        if not 1 <= rating <= 5:
            raise InvalidEvent("out_of_range", f"field 'rating' must be between 1 and 5, got {rating}")
    lang = data.get("lang")
    if lang is not None and not isinstance(lang, str):
        raise InvalidEvent("wrong_type", f"field 'lang' must be a language code string, got {type(lang).__name__}")
    return Review(
        review_id=review_id,
        user_id=user_id,
        product_id=product_id,
        text=text.strip(),
        rating=rating,
        lang=(lang or None) and lang.strip().lower()[:16],
        created_at=_parse_time(data.get("created_at")),
    )
