"""Burst figures and the score: each signal's rule, and how evidence combines against the threshold."""

from __future__ import annotations

import math

from models.integrity import DEFAULT_INTEGRITY_CONFIG, ReviewIntegrity
from models.integrity.burst import Buckets, add_to_buckets, burst_figures
from models.integrity.scoring import (
    ACCOUNT_SIGNALS,
    BIAS,
    SIGNALS,
    WEIGHTS,
    account_points,
    account_signals,
    burst_signals,
    duplicate_signals,
    explain,
    score,
)
from tests.unit.integrity_factories import DAY, HOUR, T0, evidence, facts

CFG = DEFAULT_INTEGRITY_CONFIG


def counted(reviews: list[tuple[float, int, bool]]) -> tuple[Buckets, Buckets]:
    hours: Buckets = {}
    days: Buckets = {}
    for at, rating, suspect in reviews:
        hours, days = add_to_buckets(hours, days, at, rating, suspect, CFG)
    return hours, days


def steady(days: int, per_day: int, rating: int = 4) -> list[tuple[float, int, bool]]:
    """`per_day` ordinary reviews a day for `days` days before T0."""
    return [(T0 - d * DAY + k * DAY / per_day, rating, False) for d in range(days, 0, -1) for k in range(per_day)]


def test_a_steady_product_shows_no_burst() -> None:
    hours, days = counted(steady(20, 3))
    figures = burst_figures(hours, days, T0 - 1, CFG)
    assert figures.window_reviews == 3 and abs(figures.expected_reviews - 3.0) < 0.4
    assert figures.rate_surprise < 1 and figures.suspect.surprise == 0.0


def test_twenty_reviews_in_an_hour_are_a_burst_and_their_mix_is_surprising() -> None:
    history = steady(20, 3)
    campaign = [(T0 + i * 120, 5, True) for i in range(20)]
    hours, days = counted(history + campaign)
    figures = burst_figures(hours, days, T0 + 20 * 120, CFG)
    assert figures.window_reviews == 23 and figures.rate_surprise > 10
    assert figures.five_suspect.window_share > 0.8 and figures.five_suspect.surprise > 10
    assert figures.five.surprise > 5  # 5 stars alone: the history had none


def test_a_new_product_leans_on_the_prior() -> None:
    few = burst_figures(*counted([(T0, 5, False), (T0 + 60, 4, False)]), T0 + 60, CFG)
    assert few.rate_surprise < 2  # two reviews on the first day of a product: nothing odd
    many = burst_figures(*counted([(T0 + i * 60, 5, False) for i in range(15)]), T0 + 15 * 60, CFG)
    assert many.rate_surprise > 6  # fifteen in a quarter of an hour is odd even for a new product


def test_a_slow_drip_moves_the_weeks_mix_not_the_days() -> None:
    history = steady(28, 2)
    drip = [(T0 + d * DAY + 5 * HOUR, 5, True) for d in range(7)]
    hours, days = counted(history + [(T0 + d * DAY + k * 12 * HOUR, 4, False) for d in range(7) for k in range(2)]
                          + drip)
    figures = burst_figures(hours, days, T0 + 6 * DAY + 5 * HOUR, CFG)
    assert figures.rate_surprise < 2
    assert figures.five_suspect.window_days > 6 and figures.five_suspect.surprise > 3


def test_buckets_are_bounded_whatever_the_traffic() -> None:
    hours, days = counted([(T0 + i * 600, 5, False) for i in range(60 * 24 * 6)])  # two months, every 10 minutes
    assert len(hours) <= 26 and len(days) <= 40


