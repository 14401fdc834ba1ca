"""Review integrity: catch fake-review campaigns while they happen (pure core: no Kafka, no Faust agents, no clock).

Three stages, each a pure fold over one table's rows, joined by keyed topics:

    review insight ──► user stage (partition of user_id, beside the profiles)
                         fold_account_review(AccountState, UserProfile, ReviewFacts, source) → AccountEvidence
                   ──► product stage (partition of product_id, beside the product windows)
                         assess_review(ProductIntegrity, ReviewFacts, AccountEvidence, TextSignature, source)
                           → ReviewIntegrity records (topic `review-integrity`, key review_id),
                             `review_campaign` alerts (topic `alerts`), BandProbes
                   ──► band stage (partition of the band key): probe_band(BandBucket, BandProbe) → TextMatches
                   ──► product stage again, for each side of a match: apply_text_match(ProductIntegrity, TextMatch)

| table                | key                | row                | bound                                             |
|----------------------|--------------------|--------------------|---------------------------------------------------|
| `integrity_accounts` | user_id            | `AccountState`     | 20 review times, 10 ids, counters (~0.5 KB)       |
| `integrity_products` | product_id         | `ProductIntegrity` | 64 recent reviews of 14 days, 29 days of hourly   |
|                      |                    |                    | counts, one open incident (30-50 KB, <= ~100 KB)  |
| `integrity_bands`    | "band:bucket" (hex)| `BandBucket`       | 10 x 65,536 rows at most, 6 texts of 30 days each |

The profile needs one bounded field for this, `purchased_products` (models/profile.py). The text signature
(`text_signature(text)`, ~0.1-0.2 ms) is computed where the text is, on the review's way in, and travels with it:
the insight does not carry the text.

Every row is a `faust.Record` of plain JSON (signatures as base64), so the tables live in RocksDB with a changelog
and a restart restores them whole: the near-duplicate index survives with the rest. Every fold skips what it has
seen (the highest offset per source partition, and recent ids), so replays flag nothing twice and never alert
twice; alert ids are stable (`models.alerts.alert_id`).

What each signal means, and how the score combines them: `scoring.py`. Figures of the bench: README.
"""

from __future__ import annotations

from models.integrity.account import (
    AccountEvidence,
    AccountFlag,
    AccountFlagOutcome,
    AccountReview,
    AccountState,
    AccountUpdate,
    ReviewTaint,
    flag_account,
    fold_account_review,
)
from models.integrity.bands import BandBucket, BandMember, BandOutcome, BandProbe, TextMatch, probe_band
from models.integrity.burst import BurstFigures
from models.integrity.config import DEFAULT_INTEGRITY_CONFIG, IntegrityConfig
from models.integrity.facts import ReviewFacts, review_facts
from models.integrity.product import (
    CAMPAIGN,
    IntegrityOutcome,
    ProductIntegrity,
    RecentReview,
    apply_taint,
    apply_text_match,
    assess_review,
    campaign_due,
    expire_campaigns,
)
from models.integrity.records import IntegritySignal, ReviewIntegrity
from models.integrity.scoring import SCORER, SIGNALS
from models.integrity.text import TextSignature, band_keys, text_signature

__all__ = [
    "CAMPAIGN",
    "DEFAULT_INTEGRITY_CONFIG",
    "SCORER",
    "SIGNALS",
    "AccountEvidence",
    "AccountFlag",
    "AccountFlagOutcome",
    "AccountReview",
    "AccountState",
    "AccountUpdate",
    "BandBucket",
    "BandMember",
    "BandOutcome",
    "BandProbe",
    "BurstFigures",
    "IntegrityConfig",
    "IntegrityOutcome",
    "IntegritySignal",
    "ProductIntegrity",
    "RecentReview",
    "ReviewFacts",
    "ReviewIntegrity",
    "ReviewTaint",
    "TextMatch",
    "TextSignature",
    "apply_taint",
    "apply_text_match",
    "assess_review",
    "band_keys",
    "campaign_due",
    "expire_campaigns",
    "flag_account",
    "fold_account_review",
    "probe_band",
    "review_facts",
    "text_signature",
]
