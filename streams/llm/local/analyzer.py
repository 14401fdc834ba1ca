"""`LocalAnalyzer`: the offline `Analyzer`, a trained sentiment classifier plus keyword rules. No network, no key.

One `analyze` scores the whole text and each clause in a single batched call (well under 2 ms for a typical review),
so it runs inline on the event loop: handing it to a thread would cost more than the work.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Final

import numpy as np
import numpy.typing as npt

from models.insight import Aspect, ReviewAnalysis
from streams.llm.analyzer import AnalyzerReply, ReviewText
from streams.llm.local import rules
from streams.llm.local.features import vader_compound
from streams.llm.local.model import SentimentModel
from streams.llm.local.train import load_local_model
from streams.llm.local.writing import Findings, write_reply, write_summary

__all__ = ["LocalAnalyzer"]

MAX_ASPECTS: Final = 12  # the schema's limit
# How far a star rating may move the text's score. Smaller than every neutral band, so a rating can tip a
# neutral text to positive or negative but never turn a positive text negative.
RATING_NUDGE: Final = 0.15
# The score a safety report is pulled down to at least (a clear negative in every band).
SAFETY_FLOOR: Final = 0.5
# Two parts of one review (sentences, or the sides of a "but") at least this far apart in opposite directions make
# it "mixed"; two aspect clauses, shorter and so noisier to score, must be further apart. On the held-out Chinese
# reviews (many list pros and cons) this marks ~22% mixed, on the single Amazon sentences ~6%.
MIXED_PARTS: Final = 0.4
MIXED_ASPECTS: Final = 0.5


class LocalAnalyzer:
    name = "local"

    def __init__(self, model: SentimentModel, *, competitors: Mapping[str, tuple[str, str]] | None = None) -> None:
        self._model = model
        model.warm_up()  # compile now, not on the first review
        self._competitors = rules.CompetitorMatcher(competitors)
        self.model = f"local/{model.version}"

    @classmethod
    def from_model_dir(cls, model_dir: Path | str | None = None, *,
                       competitors: Mapping[str, tuple[str, str]] | None = None) -> LocalAnalyzer:
        """Load the saved model (training it first if it is missing; see `load_local_model`)."""
        return cls(load_local_model(model_dir), competitors=competitors)

    async def analyze(self, review: ReviewText) -> AnalyzerReply:
        return AnalyzerReply(analysis=self.analyze_text(review.text, lang_hint=review.lang_hint,
                                                        rating=review.rating),
                             model=self.model, degraded=False)

    async def aclose(self) -> None:
        return None

    def analyze_text(self, text: str, *, lang_hint: str | None = None, rating: int | None = None) -> ReviewAnalysis:
        """The synchronous core of `analyze`, for batch tools and tests."""
        language, model_lang = rules.detect_language(text, lang_hint)
        band = self._model.band(model_lang)
        parts = rules.contrast_parts(text)
        spans = rules.clauses(text)
        # One call for everything: [whole text, contrast parts..., clauses...].
        scores = self._model.scores([text, *(p.of(text) for p in parts), *(s.of(text) for s in spans)], model_lang)
        # With no words there is nothing for the classifiers to read (they would return their bias); VADER still
        # reads emoji and emoticons ("👍", ":(") and says 0 for bare punctuation.
        text_score = float(scores[0]) if rules.has_words(text) else vader_compound(text)
        part_scores = scores[1:1 + len(parts)]
        clause_scores = [float(s) for s in scores[1 + len(parts):]]

        score = text_score
        if rating is not None and 1 <= rating <= 5:
            score = float(np.clip(score + RATING_NUDGE * (rating - 3) / 2, -1.0, 1.0))

        aspects, aspect_scores = self._aspects(text, spans, clause_scores, band)
        sentiment = rules.label_for(score, band)
        if self._mixed(part_scores, aspect_scores):
            sentiment = "mixed"

        problems = rules.find_issue_cues(text, spans, clause_scores, band)
        issues = set(problems)
        # An aspect named in the clause that reports a problem ("the charger started smoking") is not liked.
        problem_quotes = {s.of(text) for s in problems.values()}
        aspects = [a if a.sentiment != "positive" or a.evidence not in problem_quotes
                   else Aspect(name=a.name, sentiment="negative", evidence=a.evidence) for a in aspects]
        if "safety" in issues and score > -SAFETY_FLOOR:
            # A review reporting a burn, a shock or smoke is never positive, however calm its words.
            score, sentiment = -SAFETY_FLOOR, "negative"
        if sentiment != "positive":
            issues |= rules.aspect_issues((a.name, a.sentiment) for a in aspects)
        intent = rules.find_intent(text, sentiment, score, has_problem=bool(issues))
        if "safety" in issues and intent in ("praise", "other", "suggestion"):
            intent = "complaint"  # whatever the tone, a burn or a shock is a complaint
        if not issues and intent in ("complaint", "return_request"):
            issues = {"other"}
        ordered_issues = sorted(issues, key=_ISSUE_ORDER.index)[:10]
        urgency = rules.urgency_for(rules.Facts(intent, sentiment, score, frozenset(issues)))

        findings = Findings(
            language=language,
            sentiment=sentiment,
            intent=intent,
            liked=[a.name for a in aspects if a.sentiment == "positive"],
            disliked=[a.name for a in aspects if a.sentiment == "negative"],
            mentioned=[a.name for a in aspects],
            issues=ordered_issues,
            competitors=self._competitors(text),
        )
        return ReviewAnalysis(
            sentiment=sentiment,
            sentiment_score=round(score, 4),
            aspects=aspects,
            intent=intent,
            urgency=urgency,
            issues=ordered_issues,
            competitors=list(findings.competitors),
            summary=write_summary(findings),
            suggested_reply=write_reply(findings),
            language=language,
        )

    @staticmethod
    def _aspects(text: str, spans: list[rules.Span], clause_scores: list[float],
                 band: float) -> tuple[list[Aspect], list[float]]:
        """Each aspect with its clause's sentiment and the clause quoted; also the clause scores, for `_mixed`."""
        score_of = dict(zip(spans, clause_scores, strict=True))
        aspects, scores = [], []
        for name, span, match in rules.find_aspects(text, spans)[:MAX_ASPECTS]:
            evidence = rules.evidence_span(text, span, match)
            aspects.append(Aspect(name=name, sentiment=rules.label_for(score_of[span], band),
                                  evidence=evidence.of(text)))
            scores.append(score_of[span])
        return aspects, scores

    @staticmethod
    def _mixed(part_scores: npt.NDArray[np.float64], aspect_scores: list[float]) -> bool:
        """Strongly positive and strongly negative parts in one review, or a loved and a hated aspect."""
        for values, strength in ((list(part_scores), MIXED_PARTS), (aspect_scores, MIXED_ASPECTS)):
            if len(values) >= 2 and max(values) >= strength and min(values) <= -strength:
                return True
        return False


_ISSUE_ORDER: Final = ("safety", "fraud", "quality", "missing_parts", "shipping", "packaging", "size_fit", "price",
                       "service", "other")
