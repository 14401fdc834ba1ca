"""The profile fold: counts, decayed interests, price band, cart, orders, RFM, reviews, replay safety. Explicit time."""

from __future__ import annotations

import random
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

import orjson
import pytest

from models.click import ClickEvent
from models.insight import ReviewInsight
from models.profile import (
    DEFAULT_CONFIG,
    ProfileConfig,
    ProfileUpdate,
    RfmConfig,
    SourceRef,
    UserProfile,
    bought_before,
    fold_click,
    fold_insight,
    price_band,
    rfm_segment,
    segment_as_of,
    top_interests,
)
from tests import factories
from tests.unit.reference_profile import differences, reference_profiles

T0 = 1_700_000_000.0
DAY = 86_400.0
HALF_LIFE = 14 * DAY


def make_click(type: str = "view", ts: float = T0, user_id: str = "u1", **fields: Any) -> ClickEvent:
    fields.setdefault("event_id", f"e{ts}")
    return ClickEvent(user_id=user_id, type=type, ts=ts, **fields)


def make_insight(review_id: str = "r1", *, score: float = 0.8, at: float | None = T0, analyzed_at: float = T0 + 60,
                 summary: str = "fine", **fields: Any) -> ReviewInsight:
    """This module's defaults (a review at T0, analysed a minute later, score 0.8 whatever the sentiment)."""
    return factories.make_insight(review_id, score=score, at=at, analyzed_at=analyzed_at, summary=summary, **fields)


@dataclass
class Feeder:
    """Folds events with increasing offsets per topic-partition, as one agent per partition would."""

    profile: UserProfile | None = None
    cfg: ProfileConfig = DEFAULT_CONFIG

    def __post_init__(self) -> None:
        self.offsets: dict[tuple[str, int], int] = {}

    def _source(self, topic: str, partition: int) -> SourceRef:
        offset = self.offsets.get((topic, partition), -1) + 1
        self.offsets[(topic, partition)] = offset
        return SourceRef(topic, partition, offset)

    def click(self, type: str = "view", ts: float = T0, partition: int = 0, **fields: Any) -> ProfileUpdate:
        update = fold_click(self.profile, make_click(type, ts, **fields), self._source("clickstream", partition),
                            self.cfg)
        self.profile = update.profile
        return update

    def insight(self, partition: int = 0, **fields: Any) -> ProfileUpdate:
        update = fold_insight(self.profile, make_insight(**fields), self._source("review-insights", partition),
                              self.cfg)
        self.profile = update.profile
        return update

    @property
    def p(self) -> UserProfile:
        assert self.profile is not None
        return self.profile


# ---------------------------------------------------------------------------------------------------- basics


def test_first_click_creates_the_profile_and_is_meaningful() -> None:
    update = fold_click(None, make_click("view", T0, category="kitchen", brand="acme", product_id="p1", price=30.0),
                        SourceRef("clickstream", 0, 5))
    p = update.profile
    assert update.changed and update.meaningful
    assert update.reasons[0] == "first_seen"
    assert (p.user_id, p.first_seen, p.last_seen, p.counts) == ("u1", T0, T0, {"view": 1})
    assert p.category_interest == {"kitchen": 1.0} and p.brand_interest == {"acme": 1.0}
    assert p.folded_offsets == {"clickstream:0": 5}
    assert p.segment == "prospect" and p.orders == 0 and p.marketing_opt_out is False


def test_routine_view_changes_the_profile_but_is_not_meaningful() -> None:
    f = Feeder()
    f.click("view", T0, category="kitchen", product_id="p1", price=30.0)
    update = f.click("view", T0 + 60, category="kitchen", product_id="p2", price=40.0)
    assert update.changed and not update.meaningful
    assert f.p.counts == {"view": 2}


