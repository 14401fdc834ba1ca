"""The `ClickEvent` input event (topic `clickstream`) and its strict parser.

Clicks come from shop front-ends we do not control, so `parse_click` checks every field and says exactly what is
wrong; anything it rejects goes to `dead-letters` with the `InvalidEvent` reason.

>>> click = parse_click(b'{"event_id": "e1", "user_id": "u1", "type": "view", "ts": 1700000000000, "product_id": "p1"}')
>>> click.type, click.ts, click.product_id
('view', 1700000000.0, 'p1')
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final, Literal, get_args

from models.bounds import DEFAULT_BOUNDS, FieldBounds
from models.errors import InvalidEvent
from models.structs import FrozenRecord
from models.wire import (
    bounded_int,
    bounded_number,
    decode_json_object,
    event_time,
    optional_id,
    optional_text,
    required_id,
)

__all__ = ["CLICK_TYPES", "ClickEvent", "ClickType", "click_from_data", "parse_click"]

# The last two come from the shop's preference centre: the customer's consent to marketing messages.
ClickType = Literal["view", "search", "add_to_cart", "remove_from_cart", "checkout", "purchase",
                    "marketing_opt_out", "marketing_opt_in"]
CLICK_TYPES: Final[tuple[str, ...]] = get_args(ClickType)


class ClickEvent(FrozenRecord, frozen=True):
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


def _click_type(data: Mapping[str, Any]) -> str:
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


def parse_click(raw: bytes | str | None, *, bounds: FieldBounds = DEFAULT_BOUNDS,
                now: float | None = None) -> ClickEvent:
    """Parse and validate one click from the wire; raise `InvalidEvent` with the reason when it is unusable.

    >>> click = parse_click('{"event_id": 7, "user_id": "u1", "type": "search", "ts": "2024-03-01T12:00:00Z", '
    ...                     '"query": " kettle "}')
    >>> click.event_id, click.ts, click.query
    ('7', 1709294400.0, 'kettle')

    Rules beyond the field types: `purchase` needs a `price` and a `product_id` or an `order_id`; `add_to_cart` and
    `remove_from_cart` need a `product_id`; `search` needs a non-empty `query`; numbers and times stay within
    `bounds`.
    """
    return click_from_data(decode_json_object(raw), bounds=bounds, now=now)


def click_from_data(data: Mapping[str, Any], *, bounds: FieldBounds = DEFAULT_BOUNDS,
                    now: float | None = None) -> ClickEvent:
    """The same checks on an already decoded object (a click forwarded between workers is checked again)."""
    if data.get("ts") is None:
        raise InvalidEvent("missing_field", "required field 'ts' is missing; a click needs its event time")
    click = ClickEvent(
        event_id=required_id(data, "event_id", bounds),
        user_id=required_id(data, "user_id", bounds),
        type=_click_type(data),
        ts=event_time(data["ts"], "ts", bounds, now) or 0.0,
        product_id=optional_id(data, "product_id", bounds),
        # Names people read ("Home & Kitchen", "Dr. Martens"), not ids: bounded text.
        category=optional_text(data, "category", bounds.max_id_chars, allow_int=True),
        brand=optional_text(data, "brand", bounds.max_id_chars, allow_int=True),
        price=bounded_number(data, "price", low=0.0, high=bounds.max_price),
        quantity=bounded_int(data, "quantity", low=1, high=bounds.max_quantity),
        query=optional_text(data, "query", bounds.max_query_chars),
        session_id=optional_id(data, "session_id", bounds),
        order_id=optional_id(data, "order_id", bounds),
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
