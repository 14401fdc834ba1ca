"""From evidence to a score: each signal's strength in [0, 1], its figures, and a logistic over the strengths.

    score = 1 / (1 + exp(-(BIAS + Σ WEIGHTS[signal] × strength)))

Why a documented rule table of log-odds points and not a learned model: every flagged review must be explained to
the person who acts on it, signal by signal ("no purchase +2.5, account 3 hours old +1.5, 4 copies of its text from
other accounts +4.5"), and the weights must hold on campaigns nobody generated. A logistic regression fitted on the
bench's generated traffic was tried first: it gave near-zero weight to the signals its five campaign shapes did not
need (a new account, account velocity), and in a development run it then caught under 6 % of two shapes it had not
seen (an account ring, brushing with real orders). So each weight is set by what its evidence means, on one rule:
no single signal reaches the threshold (an organic shopper can be new, or unverified, or write during a sale's
burst, or copy a generic phrase), two independent lines of evidence do (no purchase and a copied text; no purchase,
a new account and a burst of such reviews). Only the threshold was tuned, on the bench's tuning run
(`IntegrityConfig.threshold`). The score is the logistic of the points, so it reads like a probability but is not
calibrated to one: the share of campaigns in real traffic is unknown, and the threshold is what matters.

Signals and strengths (figures in the record say why):
- unverified_purchase   no purchase of the product at or before the review in the profile: 1 for an account that
                        never ordered anything, 0.7 for a customer with other orders.
- review_before_delivery  a purchase, but the review came sooner after it than a parcel takes (`delivery_s`, a day):
                        1 - hours since the purchase / delivery hours. Orders placed to look verified (brushing,
                        刷单) are reviewed at once.
- new_account           1 when the account is under a day old at review time, 0.5 under a week.
- account_velocity      reviews by the account in the last day (2 → 0.33, 3 → 0.67, 4+ → 1) or week (5 → 0.5,
                        8+ → 1), the larger.
- extreme_ratings       at least 90 % of the account's rated reviews at 1 or 5 stars: (reviews - 2) / 3, capped at 1.
- unverified_history    earlier reviews of the account with no purchase behind them: within the week before (1 →
                        0.5, 2+ → 1), or, if more, half the all-time share of them times min(1, earlier reviews / 4).
- account_flagged       another review of the same account, within `taint_span_s` (a week), was flagged: 1. Read
                        at arrival from the account's history, or added later when that review is flagged.
- rating_text_mismatch  4-5 stars on a text the analyzer reads as negative, or 1-2 stars on a positive one: 1.
- near_duplicate        near-duplicates (similarity ≥ `similarity_threshold`) by other accounts on the same product:
                        1 → 0.5, 2+ → 1, times min(1, shingles / 30) (a short generic text is weak evidence); none
                        for texts under `min_shingles` shingles.
- cross_product_duplicate   the same, on other products.
- review_burst          the window's review count against the baseline: (surprise - 2) / 4, clipped to [0, 1]
                        (nothing below "once in a hundred windows", full at "once in a million").
- rating_mix            for a 5- or 1-star review, the surprise of that star's share in the last day or week (the
                        more surprising), scaled alike.
- suspect_mix           for a review that is suspect by its author's evidence alone (`account_points` at least
                        `suspect_points`), the surprise of the share of suspect reviews at its star extreme (5 or
                        1), or of all suspect ones for a 2-4 star review, alike.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any, Final

from models.integrity.account import AccountEvidence
from models.integrity.burst import BurstFigures, MixFigures
from models.integrity.config import DAY_S, IntegrityConfig
from models.integrity.facts import ReviewFacts
from models.integrity.records import IntegritySignal

__all__ = [
    "ACCOUNT_SIGNALS",
    "BIAS",
    "BURST_SIGNALS",
    "DUPLICATE_SIGNALS",
    "SCORER",
    "SIGNALS",
    "WEIGHTS",
    "Evidence",
    "account_points",
    "account_signals",
    "burst_signals",
    "duplicate_signals",
    "explain",
    "score",
]

SCORER: Final = "integrity-v1"
# Known when the review arrives and never revised.
ACCOUNT_SIGNALS: Final = ("unverified_purchase", "review_before_delivery", "new_account", "account_velocity",
                          "extreme_ratings", "unverified_history", "account_flagged", "rating_text_mismatch")
# Can grow as copies of the text turn up later.
DUPLICATE_SIGNALS: Final = ("near_duplicate", "cross_product_duplicate")
# Read from the product's window; revised while the review is in the current window.
BURST_SIGNALS: Final = ("review_burst", "rating_mix", "suspect_mix")
SIGNALS: Final = (*ACCOUNT_SIGNALS, *DUPLICATE_SIGNALS, *BURST_SIGNALS)

BIAS: Final = -6.0
WEIGHTS: Final[Mapping[str, float]] = {
    "unverified_purchase": 2.5,
    "review_before_delivery": 3.0,
    "new_account": 1.5,
    "account_velocity": 1.5,
    "extreme_ratings": 0.5,
    "unverified_history": 2.5,
    "account_flagged": 3.0,
    "rating_text_mismatch": 0.5,
    "near_duplicate": 4.5,
    "cross_product_duplicate": 4.0,
    "review_burst": 1.5,
    "rating_mix": 1.0,
    "suspect_mix": 2.0,
}

# Shingles from which a copied text counts fully (about 30 characters of Chinese, a 10-word English sentence).
_FULL_SHINGLES: Final = 30

# signal → (strength in (0, 1], figures); only the signals that fired.
Evidence = dict[str, tuple[float, dict[str, Any]]]


def account_signals(account: AccountEvidence, review: ReviewFacts, cfg: IntegrityConfig) -> Evidence:
    fired: Evidence = {}
    if account.purchased_at is None:
        # A customer who orders here but not this product is less odd than an account that never ordered at all.
        fired["unverified_purchase"] = (1.0 if account.orders == 0 else 0.7,
                                        {"purchased": False, "account_orders": account.orders})
    elif review.at - account.purchased_at < cfg.delivery_s:
        gap = review.at - account.purchased_at
        fired["review_before_delivery"] = (round(1.0 - gap / cfg.delivery_s, 4),
                                           {"hours_since_purchase": round(gap / 3600, 2),
                                            "delivery_hours": round(cfg.delivery_s / 3600, 2)})
    age_days = account.account_age_s / DAY_S
    if age_days < 7:
        fired["new_account"] = (1.0 if age_days < 1 else 0.5, {"account_age_days": round(age_days, 3)})
    velocity = max(min(1.0, (account.reviews_1d - 1) / 3), min(1.0, (account.reviews_7d - 2) / 6))
    if velocity > 0:
        fired["account_velocity"] = (round(velocity, 4), {"reviews_1d": account.reviews_1d,
                                                          "reviews_7d": account.reviews_7d})
    if account.extreme_share is not None and account.extreme_share >= 0.9 and account.reviews >= 3:
        fired["extreme_ratings"] = (round(min(1.0, (account.reviews - 2) / 3), 4),
                                    {"reviews": account.reviews, "extreme_share": account.extreme_share})
    share = account.prior_unverified_share or 0.0
    history = max(min(1.0, account.prior_unverified_7d / 2), share * min(1.0, account.prior_reviews / 4) / 2)
    if history > 0:
        fired["unverified_history"] = (round(history, 4), {"prior_unverified_7d": account.prior_unverified_7d,
                                                           "prior_reviews": account.prior_reviews,
                                                           "prior_unverified_share": share})
    if account.flagged_recently:
        fired["account_flagged"] = (1.0, {"flagged_reviews": account.flagged_recently})
    rating = review.rating
    if rating is not None and ((rating >= 4 and review.sentiment == "negative")
                               or (rating <= 2 and review.sentiment == "positive")):
        fired["rating_text_mismatch"] = (1.0, {"rating": rating, "sentiment": review.sentiment,
                                               "sentiment_score": review.score})
    return fired


def duplicate_signals(same_product: list[str], other_products: list[str], similarity: float, shingles: int,
                      cfg: IntegrityConfig) -> Evidence:
    fired: Evidence = {}
    if shingles < cfg.min_shingles:
        return fired
    # A short text copied is weaker evidence than a long one: generic phrases recur by chance.
    length = min(1.0, shingles / _FULL_SHINGLES)
    for name, ids in (("near_duplicate", same_product), ("cross_product_duplicate", other_products)):
        if ids:
            fired[name] = (round(min(1.0, len(ids) / 2) * length, 4),
                           {"matches": len(ids), "max_similarity": round(similarity, 4), "shingles": shingles})
    return fired


def account_points(evidence: Evidence) -> float:
    """The log-odds the author's evidence alone adds (the account signals but the text's rating mismatch, a noisy
    reading of the analyzer): what makes a review count as suspect in its product's mix."""
    return sum(WEIGHTS[name] * strength for name, (strength, _) in evidence.items()
               if name in ACCOUNT_SIGNALS and name != "rating_text_mismatch")