def test_an_empty_profile_has_every_field_at_its_empty_value() -> None:
    assert UserProfile.empty("u1", T0) == UserProfile(
        user_id="u1", first_seen=T0, last_seen=T0, counts={}, category_interest={}, brand_interest={},
        interest_as_of=None, recent_prices=[], price_band=None, cart={}, cart_updated_at=None, cart_cleared_at=None,
        orders=0, spend=0.0, last_order_at=None, recent_order_ids=[], recency_days=None, segment="prospect",
        review_count=0, mean_sentiment=None, sentiment_history=[], last_negative_review=None, recent_review_ids=[],
        folded_offsets={}, marketing_opt_out=False, language=None)


def test_fold_does_not_modify_its_input() -> None:
    f = Feeder()
    f.click("add_to_cart", T0, product_id="p1", category="kitchen", price=10.0)
    before = f.p.dumps()
    f.click("purchase", T0 + 10, order_id="o1", price=10.0)
    f.insight(review_id="r1")
    original = UserProfile.loads(before)
    assert original.dumps() == before
    assert original.cart and original.orders == 0


def test_event_of_another_user_is_refused() -> None:
    f = Feeder()
    f.click()
    with pytest.raises(ValueError, match="u2"):
        fold_click(f.p, make_click(user_id="u2"), SourceRef("clickstream", 0, 99))
    with pytest.raises(ValueError, match="u2"):
        fold_insight(f.p, make_insight(user_id="u2"), SourceRef("review-insights", 0, 99))


def test_first_and_last_seen_follow_event_time_not_arrival_order() -> None:
    f = Feeder()
    f.click("view", T0)
    f.click("view", T0 - 100)
    f.insight(at=T0 + 500)
    f.insight(review_id="r2", at=None, analyzed_at=T0 + 900)  # no review time: the analysis time stands in
    assert (f.p.first_seen, f.p.last_seen) == (T0 - 100, T0 + 900)


# ---------------------------------------------------------------------------------------------------- interests


def test_a_review_before_any_click_does_not_move_the_interest_clock() -> None:
    click = make_click("view", T0, category="kitchen")
    review = make_insight("r1", at=T0 + DAY)
    a = fold_insight(fold_click(None, click, SourceRef("clickstream", 0, 0)).profile, review,
                     SourceRef("review-insights", 0, 0)).profile
    b = fold_click(fold_insight(None, review, SourceRef("review-insights", 0, 0)).profile, click,
                   SourceRef("clickstream", 0, 0)).profile
    assert a == b  # field by field (the offsets map may list its partitions in another order)
    assert (a.interest_as_of, a.category_interest) == (T0, {"kitchen": 1.0})


def test_interest_halves_every_half_life() -> None:
    f = Feeder()
    f.click("view", T0, category="kitchen", brand="acme")
    f.click("view", T0 + HALF_LIFE, category="garden")
    assert f.p.interest_as_of == T0 + HALF_LIFE
    assert f.p.category_interest == pytest.approx({"kitchen": 0.5, "garden": 1.0})
    assert f.p.brand_interest == pytest.approx({"acme": 0.5})


def test_late_event_adds_its_weight_already_decayed() -> None:
    f = Feeder()
    f.click("view", T0 + 2 * HALF_LIFE, category="kitchen")
    f.click("purchase", T0, category="garden", product_id="p1", price=5.0)  # weight 5, two half-lives old
    assert f.p.interest_as_of == T0 + 2 * HALF_LIFE
    assert f.p.category_interest == pytest.approx({"kitchen": 1.0, "garden": 5.0 / 4})


def test_interest_weights_and_half_life_are_configurable() -> None:
    cfg = ProfileConfig(half_life_s=DAY, interest_weights={"view": 2.0})
    f = Feeder(cfg=cfg)
    f.click("view", T0, category="a")
    f.click("add_to_cart", T0 + DAY, category="b", product_id="p")  # weight 0 under this config: adds nothing
    f.click("view", T0 + DAY, category="c")
    assert f.p.category_interest == pytest.approx({"a": 1.0, "c": 2.0})


