from __future__ import annotations

import orjson
import pytest

from models.click import CLICK_TYPES, ClickEvent, parse_click
from models.errors import InvalidEvent


def raw(**fields: object) -> bytes:
    base: dict[str, object] = {"event_id": "e1", "user_id": "u1", "type": "view", "ts": 1700000000, "product_id": "p1"}
    base.update(fields)
    return orjson.dumps({k: v for k, v in base.items() if v is not ...})


def test_valid_view_is_parsed_and_normalised() -> None:
    click = parse_click(raw(user_id=42, type=" VIEW ", category=" kitchen ", brand="Acme", price=19.5, session_id=7))
    assert isinstance(click, ClickEvent)
    assert (click.user_id, click.type, click.category, click.brand, click.price) == ("42", "view", "kitchen", "Acme",
                                                                                       19.5)
    assert click.session_id == "7"
    assert click.ts == 1700000000.0
    assert click.quantity is None and click.order_id is None and click.query is None


@pytest.mark.parametrize(
    ("ts", "expected"),
    [(1700000000, 1700000000.0), (1700000000123, 1700000000.123), ("2024-03-01T12:00:00Z", 1709294400.0),
     ("2024-03-01T13:00:00+01:00", 1709294400.0)],
)
def test_event_time_accepts_rfc3339_seconds_and_milliseconds(ts: object, expected: float) -> None:
    assert parse_click(raw(ts=ts)).ts == pytest.approx(expected)


@pytest.mark.parametrize("click_type", CLICK_TYPES)
def test_every_known_type_parses_with_its_required_fields(click_type: str) -> None:
    extra: dict[str, object] = {"query": "kettle", "price": 10, "order_id": "o1"}
    assert parse_click(raw(type=click_type, **extra)).type == click_type


def test_search_purchase_and_cart_rules_accept_their_minimal_forms() -> None:
    assert parse_click(raw(type="search", product_id=None, query="  red kettle ")).query == "red kettle"
    order = parse_click(raw(type="purchase", product_id=None, order_id=99, price=120.0))
    assert (order.order_id, order.product_id, order.price) == ("99", None, 120.0)
    line = parse_click(raw(type="purchase", price=0, quantity=2.0))
    assert (line.price, line.quantity) == (0.0, 2)
    assert parse_click(raw(type="add_to_cart", quantity=3)).quantity == 3


@pytest.mark.parametrize(
    ("value", "reason", "mentions"),
    [
        (b"\xff", "invalid_utf8", "UTF-8"),
        (b"[1]", "not_an_object", "list"),
        (b"", "empty_message", "empty"),
        (raw(type="wishlist"), "unknown_type", "wishlist"),
        (raw(type=3), "wrong_type", "'type'"),
        (raw(type=...), "missing_field", "'type'"),
        (raw(event_id=...), "missing_field", "event_id"),
        (raw(user_id=""), "missing_field", "user_id"),
        (raw(user_id=True), "wrong_type", "user_id"),
        (raw(product_id="x" * 201), "field_too_long", "product_id"),
        (raw(ts=...), "missing_field", "'ts'"),
        (raw(ts=None), "missing_field", "'ts'"),
        (raw(ts="yesterday"), "wrong_type", "'ts'"),
        (raw(ts="2024-03-01T12:00:00"), "wrong_type", "'ts'"),
        (raw(ts=-5), "out_of_range", "'ts'"),
        (raw(ts=True), "wrong_type", "'ts'"),
        (raw(price=-0.01), "out_of_range", "price"),
        (raw(price="9.99"), "wrong_type", "price"),
        (raw(price=True), "wrong_type", "price"),
        (raw(quantity=0), "out_of_range", "quantity"),
        (raw(quantity=1.5), "wrong_type", "quantity"),
        (raw(quantity="2"), "wrong_type", "quantity"),
        (raw(query=5), "wrong_type", "query"),
        (raw(query="q" * 501), "field_too_long", "query"),
        (raw(category=["a"]), "wrong_type", "category"),
        (raw(type="search", query="   "), "missing_field", "query"),
        (raw(type="search"), "missing_field", "query"),
        (raw(type="add_to_cart", product_id=None), "missing_field", "product_id"),
        (raw(type="remove_from_cart", product_id=...), "missing_field", "product_id"),
        (raw(type="purchase", product_id=None, price=10), "missing_field", "order_id"),
        (raw(type="purchase", order_id="o1"), "missing_field", "price"),
    ],
)
def test_bad_input_is_rejected_with_its_reason(value: bytes, reason: str, mentions: str) -> None:
    with pytest.raises(InvalidEvent) as info:
        parse_click(value)
    assert info.value.reason == reason
    assert mentions in info.value.detail


def test_time_errors_name_the_click_field_not_the_review_field() -> None:
    with pytest.raises(InvalidEvent) as info:
        parse_click(raw(ts="soon"))
    assert "created_at" not in info.value.detail


def test_click_round_trips_as_plain_json() -> None:
    click = parse_click(raw(type="purchase", price=5, quantity=2, order_id="o1"))
    wire = orjson.loads(click.dumps())
    assert "__faust" not in wire
    assert wire == click.to_dict()
    assert ClickEvent.loads(click.dumps()) == click
    assert parse_click(click.dumps()) == click
