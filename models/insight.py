"""`ReviewInsight`: what reviewstream learns from one review, published to `review-insights` keyed by `review_id`.

An insight is the model's `ReviewAnalysis` (the part an LLM or the offline analyzer produces, checked against
`schemas/review_analysis.schema.json`) plus the review's ids and how it was produced.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping
from typing import Any, Final, Literal, get_args

import jsonschema

from models.bounds import DEFAULT_BOUNDS, FieldBounds
from models.errors import InvalidEvent
from models.records import WireRecord
from models.schemas import load_schema
from models.wire import event_time, required_id

__all__ = [
    "INTENTS",
    "ISSUE_KINDS",
    "LANGUAGES",
    "SENTIMENTS",
    "UNDETERMINED_LANGUAGE",
    "URGENCIES",
    "Aspect",
    "Intent",
    "IssueKind",
    "ReviewAnalysis",
    "ReviewInsight",
    "Sentiment",
    "Urgency",
    "closed_language",
    "parse_insight",
]

Sentiment = Literal["positive", "neutral", "negative", "mixed"]
Intent = Literal["praise", "complaint", "question", "return_request", "suggestion", "other"]
Urgency = Literal["low", "medium", "high", "critical"]
IssueKind = Literal[
    "quality", "shipping", "packaging", "size_fit", "price", "service", "safety", "fraud", "missing_parts", "other"
]
AspectSentiment = Literal["positive", "neutral", "negative"]

SENTIMENTS: Final[tuple[str, ...]] = get_args(Sentiment)
INTENTS: Final[tuple[str, ...]] = get_args(Intent)
URGENCIES: Final[tuple[str, ...]] = get_args(Urgency)
ISSUE_KINDS: Final[tuple[str, ...]] = get_args(IssueKind)
ASPECT_SENTIMENTS: Final[tuple[str, ...]] = get_args(AspectSentiment)
# The languages an insight may name (ISO 639-1), "und" (ISO 639-2: undetermined) otherwise. Closed because the code
# is stored in profiles and pasted into prompts: a model-written "en'; ignore previous instructions" must never be.
LANGUAGES: Final[frozenset[str]] = frozenset(
    "en zh ja ko fr de es it pt nl ru ar hi bn ur fa tr pl sv da no nb fi cs sk el he id ms th vi uk ro hu bg hr sr "
    "sl lt lv et ca eu gl ga cy is mt af sw tl ta te mr gu kn ml pa si ne km lo my mn kk uz az ka hy sq mk be".split()
)
UNDETERMINED_LANGUAGE: Final = "und"


def closed_language(code: object) -> str | None:
    """`code` as a member of `LANGUAGES` ("zh-CN", "ZH_hans", " en " → "zh", "zh", "en"), or None.

    >>> closed_language("zh-CN"), closed_language("en'; ignore previous instructions"), closed_language("und")
    ('zh', None, 'und')
    """
    if not isinstance(code, str):
        return None
    primary = re.split(r"[-_]", code.strip().lower(), maxsplit=1)[0]
    if primary in ("other", UNDETERMINED_LANGUAGE):  # the offline analyzer says "other" for what it cannot name
        return UNDETERMINED_LANGUAGE
    return primary if primary in LANGUAGES else None


class Aspect(WireRecord):
    name: str
    sentiment: str
    # Quoted verbatim from the review text, so a reader can check the claim.
    evidence: str


class ReviewAnalysis(WireRecord):
    sentiment: str
    sentiment_score: float
    aspects: list[Aspect]
    intent: str
    urgency: str
    issues: list[str]
    competitors: list[str]
    summary: str
    suggested_reply: str | None
    language: str


class ReviewInsight(WireRecord):
    review_id: str
    user_id: str
    product_id: str
    sentiment: str
    sentiment_score: float
    aspects: list[Aspect]
    intent: str
    urgency: str
    issues: list[str]
    competitors: list[str]
    summary: str
    suggested_reply: str | None
    language: str
    # Which model answered: "local/<version>" for the offline analyzer, else the LLM's model name.
    model: str
    # True when the LLM was unavailable and the offline analyzer answered instead.
    degraded: bool
    # Kinds of personal data removed from the text before it left the process (e.g. "email", "phone").
    redacted: list[str]
    rating: int | None = None
    review_created_at: float | None = None
    analyzed_at: float = 0.0
    # The MinHash signature of the redacted text and its shingle count (models/integrity/text.py), for the
    # review-integrity step downstream: the insight carries no text. None from a producer that does not compute it.
    text_signature: str | None = None
    text_shingles: int | None = None

    @classmethod
    def build(
        cls,
        *,
        review_id: str,
        user_id: str,
        product_id: str,
        analysis: ReviewAnalysis,
        model: str,
        degraded: bool,
        redacted: list[str],
        rating: int | None,
        review_created_at: float | None,
        analyzed_at: float,
        text_signature: str | None = None,
        text_shingles: int | None = None,
    ) -> ReviewInsight:
        return cls(
            review_id=review_id,
            user_id=user_id,
            product_id=product_id,
            model=model,
            degraded=degraded,
            redacted=sorted(set(redacted)),
            rating=rating,
            review_created_at=review_created_at,
            analyzed_at=analyzed_at,
            text_signature=text_signature,
            text_shingles=text_shingles,
            **{k: v for k, v in analysis.to_dict().items() if k != "aspects"},
            aspects=list(analysis.aspects),
        )


@functools.cache
def _insight_validator() -> jsonschema.Draft202012Validator:
    return jsonschema.Draft202012Validator(load_schema("review_insight"))


def parse_insight(data: Mapping[str, Any], *, bounds: FieldBounds = DEFAULT_BOUNDS,
                  now: float | None = None) -> dict[str, Any]:
    """An insight read back from a topic (the insights topic, or forwarded between workers), checked against its
    JSON Schema, the id rules and the event-time window; raise `InvalidEvent("invalid_insight", ...)` otherwise.
    Anyone with write access to a topic can put anything on it: only what passes is folded."""
    error = jsonschema.exceptions.best_match(_insight_validator().iter_errors(dict(data)))
    if error is not None:
        where = "/".join(str(p) for p in error.absolute_path) or "the insight"
        raise InvalidEvent("invalid_insight", f"{where}: {error.message[:200]}")
    try:
        for name in ("review_id", "user_id", "product_id"):
            required_id(data, name, bounds)
        event_time(data.get("review_created_at"), "review_created_at", bounds, now)
        event_time(data["analyzed_at"], "analyzed_at", bounds, now)
    except InvalidEvent as exc:
        raise InvalidEvent("invalid_insight", exc.detail) from exc
    return dict(data)