def test_interest_scores_do_not_depend_on_arrival_order() -> None:
    rng = random.Random(7)
    events = [("view", T0 + rng.uniform(0, 60 * DAY), rng.choice("abcdef"), rng.choice("xyz")) for _ in range(200)]
    results = []
    for _ in range(3):
        rng.shuffle(events)
        f = Feeder()
        for kind, ts, category, brand in events:
            f.click(kind, ts, category=category, brand=brand)
        results.append(f.p)
    for p in results[1:]:
        assert p.interest_as_of == results[0].interest_as_of
        assert p.category_interest == pytest.approx(results[0].category_interest, rel=1e-9)
        assert p.brand_interest == pytest.approx(results[0].brand_interest, rel=1e-9)


def test_only_the_top_k_interests_are_kept() -> None:
    f = Feeder(cfg=ProfileConfig(top_k_interests=3))
    for i, weight_events in enumerate([1, 4, 2, 3]):
        for j in range(weight_events):
            f.click("view", T0 + i * 10 + j, category=f"c{i}")
    assert set(f.p.category_interest) == {"c1", "c2", "c3"}
    assert top_interests(f.p.category_interest, 2) == ["c1", "c3"]


def test_a_new_favourite_is_meaningful_a_reshuffle_is_not() -> None:
    f = Feeder()
    for category in ("a", "a", "a", "b", "b", "c"):
        f.click("view", T0, category=category)
    assert f.click("view", T0, category="c").reasons == ()  # c overtakes nobody in the set {a, b, c}
    assert f.click("view", T0, category="c").reasons == ()  # c passes b: same top-3 set
    assert f.click("view", T0, category="d").reasons == ()  # d enters 4th
    f.click("view", T0, category="d")
    assert f.click("view", T0, category="d").reasons == ("interest_change",)  # d (3) passes b (2): set changes


# ---------------------------------------------------------------------------------------------------- price band


@pytest.mark.parametrize(
    ("median", "band"),
    [(None, None), (0.0, "budget"), (24.99, "budget"), (25.0, "mid"), (99.99, "mid"), (100.0, "premium")],
)
def test_price_band_boundaries(median: float | None, band: str | None) -> None:
    assert price_band(median) == band


def test_price_band_is_the_median_of_recent_unit_prices() -> None:
    f = Feeder(cfg=ProfileConfig(price_memory=3))
    f.click("view", T0, product_id="p1", price=500.0)
    assert f.p.price_band == "premium"
    f.click("view", T0 + 1, product_id="p2", price=10.0)
    f.click("add_to_cart", T0 + 2, product_id="p3", price=20.0)
    assert f.p.price_band == "budget"  # median of 500, 10, 20
    f.click("purchase", T0 + 3, order_id="o1", price=10_000.0)  # an order total is not a unit price
    f.click("search", T0 + 4, query="tv", price=9999.0)  # nor is a price on a search
    f.click("view", T0 - 50, product_id="p0", price=1.0)  # older than all three: falls out of the memory at once
    assert [p for _, p in f.p.recent_prices] == [500.0, 10.0, 20.0]
    assert f.click("view", T0 + 5, product_id="p4", price=60.0).reasons == ()  # 500 drops out; median 20
    update = f.click("view", T0 + 6, product_id="p5", price=80.0)  # median of 20, 60, 80
    assert f.p.price_band == "mid" and update.reasons == ("price_band_change",)


def test_price_thresholds_are_configurable() -> None:
    assert price_band(30.0, ProfileConfig(budget_below=50.0, premium_from=60.0)) == "budget"
    with pytest.raises(ValueError, match="budget_below"):
        ProfileConfig(budget_below=100.0, premium_from=50.0)


# ---------------------------------------------------------------------------------------------------- cart, orders


def cart_of(p: UserProfile) -> dict[str, int]:
    return {pid: line.qty for pid, line in p.cart.items()}


