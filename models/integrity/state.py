"""The rows and outcomes of the product stage: `ProductIntegrity` (table `integrity_products`, key product_id), the
`RecentReview`s it keeps, and `IntegrityOutcome`, what one step of the stage decided."""

from __future__ import annotations

from typing import Any, NamedTuple

import faust

from models.alerts import Alert, Incident
from models.integrity.account import AccountFlag
from models.integrity.bands import BandProbe
from models.integrity.records import ReviewIntegrity

__all__ = ["IntegrityOutcome", "ProductIntegrity", "RecentReview"]


class RecentReview(faust.Record, include_metadata=False, serializer="json"):
    review_id: str
    user_id: str
    at: float
    rating: int | None
    # Suspect by its author's evidence alone (see burst.py): counted in the product's suspect mix.
    suspect: bool
    signature: str
    shingles: int
    # The signals that fired at the latest assessment: strength and figures.
    strengths: dict[str, float]
    figures: dict[str, dict[str, Any]]
    # Near-duplicates by other accounts, on this product and on others (at most `max_duplicate_ids` each).
    duplicates: list[str]
    cross_duplicates: list[str]
    similarity: float
    score: float
    flagged: bool
    revision: int


class ProductIntegrity(faust.Record, include_metadata=False, serializer="json"):
    """Table `integrity_products`, key product_id."""

    product_id: str
    # Oldest first.
    recent: list[RecentReview]
    # Review counts for the burst signals: by hour for the window, by day for the baseline (see burst.py).
    hours: dict[str, list[int]]
    days: dict[str, list[int]]
    # "review_campaign" → the open incident.
    incidents: dict[str, Incident]
    folded_offsets: dict[str, int]
    # The table partition of the row, so that a tick of one partition touches only its own rows (-1: not known yet).
    partition: int = -1


class IntegrityOutcome(NamedTuple):
    state: ProductIntegrity
    # The new review's verdict, and new verdicts on earlier reviews this evidence flagged.
    records: list[ReviewIntegrity]
    alerts: list[Alert]
    # Flagged reviews that joined an open campaign instead of alerting again.
    suppressed: list[str]
    # The text for the cross-product index, to send once under each band key (`bands.probe_band`); none for a text
    # too short to compare, or a replay.
    probe: BandProbe | None
    band_keys: list[str]
    # One per newly flagged review, for its author's partition (`account.flag_account`).
    account_flags: list[AccountFlag]

    @classmethod
    def unchanged(cls, state: ProductIntegrity) -> IntegrityOutcome:
        return cls(state, [], [], [], None, [], [])
