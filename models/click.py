"""The `ClickEvent` input event (topic `clickstream`) and its strict parser.

Clicks come from shop front-ends we do not control, so `parse_click` checks every field and says exactly what is
wrong; anything it rejects goes to `dead-letters` with the `InvalidEvent` reason.

>>> click = parse_click(b'{"event_id": "e1", "user_id": "u1", "type": "view", "ts": 1700000000000, "product_id": "p1"}')
>>> click.type, click.ts, click.product_id
('view', 1700000000.0, 'p1')
"""

from __future__ import annotations

import math
from typing import Any, Final, Literal, get_args

import faust

from models.errors import InvalidEvent

# The id and time rules must be exactly those of reviews, so reuse them rather than copy them. `_required_id` and
# `_parse_time` are private to models/review.py; importing them is deliberate (one definition of what an id and an
# event time are). If they move, move this import with them.
from models.review import _parse_time, _required_id, decode_json_object

__all__ = ["CLICK_TYPES", "MAX_QUERY_CHARS", "ClickEvent", "ClickType", "parse_click"]

# The last two come from the shop's preference centre: the customer's consent to marketing messages.
ClickType = Literal["view", "search", "add_to_cart", "remove_from_cart", "checkout", "purchase",
                    "marketing_opt_out", "marketing_opt_in"]
CLICK_TYPES: Final[tuple[str, ...]] = get_args(ClickType)

# Enough for any search box; a longer "query" is a bot or a bug, and it would bloat sessions and profiles.
MAX_QUERY_CHARS = 500


class ClickEvent(faust.Record, include_metadata=False, serializer="json"):
    event_id: str
    user_id: str
    # One of CLICK_TYPES; the parser rejects anything else.
    type: str
    # Event time, Unix seconds (the parser also accepts RFC 3339 and epoch milliseconds). All profile, session and
    # window logic uses this time, never the Kafka message time or the processing time.
    ts: float
    product_id: str | None = None
    category: str | None = None
    brand: str | None = None
    # Unit price of `product_id`; for an order-level purchase (no product_id) the order total.
    price: float | None = None
    # Items added, removed or bought; None means 1 for add/purchase and "the whole line" for remove_from_cart.
    quantity: int | None = None
    query: str | None = None
    session_id: str | None = None
    order_id: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready dict, the same shape as on the wire."""
        return {f: getattr(self, f) for f in self._options.fields}


def _optional_id(data: dict[str, Any], name: str) -> str | None:
    if data.get(name) is None:
        return None
    return _required_id(data, name)


def _time(data: dict[str, Any]) -> float:
    if data.get("ts") is None:
        raise InvalidEvent("missing_field", "required field 'ts' is missing; a click needs its event time")
    try:
        ts = _parse_time(data["ts"])
    except InvalidEvent as exc:
        # The shared helper names the review's field in its messages; say which field of a click was wrong.
        raise InvalidEvent(exc.reason, exc.detail.replace("'created_at'", "'ts'")) from exc
    return 0.0 if ts is None else ts  # never None here: None was rejected above


def _price(data: dict[str, Any]) -> float | None:
    value = data.get("price")
    if value is None:
        return None
    # Strings such as "9.99" are rejected rather than guessed at: the upstream contract says number.
    if not isinstance(value, int | float) or isinstance(value, bool):
        raise InvalidEvent("wrong_type", f"field 'price' must be a number, got {type(value).__name__}: {value!r:.60}")
    if not math.isfinite(value) or value < 0:
        raise InvalidEvent("out_of_range", f"field 'price' must be a non-negative number, got {value!r}")
    return float(value)


def _quantity(data: dict[str, Any]) -> int | None:
    value = data.get("quantity")
    if value is None:
        return None
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if not isinstance(value, int) or isinstance(value, bool):
        raise InvalidEvent("wrong_type", f"field 'quantity' must be a positive integer, got {value!r:.60}")
    if value < 1:
        raise InvalidEvent("out_of_range", f"field 'quantity' must be at least 1, got {value}")
    return value


def _query(data: dict[str, Any]) -> str | None:
    value = data.get("query")
    if value is None:
        return None
    if not isinstance(value, str):
        raise InvalidEvent("wrong_type", f"field 'query' must be a string, got {type(value).__name__}")
    value = value.strip()
    if len(value) > MAX_QUERY_CHARS:
        detail = f"field 'query' has {len(value)} characters; the limit is {MAX_QUERY_CHARS}"
        raise InvalidEvent("field_too_long", detail)
    return value or None


def _click_type(data: dict[str, Any]) -> str:
    value = data.get("type")
    if value is None:
        raise InvalidEvent("missing_field", "required field 'type' is missing")
    if not isinstance(value, str):
        raise InvalidEvent("wrong_type", f"field 'type' must be a string, got {type(value).__name__}")
    normalised = value.strip().lower()
    if normalised not in CLICK_TYPES:
        # A new event type upstream must be added here on purpose, not folded into profiles by accident.
        raise InvalidEvent("unknown_type", f"click type {value!r:.60} is not one of {', '.join(CLICK_TYPES)}")
    return normalised


def parse_click(raw: bytes | str | None) -> ClickEvent:
    """Parse and validate one click from the wire; raise `InvalidEvent` with the reason when it is unusable.

    >>> click = parse_click('{"event_id": 7, "user_id": "u1", "type": "search", "ts": "2024-03-01T12:00:00Z", '
    ...                     '"query": " kettle "}')
    >>> click.event_id, click.ts, click.query
    ('7', 1709294400.0, 'kettle')

    Rules beyond the field types: `purchase` needs a `price` and a `product_id` or an `order_id`; `add_to_cart` and
    `remove_from_cart` need a `product_id`; `search` needs a non-empty `query`.
    """
    data = decode_json_object(raw)
    event_id = _required_id(data, "event_id")
    user_id = _required_id(data, "user_id")
    click_type = _click_type(data)
    click = ClickEvent(
        event_id=event_id,
        user_id=user_id,
        type=click_type,
        ts=_time(data),
        product_id=_optional_id(data, "product_id"),
        category=_optional_id(data, "category"),
        brand=_optional_id(data, "brand"),
        price=_price(data),
        quantity=_quantity(data),
        query=_query(data),
        session_id=_optional_id(data, "session_id"),
        order_id=_optional_id(data, "order_id"),
    )
    _check_type_rules(click)
    return click


def _check_type_rules(click: ClickEvent) -> None:
    if click.type == "purchase":
        if click.product_id is None and click.order_id is None:
            raise InvalidEvent("missing_field", "a purchase needs 'product_id' or 'order_id'; neither is present")
        if click.price is None:
            detail = "a purchase needs 'price' (the unit price; the order total when there is no product_id)"
            raise InvalidEvent("missing_field", detail)
    elif click.type in ("add_to_cart", "remove_from_cart") and click.product_id is None:
        raise InvalidEvent("missing_field", f"a {click.type} event needs 'product_id'")
    elif click.type == "search" and click.query is None:
        raise InvalidEvent("missing_field", "a search event needs a non-empty 'query'")