def test_cart_opens_fills_shrinks_and_closes() -> None:
    f = Feeder()
    f.click("view", T0)
    update = f.click("add_to_cart", T0 + 10, product_id="p1", price=5.0)
    assert "cart_opened" in update.reasons
    assert f.click("add_to_cart", T0 + 20, product_id="p1", quantity=2, price=4.0).reasons == ()
    line = f.p.cart["p1"]
    assert (line.qty, line.price, line.added_at) == (3, 4.0, T0 + 10)
    f.click("add_to_cart", T0 + 30, product_id="p2")
    f.click("remove_from_cart", T0 + 40, product_id="p1", quantity=1)
    assert cart_of(f.p) == {"p1": 2, "p2": 1}
    f.click("remove_from_cart", T0 + 50, product_id="p9")  # not in the cart: nothing to do
    assert f.p.cart_updated_at == T0 + 40
    f.click("remove_from_cart", T0 + 60, product_id="p1")  # no quantity: the whole line
    update = f.click("remove_from_cart", T0 + 70, product_id="p2", quantity=5)  # more than there is
    assert f.p.cart == {} and "cart_closed" in update.reasons
    assert f.p.cart_updated_at == T0 + 70


def test_purchase_of_a_product_removes_its_line_and_an_order_empties_the_cart() -> None:
    f = Feeder()
    f.click("add_to_cart", T0, product_id="p1", price=5.0)
    f.click("add_to_cart", T0 + 1, product_id="p2", price=7.0)
    update = f.click("purchase", T0 + 2, product_id="p1", price=5.0)
    assert cart_of(f.p) == {"p2": 1} and "new_order" in update.reasons
    update = f.click("purchase", T0 + 3, order_id="o2", price=7.0)
    assert f.p.cart == {} and f.p.cart_cleared_at == T0 + 3 and "cart_closed" in update.reasons


def test_late_cart_events_cannot_reopen_a_cart_an_order_emptied() -> None:
    f = Feeder()
    f.click("add_to_cart", T0, product_id="p1")
    f.click("purchase", T0 + 100, order_id="o1", price=9.0)
    update = f.click("add_to_cart", T0 + 50, product_id="p1")  # sent before the order, arrived after it
    assert f.p.cart == {} and "cart_opened" not in update.reasons
    assert f.p.counts["add_to_cart"] == 2  # still counted as a click
    f.click("purchase", T0 + 60, order_id="o0", price=1.0)  # a late order does not move the clearing time back
    assert f.p.cart_cleared_at == T0 + 100
    f.click("add_to_cart", T0 + 200, product_id="p3")
    assert cart_of(f.p) == {"p3": 1}


def test_cart_keeps_at_most_max_lines_dropping_the_oldest() -> None:
    f = Feeder(cfg=ProfileConfig(cart_max_lines=2))
    for i, pid in enumerate(["a", "b", "c"]):
        f.click("add_to_cart", T0 + i, product_id=pid)
    assert cart_of(f.p) == {"b": 1, "c": 1}


def test_orders_count_line_events_of_one_order_once_and_spend_adds_price_times_quantity() -> None:
    f = Feeder()
    f.click("purchase", T0, product_id="p1", order_id="o1", price=10.0, quantity=2)
    update = f.click("purchase", T0, product_id="p2", order_id="o1", price=5.0)
    assert "new_order" not in update.reasons
    f.click("purchase", T0 + 5, product_id="p3", price=1.5)  # no order id: its own order
    f.click("purchase", T0 + 9, order_id="o2", price=100.0)
    assert (f.p.orders, f.p.spend, f.p.last_order_at) == (3, 126.5, T0 + 9)
    assert f.p.counts["purchase"] == 4