def burst_signals(burst: BurstFigures, rating: int | None, suspect: bool) -> Evidence:
    fired: Evidence = {}
    rate = _scaled(burst.rate_surprise)
    if rate > 0:
        fired["review_burst"] = (rate, {"window_reviews": burst.window_reviews,
                                        "expected_reviews": burst.expected_reviews,
                                        "surprise": burst.rate_surprise})
    if rating in (1, 5):
        mix = burst.five if rating == 5 else burst.one
        strength = _scaled(mix.surprise)
        if strength > 0:
            fired["rating_mix"] = (strength, {"rating": rating, **_mix_figures(mix)})
    if suspect:
        like = burst.suspect_like(rating)
        strength = _scaled(like.surprise)
        if strength > 0:
            fired["suspect_mix"] = (strength, {"rating": rating, **_mix_figures(like)})
    return fired


def _mix_figures(mix: MixFigures) -> dict[str, float]:
    return {"window_days": mix.window_days, "window_share": mix.window_share, "baseline_share": mix.baseline_share,
            "surprise": mix.surprise}


def _scaled(surprise: float) -> float:
    return round(min(1.0, max(0.0, (surprise - 2.0) / 4.0)), 4)


def score(strengths: Mapping[str, float]) -> float:
    """The logistic of the weighted strengths, in [0, 1]."""
    logit = BIAS + sum(WEIGHTS[name] * strength for name, strength in strengths.items())
    return round(1.0 / (1.0 + math.exp(-logit)), 4)


def explain(evidence: Evidence) -> list[IntegritySignal]:
    """The fired signals as records, strongest contribution first (ties by name)."""
    signals = [IntegritySignal(name=name, strength=strength, contribution=round(WEIGHTS[name] * strength, 4),
                               figures=figures) for name, (strength, figures) in evidence.items()]
    return sorted(signals, key=lambda s: (-s.contribution, s.name))
