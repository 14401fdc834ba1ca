"""Reading fields from the wire, strictly: one definition of a JSON object, an id, an event time and a bounded number,
shared by every parser (reviews, clicks, the internal events workers send each other).

>>> decode_json_object(b'{"user_id": "alice", "user_id": "bob"}')
Traceback (most recent call last):
models.errors.InvalidEvent: duplicate_key: the object repeats a key ('user_id'); a repeated key is ambiguous...

Every check raises `InvalidEvent` with a machine-readable reason and a message naming the field and the value.
"""

from __future__ import annotations

import json
import math
import re
import time
from collections.abc import Mapping
from datetime import datetime
from typing import Any, Final

import orjson

from models.bounds import DEFAULT_BOUNDS, ID_CHARS, FieldBounds
from models.errors import InvalidEvent

__all__ = ["bounded_int", "bounded_number", "decode_json_object", "event_time", "optional_id", "optional_text",
           "required_id"]

# A key written with blanks before its colon, which the fast duplicate check below cannot count.
_SPACED_KEY: Final = re.compile(rb'"\s+:')
# Past year 5000 in seconds is surely epoch milliseconds, a frequent mistake upstream.
_MILLIS_FROM: Final = 95_617_584_000


def decode_json_object(raw: bytes | str | None) -> dict[str, Any]:
    """Decode one JSON object from the wire, or raise `InvalidEvent` saying why not. A repeated key is refused
    (`duplicate_key`): JSON parsers disagree on which copy wins, so `"user_id": "alice", ..., "user_id": "bob"`
    could be alice to one consumer and bob to another."""
    if raw is None or raw == b"" or raw == "":
        raise InvalidEvent("empty_message", "the message value is empty; expected a JSON object")
    if isinstance(raw, bytes | bytearray | memoryview):
        data = bytes(raw)
        try:
            data.decode("utf-8")
        except UnicodeDecodeError as exc:
            detail = f"the message is not valid UTF-8 ({exc.reason} at byte {exc.start})"
            raise InvalidEvent("invalid_utf8", detail) from exc
    else:
        data = raw.encode("utf-8", errors="surrogatepass")
    try:
        value = orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        raise InvalidEvent("invalid_json", f"the message is not JSON: {exc}") from exc
    if not isinstance(value, dict):
        raise InvalidEvent("not_an_object", f"expected a JSON object, got {type(value).__name__}")
    _refuse_duplicate_keys(data, value)
    return value