def test_purchased_products_keep_each_products_first_purchase() -> None:
    f = Feeder()
    f.click("purchase", T0 + 10, product_id="kettle", order_id="o1", price=30.0)
    f.click("purchase", T0 + 99, product_id="kettle", order_id="o2", price=30.0)  # bought again: still first time
    f.click("purchase", T0 + 5, product_id="mug", order_id="o0", price=5.0)  # a late line event counts too
    assert f.p.purchased_products == {"kettle": T0 + 10, "mug": T0 + 5}
    assert bought_before(f.p, "kettle", T0 + 10) == T0 + 10  # bought the same second it was reviewed
    assert bought_before(f.p, "kettle", T0 + 9) is None  # reviewed before it was bought
    assert bought_before(f.p, "toaster", T0 + 1000) is None
    assert bought_before(None, "kettle", T0 + 1000) is None


def test_a_whole_order_buys_the_cart_it_empties_and_a_late_one_buys_nothing() -> None:
    f = Feeder()
    f.click("add_to_cart", T0, product_id="a")
    f.click("add_to_cart", T0 + 1, product_id="b")
    f.click("purchase", T0 + 2, order_id="o1", price=20.0)
    assert f.p.purchased_products == {"a": T0 + 2, "b": T0 + 2}
    f.click("add_to_cart", T0 + 3, product_id="c")
    f.click("purchase", T0 + 1.5, order_id="o0", price=1.0)  # older than the last emptying: the cart stays
    assert "c" not in f.p.purchased_products and cart_of(f.p) == {"c": 1}


def test_purchased_products_are_bounded_dropping_the_first_bought_longest_ago() -> None:
    f = Feeder(cfg=ProfileConfig(purchased_products=3))
    for i in range(5):
        f.click("purchase", T0 + i, product_id=f"p{i}", order_id=f"o{i}")
    assert f.p.purchased_products == {"p2": T0 + 2, "p3": T0 + 3, "p4": T0 + 4}
    with pytest.raises(ValueError, match="size limit"):
        ProfileConfig(purchased_products=0)


def test_a_profile_stored_before_purchased_products_existed_still_loads_and_folds() -> None:
    wire = orjson.loads(UserProfile.empty("u1", T0).dumps())
    del wire["purchased_products"]
    old = UserProfile.loads(orjson.dumps(wire))
    assert old.purchased_products == {}
    update = fold_click(old, make_click("purchase", T0 + 1, product_id="p1"), SourceRef("clickstream", 0, 0))
    assert update.profile.purchased_products == {"p1": T0 + 1}
    assert UserProfile.empty("u2", T0).purchased_products == {}  # the shared default was not changed in place


# ---------------------------------------------------------------------------------------------------- RFM


@pytest.mark.parametrize(
    ("recency", "frequency", "monetary", "segment"),
    [
        (None, 0, 0.0, "prospect"),
        (0.0, 0, 0.0, "prospect"),
        (0.0, 1, 10.0, "new"),
        (30.0, 1, 10.0, "new"),  # the new-customer limit is inclusive
        (30.01, 1, 10.0, "potential"),  # near miss: one order, a month and a bit ago
        (5.0, 2, 50.0, "potential"),
        (5.0, 3, 50.0, "loyal"),
        (5.0, 5, 500.0, "champion"),
        (30.0, 5, 500.0, "champion"),
        (30.01, 5, 500.0, "loyal"),  # near miss: not recent enough for champion
        (5.0, 5, 499.99, "loyal"),  # near miss: not enough spend
        (5.0, 4, 9999.0, "loyal"),  # near miss: not enough orders
        (60.0, 3, 50.0, "loyal"),  # at_risk starts after 60 days, not at 60
        (60.01, 3, 50.0, "at_risk"),
        (60.01, 2, 50.0, "at_risk"),
        (60.01, 1, 50.0, "hibernating"),  # one old order: never really active
        (180.0, 9, 5000.0, "at_risk"),
        (180.01, 9, 5000.0, "hibernating"),
    ],
)
def test_rfm_segment_rules_and_boundaries(recency: float | None, frequency: int, monetary: float,
                                          segment: str) -> None:
    assert rfm_segment(recency, frequency, monetary) == segment


