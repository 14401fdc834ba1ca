"""Review integrity: catch fake-review campaigns while they happen (pure core: no Kafka, no Faust agents, no clock).

Three stages, each a pure fold over one table's rows, joined by keyed topics (every arrow is one hop):

    review insight + text signature
      ──► user stage (partition of user_id, beside the profiles)
            fold_account_review(AccountState, UserProfile, ReviewFacts, source) → AccountEvidence
      ──► product stage (partition of product_id, beside the product windows)
            assess_review(ProductIntegrity, ReviewFacts, AccountEvidence, TextSignature, source) → IntegrityOutcome:
              ReviewIntegrity records (topic `review-integrity`, key review_id), `review_campaign` alerts (topic
              `alerts`, key alert_id), one BandProbe with its band keys, AccountFlags for the reviews it flagged
      ──► band stage (partition of the band key): probe_band(BandBucket, key, BandProbe) → TextMatches
      ──► product stage, for each side of a match (key: its product): apply_text_match(ProductIntegrity, TextMatch)
      ──► user stage, for each AccountFlag (key: user_id): flag_account(AccountState, AccountFlag) → ReviewTaints
      ──► product stage, for each taint (key: its product): apply_taint(ProductIntegrity, ReviewTaint)
    and on a timer tick, per product with an open campaign: expire_campaigns(ProductIntegrity, now).

Every product-stage call returns an `IntegrityOutcome` of the same shape, so one routine can publish its records
and alerts, send its probe and flags, and store its state, whichever call made it. The hops after the first
product stage only ever revise earlier verdicts (a flagged review gets a second record, `revision` + 1).

| table                | key                | row                | bound                                             |
|----------------------|--------------------|--------------------|---------------------------------------------------|
| `integrity_accounts` | user_id            | `AccountState`     | 2 x 20 times, 10 recent reviews (~1.5 KB)         |
| `integrity_products` | product_id         | `ProductIntegrity` | 64 recent reviews of 14 days, ~25 hourly and ~37  |
|                      |                    |                    | daily counts, one open incident (30-50 KB typical,|
|                      |                    |                    | ~100 KB at worst)                                 |
| `integrity_bands`    | "band:bucket" (hex)| `BandBucket`       | 10 x 65,536 rows at most, 6 texts of 30 days each |
|                      |                    |                    | (~2 KB)                                           |

The profile needs one bounded field for this, `purchased_products` (models/profile.py). The text signature
(`text_signature(text)`, ~0.1 ms) is computed where the text is, on the review's way in, and travels with it:
the insight does not carry the text.

Every row is a `faust.Record` of plain JSON (signatures as base64), so the tables live in RocksDB with a changelog
and a restart restores them whole: the near-duplicate index survives with the rest. Every fold skips what it has
seen (the highest offset per source partition, and recent ids; a match, flag or taint already applied), so replays
flag nothing twice and never alert twice; alert ids are stable (`models.alerts.alert_id`).

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
from models.integrity.campaign import CAMPAIGN, campaign_due, expire_campaigns
from models.integrity.config import DEFAULT_INTEGRITY_CONFIG, IntegrityConfig
from models.integrity.facts import ReviewFacts, review_facts
from models.integrity.product import apply_taint, apply_text_match, assess_review
from models.integrity.records import IntegritySignal, ReviewIntegrity
from models.integrity.scoring import SCORER, SIGNALS
from models.integrity.state import IntegrityOutcome, ProductIntegrity, RecentReview
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
