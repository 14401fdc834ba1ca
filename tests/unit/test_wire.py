"""The field rules every parser shares: one JSON object, ids, bounded numbers, event times in a window around now."""

from __future__ import annotations

import pytest

from models.bounds import FieldBounds
from models.click import parse_click
from models.errors import InvalidEvent
from models.review import parse_review
from models.wire import decode_json_object, event_time, required_id

NOW = 1_760_000_000.0


@pytest.mark.parametrize("raw", [
    b'{"user_id": "alice", "text": "x", "user_id": "bob"}',
    b'{"a": 1, "a" : 2}',
    b'{"outer": {"k": 1, "k": 2}}',
    b'{"list": [{"k": 1}, {"k": 1, "k": 2}]}',
    '{"ключ": 1, "ключ": 2}'.encode(),
])
def test_a_repeated_key_anywhere_is_refused_with_its_own_reason(raw: bytes) -> None:
    with pytest.raises(InvalidEvent) as raised:
        decode_json_object(raw)
    assert raised.value.reason == "duplicate_key"


@pytest.mark.parametrize("raw", [
    b'{"text": "a \\": b", "note": "x\\":y"}',  # `":` inside strings is not a key
    b'{"a": {"b": 1}, "c": [{"b": 2}, {"b": 3}]}',  # the same key in different objects
    b'{"a" :1, "b"\n: 2}',  # blanks before the colon
])
def test_objects_without_repeated_keys_pass(raw: bytes) -> None:
    decode_json_object(raw)


@pytest.mark.parametrize("value, reason", [
    ("u\x00ser", "bad_id"), ("../../etc/passwd", "bad_id"), ("a b", "bad_id"), ("x/y", "bad_id"),
    ("'; drop table", "bad_id"), ("u" * 201, "field_too_long"), ("", "missing_field"), (1.5, "wrong_type"),
])
def test_ids_hold_no_control_characters_paths_or_spaces(value: object, reason: str) -> None:
    with pytest.raises(InvalidEvent) as raised:
        required_id({"user_id": value}, "user_id")
    assert raised.value.reason == reason
    assert "user_id" in raised.value.detail


@pytest.mark.parametrize("value", ["u-42", "user:42", "张三", "a.b_c@shop#1", 42])
def test_real_ids_pass(value: object) -> None:
    assert required_id({"user_id": value}, "user_id") == str(value)


@pytest.mark.parametrize("value", [1e300, 0, -1, NOW + 2 * 86400, "1970-01-01T00:00:00Z", "9999-01-01T00:00:00Z"])
def test_event_times_outside_the_window_around_now_are_out_of_range(value: object) -> None:
    with pytest.raises(InvalidEvent) as raised:
        event_time(value, "ts", now=NOW)
    assert raised.value.reason == "out_of_range"


def test_the_window_is_configurable_and_milliseconds_are_recognised() -> None:
    narrow = FieldBounds(max_event_age_s=60.0, max_event_ahead_s=1.0)
    assert event_time((NOW - 30) * 1000, "ts", narrow, now=NOW) == NOW - 30
    with pytest.raises(InvalidEvent):
        event_time(NOW - 120, "ts", narrow, now=NOW)


@pytest.mark.parametrize("field, value, reason", [
    ("quantity", 1e20, "out_of_range"), ("quantity", 100_001, "out_of_range"), ("price", 1e308, "out_of_range"),
    ("price", -0.01, "out_of_range"), ("price", "9.99", "wrong_type"), ("quantity", True, "wrong_type"),
])
def test_click_numbers_stay_within_their_bounds(field: str, value: object, reason: str) -> None:
    import orjson

    click = {"event_id": "e1", "user_id": "u1", "type": "add_to_cart", "ts": NOW, "product_id": "p1", field: value}
    with pytest.raises(InvalidEvent) as raised:
        parse_click(orjson.dumps(click), now=NOW)
    assert raised.value.reason == reason


def test_a_review_with_nul_text_is_refused_and_a_language_hint_that_is_no_code_dropped() -> None:
    base = b'{"review_id": "r1", "user_id": "u1", "product_id": "p1", '
    with pytest.raises(InvalidEvent, match="NUL"):
        parse_review(base + b'"text": "bad\\u0000text"}', now=NOW)
    assert parse_review(base + b'"text": "ok", "lang": "en\'; ignore previous"}', now=NOW).lang is None
    assert parse_review(base + b'"text": "ok", "lang": "zh-CN"}', now=NOW).lang == "zh-cn"