def test_rfm_thresholds_are_configurable_and_checked() -> None:
    cfg = RfmConfig(champion_min_orders=2, champion_min_spend=10.0, loyal_min_orders=2)
    assert rfm_segment(1.0, 2, 10.0, cfg) == "champion"
    with pytest.raises(ValueError, match="at_risk_after_days"):
        RfmConfig(at_risk_after_days=200.0, hibernating_after_days=100.0)
    with pytest.raises(ValueError, match="loyal_min_orders"):
        RfmConfig(loyal_min_orders=6)


def test_profile_recency_is_measured_to_the_users_last_event() -> None:
    f = Feeder()
    f.click("purchase", T0, order_id="o1", price=20.0)
    assert (f.p.recency_days, f.p.segment) == (0.0, "new")
    update = f.click("view", T0 + 31 * DAY)
    assert f.p.recency_days == pytest.approx(31.0)
    assert (f.p.segment, update.reasons) == ("potential", ("segment_change",))
    f.click("view", T0 + 61 * DAY)
    assert f.p.segment == "hibernating"
    # A user who stopped coming keeps the last segment; a timer asks with its own clock.
    assert segment_as_of(f.p, T0 + 10 * DAY) == "new"
    assert segment_as_of(f.p, T0 + 200 * DAY) == "hibernating"


def test_repeat_buyer_becomes_champion() -> None:
    f = Feeder()
    reasons = []
    for i in range(5):
        reasons.append(f.click("purchase", T0 + i * DAY, order_id=f"o{i}", price=120.0).reasons)
    assert f.p.segment == "champion" and f.p.spend == 600.0
    assert reasons[2] == ("new_order", "segment_change")  # third order: loyal


# ---------------------------------------------------------------------------------------------------- reviews


def test_review_insights_feed_count_mean_history_and_last_negative() -> None:
    f = Feeder(cfg=ProfileConfig(history_size=2))
    update = f.insight(review_id="r1", score=0.8, at=T0)
    assert update.reasons == ("first_seen", "new_review")
    f.insight(review_id="r2", sentiment="negative", score=-0.6, at=T0 + 100, summary="broke", product_id="p2")
    f.insight(review_id="r3", sentiment="negative", score=-0.9, at=T0 + 50, summary="late one")  # older: not "last"
    f.insight(review_id="r4", sentiment="neutral", score=0.1, at=T0 + 200)
    p = f.p
    assert p.review_count == 4
    assert p.mean_sentiment == pytest.approx((0.8 - 0.6 - 0.9 + 0.1) / 4)
    assert [n.review_id for n in p.sentiment_history] == ["r2", "r4"]
    assert p.last_negative_review is not None
    assert (p.last_negative_review.review_id, p.last_negative_review.product_id, p.last_negative_review.summary,
            p.last_negative_review.at) == ("r2", "p2", "broke", T0 + 100)


def test_insight_as_wire_dict_folds_like_the_record() -> None:
    insight = make_insight("r1", sentiment="negative", score=-0.5)
    source = SourceRef("review-insights", 1, 3)
    from_record = fold_insight(None, insight, source).profile
    from_dict = fold_insight(None, orjson.loads(insight.dumps()), source).profile
    assert from_record == from_dict


def test_an_insight_published_twice_at_two_offsets_counts_once() -> None:
    f = Feeder()
    f.insight(review_id="r1")
    update = f.insight(partition=2, review_id="r1")
    assert not update.changed and f.p.review_count == 1


# ---------------------------------------------------------------------------------------------------- replay, order


Event = tuple[str, Any, SourceRef]


