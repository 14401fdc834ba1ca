"""`IntegrityConfig`: every threshold and bound of the review-integrity step, with why it has its default."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Final

from models.alerts import DEFAULT_ALERT_CONFIG, AlertConfig

__all__ = ["DEFAULT_INTEGRITY_CONFIG", "IntegrityConfig"]

HOUR_S: Final = 3600.0
DAY_S: Final = 86_400.0


@dataclass(frozen=True)
class IntegrityConfig:
    # ── the verdict ──
    # A review is flagged from this score (see scoring.py): 0.62 is 6.5 log-odds points of evidence. Chosen by
    # `python -m bench.integrity --tune --seed 1 --split val`: the lowest of 0.50, 0.56, 0.62, 0.68, 0.73 with at
    # most 0.5 % of organic reviews flagged on that tuning run.
    threshold: float = 0.62

    # ── near-duplicate text ──
    # Estimated Jaccard similarity from which two texts count as near-duplicates. Unrelated held-out reviews stay
    # below ~0.28 even when short; one character in five edited still leaves ~0.45-0.55.
    similarity_threshold: float = 0.4
    # Texts with fewer distinct shingles are too generic to prove a copy ("好评！", "Great product").
    min_shingles: int = 12
    # Per product: the latest reviews kept for comparison (and re-scoring), and for how long.
    recent_reviews: int = 64
    recent_span_s: float = 14 * DAY_S
    # Across products (the band table): bands x rows of the 64 signature values, buckets per band (the table holds
    # at most bands x buckets rows), members kept per bucket and for how long.
    bands: int = 10
    rows_per_band: int = 3
    band_buckets: int = 1 << 16
    band_members: int = 6
    band_span_s: float = 30 * DAY_S
    # Review ids kept per review as its near-duplicates (the output lists at most this many).
    max_duplicate_ids: int = 10

    # ── account context ──
    # A parcel rarely arrives within a day: a review sooner after the purchase suggests an order placed only to look
    # verified (brushing, 刷单). Lower it for digital goods or services reviewed on the spot.
    delivery_s: float = DAY_S
    # Review times an account remembers (for "reviews in the last day / week").
    account_review_times: int = 20
    account_recent_ids: int = 10
    # A flagged review taints the account's other reviews this close to it in time, and its next ones.
    taint_span_s: float = 7 * DAY_S

    # ── burst (per product, event time; hourly buckets for the window, daily ones for the baseline) ──
    burst_window_s: float = DAY_S
    # The mix (star ratings, unverified share) is also read over this longer window, for slow drips.
    mix_window_s: float = 7 * DAY_S
    baseline_span_s: float = 28 * DAY_S
    # A product with little history is assumed to get `prior_reviews_per_day`, weighted as `prior_days` of history,
    # so a new product's first day is not a burst by itself while a sudden 20 reviews still are.
    prior_reviews_per_day: float = 2.0
    prior_days: float = 3.0
    # Prior shares of the window mix for a product without history: 5-star, 1-star and suspect reviews.
    prior_five_star_share: float = 0.55
    prior_one_star_share: float = 0.1
    prior_suspect_share: float = 0.15
    # A review is suspect, for the mix, when its author's evidence alone (no purchase, account age, velocity...) adds
    # this many log-odds points: as much as an unverified review from an account that never ordered.
    suspect_points: float = 1.75
    # How many reviews of prior the shares weigh.
    prior_mix_weight: float = 20.0

    # ── campaigns (the review_campaign alert) ──
    # Flagged reviews of one product within `campaign_window_s`, from at least `campaign_min_accounts` accounts.
    campaign_min_reviews: int = 3
    campaign_min_accounts: int = 2
    campaign_window_s: float = 3 * DAY_S
    # Incident rules (cooldown, evidence ids) shared with the other alerts.
    alerts: AlertConfig = field(default_factory=lambda: DEFAULT_ALERT_CONFIG)

    def __post_init__(self) -> None:
        if not 0 < self.threshold < 1 or not 0 < self.similarity_threshold <= 1:
            raise ValueError(f"threshold and similarity_threshold must be within (0, 1), got {self}")
        if self.bands * self.rows_per_band > 64 or min(self.bands, self.rows_per_band) < 1:
            raise ValueError(f"need 1 <= bands x rows_per_band <= 64 (the signature's values), got {self}")
        sizes = (self.recent_reviews, self.band_buckets, self.band_members, self.account_review_times,
                 self.account_recent_ids, self.campaign_min_reviews, self.campaign_min_accounts)
        if min(sizes) < 1:
            raise ValueError(f"every size limit must be at least 1, got {self}")
        spans = (self.delivery_s, self.taint_span_s, self.recent_span_s, self.band_span_s, self.burst_window_s,
                 self.mix_window_s, self.baseline_span_s, self.campaign_window_s, self.prior_days,
                 self.prior_mix_weight)
        if min(spans) <= 0:
            raise ValueError(f"spans and prior weights must be positive, got {self}")


DEFAULT_INTEGRITY_CONFIG: Final = IntegrityConfig()
