"""The `Review` input event and its strict parser.

Reviews arrive as JSON objects from systems we do not control, so the parser checks everything and says exactly what
is wrong; anything it rejects goes to `dead-letters` instead of crashing the worker.

>>> parse_review(b'{"review_id": "r1", "user_id": "u1", "product_id": "p1", "text": "Great kettle", "rating": 5}')
<Review: review_id='r1', user_id='u1', product_id='p1', text='Great kettle', rating=5, lang=None, created_at=None>
"""

from __future__ import annotations

import dataclasses
from typing import Final

import faust

from models.bounds import DEFAULT_BOUNDS, LANGUAGE_CODE, FieldBounds
from models.errors import InvalidEvent
from models.wire import bounded_int, decode_json_object, event_time, required_id

__all__ = ["MAX_TEXT_CHARS", "Review", "parse_review"]

MAX_TEXT_CHARS: Final = DEFAULT_BOUNDS.max_text_chars


class Review(faust.Record, include_metadata=False, serializer="json"):
    review_id: str
    user_id: str
    product_id: str
    text: str
    rating: int | None = None
    lang: str | None = None
    # Unix seconds; the parser also accepts RFC 3339 strings and normalises them.
    created_at: float | None = None


def parse_review(raw: bytes | str | None, *, max_text_chars: int | None = None,
                 bounds: FieldBounds = DEFAULT_BOUNDS, now: float | None = None) -> Review:
    """Parse and validate one review from the wire; raise `InvalidEvent` with the reason when it is unusable."""
    if max_text_chars is not None:
        bounds = dataclasses.replace(bounds, max_text_chars=max_text_chars)
    data = decode_json_object(raw)
    review_id = required_id(data, "review_id", bounds)
    user_id = required_id(data, "user_id", bounds)
    product_id = required_id(data, "product_id", bounds)
    if "text" not in data or data["text"] is None:
        raise InvalidEvent("missing_field", "required field 'text' is missing")
    text = data["text"]
    if not isinstance(text, str):
        raise InvalidEvent("wrong_type", f"field 'text' must be a string, got {type(text).__name__}")
    if not text.strip():
        raise InvalidEvent("empty_text", "field 'text' is empty; a review needs some text")
    if len(text) > bounds.max_text_chars:
        raise InvalidEvent("text_too_long",
                           f"field 'text' has {len(text)} characters; the limit is {bounds.max_text_chars}")
    if "\x00" in text:
        raise InvalidEvent("wrong_type", "field 'text' holds a NUL character; review text is plain text")
    rating = bounded_int(data, "rating", low=1, high=5)
    lang = data.get("lang")
    if lang is not None and not isinstance(lang, str):
        raise InvalidEvent("wrong_type", f"field 'lang' must be a language code string, got {type(lang).__name__}")
    # Only a hint (the analyzer detects the language itself): one that is no language code is dropped, not trusted —
    # it reaches prompts — and not worth losing the review over.
    lang = lang.strip().lower() if lang else None
    if lang is not None and not LANGUAGE_CODE.fullmatch(lang):
        lang = None
    return Review(
        review_id=review_id,
        user_id=user_id,
        product_id=product_id,
        text=text.strip(),
        rating=rating,
        lang=lang,
        created_at=event_time(data.get("created_at"), "created_at", bounds, now),
    )