def random_events(n: int, seed: int = 1, user_id: str = "u1") -> list[Event]:
    """A user's clicks on one clickstream partition and their insights spread over three insight partitions."""
    rng = random.Random(seed)
    events: list[Event] = []
    click_offset = 0
    insight_offsets = [0, 0, 0]
    ts = T0
    order = 0
    while len(events) < n:
        ts += rng.uniform(0, 2 * 3600)
        jitter = rng.uniform(-600, 600)  # producers' clocks and batching: event time is not arrival order
        roll = rng.random()
        if roll < 0.1:
            partition = rng.randrange(3)
            score = round(rng.uniform(-1, 1), 3)
            sentiment = "negative" if score < -0.3 else "positive" if score > 0.3 else "neutral"
            insight = make_insight(f"r{len(events)}", user_id=user_id, product_id=f"p{rng.randrange(30)}",
                                   sentiment=sentiment, score=score, at=ts + jitter)
            events.append(("insight", insight, SourceRef("review-insights", partition, insight_offsets[partition])))
            insight_offsets[partition] += 1
            continue
        fields: dict[str, Any] = {"product_id": f"p{rng.randrange(30)}", "category": f"c{rng.randrange(25)}",
                                  "brand": f"b{rng.randrange(25)}", "price": round(rng.uniform(1, 300), 2)}
        if roll < 0.55:
            kinds = [("view", fields)]
        elif roll < 0.65:
            kinds = [("search", {"query": "kettle"})]
        elif roll < 0.8:
            kinds = [("add_to_cart", {**fields, "quantity": rng.choice([None, 1, 2])})]
        elif roll < 0.88:
            kinds = [("remove_from_cart", {"product_id": fields["product_id"], "quantity": rng.choice([None, 1])})]
        elif roll < 0.94:
            order += 1
            kinds = [("purchase", {**fields, "product_id": f"p{rng.randrange(30)}", "order_id": f"o{order}"})
                     for _ in range(rng.randint(1, 3))]
        else:
            order += 1
            kinds = [("purchase", {"order_id": f"o{order}", "price": round(rng.uniform(10, 900), 2)})]
        for kind, extra in kinds:
            click = make_click(kind, ts + jitter, user_id=user_id, event_id=f"e{click_offset}", **extra)
            events.append(("click", click, SourceRef("clickstream", 0, click_offset)))
            click_offset += 1
    return events


def fold_all(events: Iterable[Event], profile: UserProfile | None = None) -> tuple[UserProfile, list[ProfileUpdate]]:
    updates = []
    for kind, event, source in events:
        update = (fold_click if kind == "click" else fold_insight)(profile, event, source)
        profile = update.profile
        updates.append(update)
    assert profile is not None
    return profile, updates


def test_folding_the_same_1000_events_twice_gives_the_profile_of_once() -> None:
    events = random_events(1000)
    once, _ = fold_all(events)
    twice, replayed = fold_all(events, once)
    assert twice == once
    assert twice.dumps() == once.dumps()
    assert not any(u.changed for u in replayed)
    assert all(u.profile is once for u in replayed)


def test_replay_after_a_crash_mid_stream_gives_the_profile_of_once() -> None:
    events = random_events(1000, seed=2)
    once, _ = fold_all(events)
    checkpoint, _ = fold_all(events[:600])  # the table had folded 600 events; committed offsets were older
    after_crash, _ = fold_all(events[350:], checkpoint)
    assert after_crash.dumps() == once.dumps()


def interleavings(events: list[Event], seed: int) -> Iterator[list[Event]]:
    """Random merges of the per-partition streams, each partition keeping its own order."""
    by_partition: dict[str, list[Event]] = {}
    for event in events:
        by_partition.setdefault(event[2].key, []).append(event)
    rng = random.Random(seed)
    for _ in range(3):
        queues = {k: list(v) for k, v in by_partition.items()}
        merged = []
        while queues:
            key = rng.choice(sorted(queues))
            merged.append(queues[key].pop(0))
            if not queues[key]:
                del queues[key]
        yield merged


