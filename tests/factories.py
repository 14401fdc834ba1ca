"""Factories for the records tests build again and again (the quix-streams habit: one factory, many tests)."""

from __future__ import annotations

from collections.abc import Sequence

from models.insight import ReviewAnalysis, ReviewInsight

# Reviews that exercise the LLM path's formats: English and Chinese, a question, a safety report, a one-word review.
MIXED_REVIEW_TEXTS = [
    "Great battery, but the delivery was late and the box arrived damaged.",
    "物流很快，包装很好，质量也不错，比小米的好用。",
    "Is there a charger included? The Samsung one was missing a cable.",
    "The charger caught fire and smoked. I want a refund!",
    "质量太差了，坏了，我要退货",
    "ok",
]

__all__ = ["MIXED_REVIEW_TEXTS", "make_insight"]

_SCORES = {"positive": 0.8, "negative": -0.8, "neutral": 0.0, "mixed": 0.0}


def make_insight(review_id: str = "r1", *, user_id: str = "u1", product_id: str = "p1", sentiment: str = "positive",
                 score: float | None = None, at: float | None = None, analyzed_at: float | None = None,
                 intent: str = "other", aspects: Sequence[tuple[str, str]] = (), issues: Sequence[str] = (),
                 competitors: Sequence[str] = (), summary: str = "s", language: str = "en",
                 degraded: bool = False) -> ReviewInsight:
    """An insight as the review agent publishes it. `at` is when the review was written (None: not given), and the
    analysis time defaults to it; aspects are (name, sentiment) pairs, quoted as "e"."""
    analysis = ReviewAnalysis.from_data({
        "sentiment": sentiment, "sentiment_score": _SCORES[sentiment] if score is None else score,
        "aspects": [{"name": name, "sentiment": tone, "evidence": "e"} for name, tone in aspects],
        "intent": intent, "urgency": "low", "issues": list(issues), "competitors": list(competitors),
        "summary": summary, "suggested_reply": None, "language": language,
    })
    return ReviewInsight.build(review_id=review_id, user_id=user_id, product_id=product_id, analysis=analysis,
                               model="m", degraded=degraded, redacted=[], rating=None, review_created_at=at,
                               analyzed_at=(at or 0.0) if analyzed_at is None else analyzed_at)
