"""`ReviewFacts`: the parts of a review insight the integrity step reads, from a `ReviewInsight` or its wire dict."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, NamedTuple

from models.insight import ReviewInsight
from models.profile import insight_facts

__all__ = ["ReviewFacts", "review_facts"]


class ReviewFacts(NamedTuple):
    review_id: str
    user_id: str
    product_id: str
    # Event time: when the review was written, else when it was analysed.
    at: float
    # Stars, 1-5, when the shop sent them.
    rating: int | None
    # The analyzer's reading of the text: positive | neutral | negative | mixed, and its score in [-1, 1].
    sentiment: str
    score: float


def review_facts(insight: ReviewInsight | Mapping[str, Any]) -> ReviewFacts:
    """Read an insight given as a record or as its wire dict (already valid against its schema)."""
    facts = insight_facts(insight)
    rating = insight.rating if isinstance(insight, ReviewInsight) else insight.get("rating")
    return ReviewFacts(review_id=facts.review_id, user_id=facts.user_id, product_id=facts.product_id, at=facts.at,
                       rating=int(rating) if rating is not None else None, sentiment=facts.sentiment,
                       score=facts.score)