def _refuse_duplicate_keys(data: bytes, value: dict[str, Any]) -> None:
    # orjson keeps the last of repeated keys silently. Counting `":` in the text is an upper bound of the keys written
    # (it also counts `":` inside strings); when it equals the keys parsed, no key was repeated. Only otherwise — or
    # when a key has blanks before its colon — does the slower standard parser look at each object's pairs.
    parsed = _count_keys(value)
    if data.count(b'":') == parsed and not _SPACED_KEY.search(data):
        return

    def pairs_hook(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        seen: set[str] = set()
        for key, _ in pairs:
            if key in seen:
                raise InvalidEvent("duplicate_key", f"the object repeats a key ({key!r:.60}); a repeated key is "
                                   f"ambiguous (parsers disagree on which copy wins): send each key once")
            seen.add(key)
        return dict(pairs)

    json.loads(data, object_pairs_hook=pairs_hook)


def _count_keys(value: Any) -> int:
    if isinstance(value, dict):
        return len(value) + sum(_count_keys(v) for v in value.values() if isinstance(v, dict | list))
    if isinstance(value, list):
        return sum(_count_keys(v) for v in value if isinstance(v, dict | list))
    return 0


def required_id(data: Mapping[str, Any], name: str, bounds: FieldBounds = DEFAULT_BOUNDS) -> str:
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
    if len(value) > bounds.max_id_chars:
        raise InvalidEvent("field_too_long",
                           f"field {name!r} has {len(value)} characters; the limit is {bounds.max_id_chars}")
    if not ID_CHARS.fullmatch(value) or ".." in value:
        raise InvalidEvent("bad_id", f"field {name!r} is {value!r:.60}: an id may hold letters, digits and . _ : @ # "
                           f"+ = ~ | - (no spaces, slashes, quotes, control characters or '..')")
    return value


def optional_id(data: Mapping[str, Any], name: str, bounds: FieldBounds = DEFAULT_BOUNDS) -> str | None:
    if data.get(name) is None:
        return None
    return required_id(data, name, bounds)


def optional_text(data: Mapping[str, Any], name: str, max_chars: int, *, allow_int: bool = False) -> str | None:
    value = data.get(name)
    if value is None:
        return None
    if allow_int and isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    if not isinstance(value, str):
        raise InvalidEvent("wrong_type", f"field {name!r} must be a string, got {type(value).__name__}")
    value = value.strip()
    if len(value) > max_chars:
        raise InvalidEvent("field_too_long", f"field {name!r} has {len(value)} characters; the limit is {max_chars}")
    if "\x00" in value:
        raise InvalidEvent("wrong_type", f"field {name!r} holds a NUL character")
    return value or None


def bounded_number(data: Mapping[str, Any], name: str, *, low: float, high: float) -> float | None:
    """A finite number in [low, high], or None when absent. Strings such as "9.99" are refused, not guessed at."""
    value = data.get(name)
    if value is None:
        return None
    if not isinstance(value, int | float) or isinstance(value, bool):
        raise InvalidEvent("wrong_type", f"field {name!r} must be a number, got {type(value).__name__}: {value!r:.60}")
    if not math.isfinite(value) or not low <= value <= high:
        raise InvalidEvent("out_of_range", f"field {name!r} must be a number from {low:g} to {high:g}, got {value!r}")
    return float(value)


def bounded_int(data: Mapping[str, Any], name: str, *, low: int, high: int) -> int | None:
    value = data.get(name)
    if value is None:
        return None
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if not isinstance(value, int) or isinstance(value, bool):
        raise InvalidEvent("wrong_type", f"field {name!r} must be an integer from {low} to {high}, got {value!r:.60}")
    if not low <= value <= high:
        raise InvalidEvent("out_of_range", f"field {name!r} must be from {low} to {high}, got {value}")
    return value


def event_time(value: Any, name: str, bounds: FieldBounds = DEFAULT_BOUNDS, now: float | None = None) -> float | None:
    """Unix seconds from Unix seconds, epoch milliseconds or an RFC 3339 string with a time zone; None when absent.
    Times outside [now - max_event_age_s, now + max_event_ahead_s] are refused."""
    if value is None:
        return None
    if isinstance(value, int | float) and not isinstance(value, bool):
        if not math.isfinite(value) or value < 0:
            raise InvalidEvent("out_of_range", f"field {name!r} must be a non-negative Unix time, got {value!r}")
        seconds = float(value) / 1000.0 if value > _MILLIS_FROM else float(value)
    elif isinstance(value, str):
        try:
            parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError as exc:
            raise InvalidEvent("wrong_type", f"field {name!r} is not an RFC 3339 time: {value!r:.60}") from exc
        if parsed.tzinfo is None:
            raise InvalidEvent("wrong_type", f"field {name!r} has no time zone: {value!r:.60}")
        seconds = parsed.timestamp()
    else:
        raise InvalidEvent("wrong_type", f"field {name!r} must be a string or a number, got {type(value).__name__}")
    now = time.time() if now is None else now
    if not now - bounds.max_event_age_s <= seconds <= now + bounds.max_event_ahead_s:
        raise InvalidEvent("out_of_range", f"field {name!r} is {_iso(seconds)}, outside the accepted window "
                           f"{_iso(now - bounds.max_event_age_s)} .. {_iso(now + bounds.max_event_ahead_s)} "
                           f"(REVIEWSTREAM_EVENT_TIME_MAX_AGE_DAYS / _MAX_AHEAD_S)")
    return seconds


def _iso(seconds: float) -> str:
    try:
        return datetime.fromtimestamp(seconds).astimezone().isoformat(timespec="seconds")
    except (OverflowError, OSError, ValueError):
        return f"{seconds:g} s"
