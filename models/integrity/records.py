"""`ReviewIntegrity`: the verdict on one review, published to `review-integrity` keyed by `review_id`.

Every review gets one record when it is assessed (`revision` 0). A later review or a later text match can add
evidence (a copy of its text turns up, a burst starts around it); if that flags a review that was not flagged, a new
record with the same key and `revision` + 1 replaces it (the topic is compacted: the last word stands). A flagged
review is never unflagged.
"""

from __future__ import annotations

from typing import Any

import faust

__all__ = ["IntegritySignal", "ReviewIntegrity"]


class IntegritySignal(faust.Record, include_metadata=False, serializer="json"):
    """One signal that fired: its name, what it added to the score's log-odds, and the figures it compared."""

    name: str
    # In [0, 1]: how strongly it fired (1 = fully); `contribution` is this times the signal's weight.
    strength: float
    contribution: float
    figures: dict[str, Any]


class ReviewIntegrity(faust.Record, include_metadata=False, serializer="json"):
    review_id: str
    user_id: str
    product_id: str
    # In [0, 1]: 1 / (1 + exp(-(bias + sum of the contributions))); `flagged` when at least `threshold`.
    score: float
    flagged: bool
    threshold: float
    # The signals that fired, strongest contribution first.
    signals: list[IntegritySignal]
    # Near-duplicate reviews by other accounts (same product first, then other products), at most 20.
    near_duplicates: list[str]
    # The open review_campaign alert of the product this review belongs to, if any.
    campaign_alert_id: str | None
    # When the review was written, and the event time of the evidence behind this assessment.
    review_created_at: float
    assessed_at: float
    revision: int
    scorer: str

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready dict, the same shape as on the wire."""
        data: dict[str, Any] = {f: getattr(self, f) for f in self._options.fields}
        data["signals"] = [s.asdict() for s in self.signals]
        return data
