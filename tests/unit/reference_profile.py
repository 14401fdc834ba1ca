"""An independent, deliberately simple reference for the profile aggregates, to check the worker against.

It recomputes from the full list of events what `models.profile` folds incrementally — counts by click type, orders,
spend, review count, first/last seen and the open cart — with plain loops and exact sets, and shares no code with the
fold (only the parser, so raw events are read exactly as the worker reads them). Integration tests produce events,
let the worker run (with crashes and replays if they like), read `user-profiles`, and compare:

    expected = reference_profiles(produced_clicks, produced_insights)
    for user_id, ref in expected.items():
        assert differences(ref, latest_profile_by_user[user_id]) == []

Semantics it pins down (the contract of the fold, restated independently):
- Clicks of one user are applied in the given order (= the order of their partition); insights in any order.
- first_seen / last_seen: min / max event time over clicks (`ts`) and insights (`review_created_at`, else
  `analyzed_at`).
- orders: distinct order ids, plus one per purchase without an order id; spend: Σ price × (quantity or 1).
- review_count: distinct review ids (a re-published insight is the same review).
- cart (product_id → quantity): add_to_cart adds quantity (default 1); remove_from_cart subtracts it, or drops the line
  without a quantity; a purchase with a product drops that line; a purchase without a product (a whole order) empties
  the cart, and cart events with an event time before the latest such purchase are ignored.
Not modelled, so keep test data inside them: the 30-line cart cap and the memory of the last 5 order ids (the line
events of one order should come together, as shops send them).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import orjson

from models.click import ClickEvent, parse_click
from models.errors import InvalidEvent
from models.insight import ReviewInsight
from models.profile import UserProfile

__all__ = ["ReferenceProfile", "differences", "reference_profiles"]


@dataclass
class ReferenceProfile:
    user_id: str
    first_seen: float = float("inf")
    last_seen: float = float("-inf")
    counts: dict[str, int] = field(default_factory=dict)
    order_ids: set[str] = field(default_factory=set)
    orders_without_id: int = 0
    spend: float = 0.0
    review_ids: set[str] = field(default_factory=set)
    cart: dict[str, int] = field(default_factory=dict)
    cart_cleared_at: float | None = None

    @property
    def orders(self) -> int:
        return len(self.order_ids) + self.orders_without_id

    @property
    def review_count(self) -> int:
        return len(self.review_ids)

    def seen_at(self, at: float) -> None:
        self.first_seen = min(self.first_seen, at)
        self.last_seen = max(self.last_seen, at)


def _as_click(event: ClickEvent | Mapping[str, Any]) -> ClickEvent | None:
    if isinstance(event, ClickEvent):
        return event
    try:
        return parse_click(orjson.dumps(dict(event)))
    except InvalidEvent:
        return None  # the worker dead-letters it: it belongs to no profile


def reference_profiles(
    clicks: Iterable[ClickEvent | Mapping[str, Any]],
    insights: Iterable[ReviewInsight | Mapping[str, Any]] = (),
) -> dict[str, ReferenceProfile]:
    """Expected aggregates per user_id. Raw click dicts are parsed as the worker parses them; invalid ones skipped."""
    users: dict[str, ReferenceProfile] = {}
    for event in clicks:
        click = _as_click(event)
        if click is None:
            continue
        ref = users.setdefault(click.user_id, ReferenceProfile(click.user_id))
        ref.seen_at(click.ts)
        ref.counts[click.type] = ref.counts.get(click.type, 0) + 1
        if click.type == "purchase":
            ref.spend += (click.price or 0.0) * (click.quantity or 1)
            if click.order_id is None:
                ref.orders_without_id += 1
            else:
                ref.order_ids.add(click.order_id)
        _apply_to_cart(ref, click)
    for insight in insights:
        data = insight.to_dict() if isinstance(insight, ReviewInsight) else insight
        ref = users.setdefault(str(data["user_id"]), ReferenceProfile(str(data["user_id"])))
        created = data.get("review_created_at")
        ref.seen_at(float(created) if created is not None else float(data["analyzed_at"]))
        ref.review_ids.add(str(data["review_id"]))
    return users


def _apply_to_cart(ref: ReferenceProfile, click: ClickEvent) -> None:
    is_cart_edit = click.type in ("add_to_cart", "remove_from_cart")
    if is_cart_edit and ref.cart_cleared_at is not None and click.ts < ref.cart_cleared_at:
        return
    product = click.product_id
    if click.type == "add_to_cart" and product is not None:
        ref.cart[product] = ref.cart.get(product, 0) + (click.quantity or 1)
    elif click.type == "remove_from_cart" and product is not None and product in ref.cart:
        if click.quantity is None or ref.cart[product] <= click.quantity:
            del ref.cart[product]
        else:
            ref.cart[product] -= click.quantity
    elif click.type == "purchase" and product is not None:
        ref.cart.pop(product, None)
    elif click.type == "purchase":
        if ref.cart_cleared_at is None or click.ts >= ref.cart_cleared_at:
            ref.cart = {}
            ref.cart_cleared_at = click.ts


def differences(expected: ReferenceProfile, actual: UserProfile | Mapping[str, Any]) -> list[str]:
    """Human-readable mismatches between the reference and a worker profile (record or wire dict); [] if none."""
    got = actual.to_dict() if isinstance(actual, UserProfile) else dict(actual)
    problems = []
    checks: list[tuple[str, Any, Any]] = [
        ("user_id", expected.user_id, got["user_id"]),
        ("counts", expected.counts, got["counts"]),
        ("orders", expected.orders, got["orders"]),
        ("review_count", expected.review_count, got["review_count"]),
        ("first_seen", expected.first_seen, got["first_seen"]),
        ("last_seen", expected.last_seen, got["last_seen"]),
        ("cart", expected.cart, {pid: line["qty"] for pid, line in got["cart"].items()}),
    ]
    for name, want, have in checks:
        if want != have:
            problems.append(f"{name}: expected {want!r}, got {have!r}")
    # Spend is a float sum; the fold adds in the same order, but allow for rounding in another order.
    if abs(expected.spend - got["spend"]) > 1e-6 * max(1.0, abs(expected.spend)):
        problems.append(f"spend: expected {expected.spend!r}, got {got['spend']!r}")
    return problems