def test_order_of_events_across_partitions_does_not_change_the_profile() -> None:
    events = random_events(1000, seed=3)
    baseline, _ = fold_all(events)
    for merged in interleavings(events, seed=4):
        p, _ = fold_all(merged)
        exact = ("counts", "orders", "spend", "review_count", "first_seen", "last_seen", "cart", "last_order_at",
                 "segment", "recency_days", "folded_offsets", "last_negative_review", "sentiment_history",
                 "recent_prices", "price_band", "interest_as_of")
        for name in exact:
            assert getattr(p, name) == getattr(baseline, name), name
        assert p.mean_sentiment == pytest.approx(baseline.mean_sentiment)
        assert p.category_interest == pytest.approx(baseline.category_interest)
        assert p.brand_interest == pytest.approx(baseline.brand_interest)


def test_fold_agrees_with_the_independent_reference() -> None:
    events = random_events(1000, seed=5) + random_events(300, seed=6, user_id="u2")
    clicks = [e for kind, e, _ in events if kind == "click"]
    insights = [e for kind, e, _ in events if kind == "insight"]
    expected = reference_profiles(clicks, insights)
    profiles: dict[str, UserProfile] = {}
    for kind, event, source in events:
        user = event.user_id
        update = (fold_click if kind == "click" else fold_insight)(profiles.get(user), event, source)
        profiles[user] = update.profile
    assert set(expected) == {"u1", "u2"}
    for user, ref in expected.items():
        assert differences(ref, profiles[user]) == []
        assert differences(ref, orjson.loads(profiles[user].dumps())) == []  # as read back from the topic
    assert expected["u1"].orders > 5 and expected["u1"].cart_cleared_at is not None  # the data exercised the rules


def test_reference_parses_raw_clicks_and_skips_invalid_ones() -> None:
    raw = [{"event_id": "1", "user_id": 7, "type": "add_to_cart", "ts": "2024-03-01T12:00:00Z", "product_id": "p"},
           {"event_id": "2", "user_id": 7, "type": "teleport", "ts": 1}]
    ref = reference_profiles(raw)["7"]
    assert (ref.counts, ref.cart, ref.first_seen) == ({"add_to_cart": 1}, {"p": 1}, 1709294400.0)
    assert differences(ref, UserProfile.empty("7", 0.0)) != []


# ---------------------------------------------------------------------------------------------------- size


def test_a_saturated_profile_stays_small() -> None:
    f = Feeder()
    for i in range(3000):
        pid = f"product-{i:08d}"
        f.click("view", T0 + i, product_id=pid, category=f"category-{i % 97:05d}", brand=f"brand-{i % 89:05d}",
                price=float(i % 500))
        if i % 50 == 0:
            f.insight(review_id=f"review-{i:012d}", product_id=pid, sentiment="negative", score=-0.5,
                      at=T0 + i, summary="x" * 300)
    for i in range(60):
        f.click("add_to_cart", T0 + 4000 + i, product_id=f"product-{i:08d}", price=9.99)
    for i in range(10):
        f.click("purchase", T0 + 5000 + i, order_id=f"order-{i:012d}", product_id=f"product-{i:08d}", price=5.0)
    p = f.p
    assert len(p.category_interest) == len(p.brand_interest) == 20
    assert len(p.recent_prices) == 20 and len(p.sentiment_history) == 10 and len(p.recent_review_ids) == 10
    assert len(p.cart) == 30 and len(p.recent_order_ids) == 5
    # A million of these must fit in RocksDB and in the changelog: a few KB each, whatever the history.
    assert len(p.dumps()) < 7_000


def test_an_active_shoppers_profile_is_a_few_kb() -> None:
    events = random_events(200, seed=8)  # a week of an active shopper: 25 categories and brands, orders, reviews
    p, _ = fold_all(events)
    assert len(p.dumps()) < 4_000