def test_account_signals_follow_their_rules() -> None:
    review = facts("r1", rating=5, sentiment="negative", score=-0.7)
    never_ordered = account_signals(evidence(purchased_at=None, orders=0, account_age_s=3 * DAY, reviews_1d=3,
                                             reviews_7d=3, reviews=4, extreme_share=1.0, prior_reviews=3,
                                             prior_unverified_share=1.0, prior_unverified_7d=1,
                                             flagged_recently=1), review, CFG)
    assert {name: strength for name, (strength, _) in never_ordered.items()} == {
        "unverified_purchase": 1.0, "new_account": 0.5, "account_velocity": 0.6667, "extreme_ratings": 0.6667,
        "unverified_history": 0.5, "account_flagged": 1.0, "rating_text_mismatch": 1.0}
    customer = account_signals(evidence(purchased_at=None, orders=4), facts("r2", rating=4), CFG)
    assert customer["unverified_purchase"][0] == 0.7 and customer["unverified_purchase"][1]["account_orders"] == 4
    brushed = account_signals(evidence(purchased_at=T0 - 6 * HOUR), facts("r3", at=T0), CFG)
    assert brushed == {"review_before_delivery": (0.75, {"hours_since_purchase": 6.0, "delivery_hours": 24.0})}
    assert account_signals(evidence(), facts("r4"), CFG) == {}  # an ordinary customer: nothing fires


def test_copies_count_by_matches_and_length() -> None:
    assert duplicate_signals(["a"], [], 0.9, 60, CFG)["near_duplicate"][0] == 0.5
    assert duplicate_signals(["a", "b", "c"], ["x"], 0.9, 60, CFG)["near_duplicate"][0] == 1.0
    assert duplicate_signals([], ["x", "y"], 0.9, 15, CFG)["cross_product_duplicate"][0] == 0.5  # short text
    assert duplicate_signals(["a", "b"], [], 1.0, CFG.min_shingles - 1, CFG) == {}  # "好评！" proves nothing


def test_burst_signals_fire_for_the_review_kinds_they_concern() -> None:
    hours, days = counted(steady(20, 3) + [(T0 + i * 120, 5, True) for i in range(20)])
    burst = burst_figures(hours, days, T0 + 20 * 120, CFG)
    assert set(burst_signals(burst, 5, True)) == {"review_burst", "rating_mix", "suspect_mix"}
    assert set(burst_signals(burst, 5, False)) == {"review_burst", "rating_mix"}  # an ordinary review in it
    assert set(burst_signals(burst, 3, False)) == {"review_burst"}


def test_no_single_signal_crosses_the_threshold_two_independent_ones_do() -> None:
    needed = -math.log(1 / CFG.threshold - 1) - BIAS  # points of evidence the threshold asks for
    for name in SIGNALS:
        assert score({name: 1.0}) < CFG.threshold, name
        assert WEIGHTS[name] < needed
    # Two independent lines of evidence are enough: no purchase from an account that never ordered, and a copy.
    assert score({"unverified_purchase": 1.0, "near_duplicate": 1.0}) >= CFG.threshold
    assert score({"unverified_purchase": 1.0, "new_account": 1.0, "review_burst": 1.0, "suspect_mix": 1.0}) >= 0.8
    # A new customer who bought the product and wrote during a sale's burst is not flagged.
    assert score({"new_account": 0.5, "review_burst": 1.0, "rating_mix": 1.0}) < 0.1


def test_account_points_decide_what_is_suspect_and_ignore_the_text() -> None:
    unverified = {"unverified_purchase": (1.0, {}), "rating_text_mismatch": (1.0, {}), "suspect_mix": (1.0, {})}
    assert account_points(unverified) == WEIGHTS["unverified_purchase"]
    assert set(ACCOUNT_SIGNALS) < set(SIGNALS)


def test_explain_orders_signals_by_contribution_and_the_record_carries_them() -> None:
    signals = explain({"new_account": (1.0, {"account_age_days": 0.1}), "near_duplicate": (0.5, {"matches": 1}),
                       "unverified_purchase": (1.0, {})})
    assert [s.name for s in signals] == ["unverified_purchase", "near_duplicate", "new_account"]
    assert signals[1].contribution == WEIGHTS["near_duplicate"] * 0.5 and signals[1].figures == {"matches": 1}
    record = ReviewIntegrity(review_id="r", user_id="u", product_id="p", score=0.7, flagged=True, threshold=0.62,
                             signals=signals, near_duplicates=[], campaign_alert_id=None, review_created_at=T0,
                             assessed_at=T0, revision=0, scorer="integrity-v1")
    assert record.to_dict()["signals"][0] == {"name": "unverified_purchase", "strength": 1.0,
                                              "contribution": WEIGHTS["unverified_purchase"], "figures": {}}
