"""The trained sentiment model: one classifier per language, an optional embedding head, and the neutral band.

Both classifiers answer the same question, P(positive | text); everything else the offline analyzer reports (aspects,
intent, issues...) is rules on top of this one number per clause.

The embedding head (`EmbeddingHead`) is a second opinion from a sentence-embedding model (see `embeddings.py`): a
logistic regression on the text's vector, blended with the TF-IDF decision value by weights fitted on the validation
split. Embedding costs 10-50 ms a text against ~0.1 ms for TF-IDF, so it is a cascade: only a text whose TF-IDF score
is unsure (|score| below the head's `unsure_below`, also chosen on the validation split) is embedded and rescored.

The classifiers are scikit-learn pipelines (TF-IDF blocks and dense features into a logistic regression). Calling
them costs ~1 ms of per-call overhead (sparse matrices, validation) even for one short clause, and the analyzer scores
a dozen clauses per review. So on first use each pipeline is *compiled* into plain dictionaries, term -> idf and
weight, and scored with a few hundred dict lookups per clause: the same numbers (tests check it) at ~50 µs a clause.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Final, Literal

import numpy as np
import numpy.typing as npt
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.pipeline import FeatureUnion, Pipeline

from streams.llm.local.embeddings import SENTIMENT_CHARS, Embedder
from streams.llm.local.features import PolarityScore, VaderScores

if TYPE_CHECKING:  # aspect_vectors uses rules, which uses this module's ModelLanguage
    from streams.llm.local.aspect_vectors import AspectClassifier

__all__ = ["MODEL_LANGUAGES", "EmbeddingHead", "ModelLanguage", "SentimentModel", "compile_pipeline", "polarity"]

ModelLanguage = Literal["en", "zh"]
MODEL_LANGUAGES: Final[tuple[ModelLanguage, ...]] = ("en", "zh")

Scorer = Callable[[str], float]  # text -> decision value (log-odds of positive)


@dataclass(frozen=True)
class EmbeddingHead:
    """Rescore a text from its sentence embedding: a logistic regression on the vector, blended with TF-IDF.

    decision = bias + tfidf_weight * tfidf_decision + embedding_weight * (vector . coef + intercept)

    Plain numbers only, so a saved model loads without the embedding package; `embedder` names the model whose
    vectors `coef` was fitted on, and the head is used only with that one.
    """

    embedder: str
    coef: npt.NDArray[np.float32]
    intercept: float
    tfidf_weight: float
    embedding_weight: float
    bias: float
    # Texts whose TF-IDF polarity is at least this sure are not embedded (1.0 embeds every text).
    unsure_below: float

    def decisions(self, tfidf_decisions: npt.NDArray[np.float64], vectors: npt.NDArray[np.float32]
                  ) -> npt.NDArray[np.float64]:
        embedding = vectors.astype(np.float64) @ self.coef.astype(np.float64) + self.intercept
        return self.bias + self.tfidf_weight * tfidf_decisions + self.embedding_weight * embedding


@dataclass
class SentimentModel:
    version: str
    # scikit-learn pipelines: raw text in, predict_proba out (class 1 = positive).
    classifiers: dict[str, Any]
    # |score| below this is "neutral", per language (score = 2 * P(positive) - 1, in [-1, 1]).
    neutral_band: dict[str, float]
    metadata: dict[str, Any] = field(default_factory=dict)
    # Per language, when the model was trained with an embedder (see `EmbeddingHead`).
    heads: dict[str, EmbeddingHead] = field(default_factory=dict)
    # Aspects of clauses without keywords, when trained with the topic embedder (see `aspect_vectors.py`).
    aspects: AspectClassifier | None = None
    _compiled: dict[str, Scorer] = field(default_factory=dict, repr=False, compare=False)

    def __getstate__(self) -> dict[str, Any]:
        # The compiled scorers are closures (not picklable) and cheap to rebuild: never save them.
        state = dict(self.__dict__)
        state["_compiled"] = {}
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._compiled = {}

    def scores(self, texts: Sequence[str], lang: ModelLanguage) -> npt.NDArray[np.float64]:
        """Polarity in [-1, 1] of each text: 2 * P(positive) - 1, through the compiled fast path."""
        return polarity(self.decisions(texts, lang))

    def decisions(self, texts: Sequence[str], lang: ModelLanguage) -> npt.NDArray[np.float64]:
        """The TF-IDF classifier's decision value (log-odds of positive) of each text, through the fast path."""
        scorer = self._compiled.get(lang)
        if scorer is None:
            scorer = self._compiled[lang] = compile_pipeline(self.classifiers[lang])
        return np.array([scorer(t) for t in texts], dtype=np.float64)

    def aspect_classifier(self, embedder: str | None) -> AspectClassifier | None:
        """The aspect classifier if the model has one fitted on `embedder`'s vectors."""
        found = self.aspects
        return found if found is not None and embedder is not None and found.embedder == embedder else None

    def head(self, lang: ModelLanguage, embedder: str | None) -> EmbeddingHead | None:
        """The embedding head for `lang` if the model has one fitted on `embedder`'s vectors."""
        head = self.heads.get(lang)
        return head if head is not None and embedder is not None and head.embedder == embedder else None

    def warm_up(self) -> None:
        """Compile every language's scorer now (~0.3 s), so the first review is as fast as the rest."""
        for lang in MODEL_LANGUAGES:
            if lang not in self._compiled:
                self._compiled[lang] = compile_pipeline(self.classifiers[lang])
            self._compiled[lang]("warm up")  # also builds VADER's lexicon, once per process

    def reference_scores(self, texts: Sequence[str], lang: ModelLanguage) -> npt.NDArray[np.float64]:
        """The same polarity through scikit-learn itself: faster for big batches, and the truth for tests."""
        if not texts:
            return np.zeros(0, dtype=np.float64)
        proba = self.classifiers[lang].predict_proba(list(texts))[:, 1]
        return np.clip(2.0 * np.asarray(proba, dtype=np.float64) - 1.0, -1.0, 1.0)

    def cascade_scores(self, texts: Sequence[str], lang: ModelLanguage, embedder: Embedder | None
                       ) -> npt.NDArray[np.float64]:
        """Polarity of each text as the analyzer computes it: TF-IDF, then the embedding head for the unsure ones
        (embedded in one call). scikit-learn scores the batch: this is for training and benchmarks."""
        if not texts:
            return np.zeros(0, dtype=np.float64)
        tfidf = np.asarray(self.classifiers[lang].decision_function(list(texts)), dtype=np.float64)
        head = self.head(lang, embedder.name if embedder else None)
        if head is None or embedder is None:
            return polarity(tfidf)
        unsure = np.flatnonzero(np.abs(polarity(tfidf)) < head.unsure_below)
        out = tfidf.copy()
        if unsure.size:
            cut = SENTIMENT_CHARS[lang]
            out[unsure] = head.decisions(tfidf[unsure], embedder.embed([texts[int(i)][:cut] for i in unsure]))
        return polarity(out)

    def band(self, lang: ModelLanguage) -> float:
        return self.neutral_band[lang]


def polarity(decisions: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    """Decision values (log-odds) as polarity in [-1, 1]: 2 * sigmoid(d) - 1, which is tanh(d / 2) without
    overflow for large |d|."""
    return np.clip(np.tanh(decisions / 2.0), -1.0, 1.0)


# ── compiling a fitted pipeline into dictionaries ──


@dataclass(frozen=True, slots=True)
class _TfidfBlock:
    """One fitted TfidfVectorizer's share of a linear model: sum of (1 + ln tf) * idf * w over l2-normalised terms."""

    analyzer: Callable[[str], list[str]]
    table: dict[str, tuple[float, float]]  # term -> (idf, weight)

    def __call__(self, text: str) -> float:
        total = norm2 = 0.0
        for term, count in Counter(self.analyzer(text)).items():
            entry = self.table.get(term)
            if entry is not None:
                value = (1.0 + math.log(count)) * entry[0]
                norm2 += value * value
                total += value * entry[1]
        return total / math.sqrt(norm2) if norm2 > 0 else 0.0


def _tfidf_block(vectorizer: TfidfVectorizer, weights: npt.NDArray[np.float64]) -> _TfidfBlock:
    # Only the settings this project trains with are reproduced; refuse anything else rather than score it wrong.
    if not (vectorizer.sublinear_tf and vectorizer.norm == "l2" and vectorizer.use_idf and not vectorizer.binary):
        raise ValueError("compile_pipeline supports TfidfVectorizer(sublinear_tf=True, norm='l2', use_idf=True)")
    idf = vectorizer.idf_
    table = {term: (float(idf[j]), float(weights[j])) for term, j in vectorizer.vocabulary_.items() if weights[j]}
    return _TfidfBlock(vectorizer.build_analyzer(), table)


def _width(part: Any) -> int:
    if isinstance(part, TfidfVectorizer):
        return len(part.vocabulary_)
    if isinstance(part, VaderScores):
        return 4
    if isinstance(part, PolarityScore):
        return 1
    raise TypeError(f"compile_pipeline cannot score a {type(part).__name__}")


def _part_scorer(part: Any, weights: npt.NDArray[np.float64]) -> Scorer:
    if isinstance(part, TfidfVectorizer):
        return _tfidf_block(part, weights)
    if isinstance(part, VaderScores):
        return lambda text: float(part.transform([text])[0] @ weights)
    inner = compile_pipeline(part.model)  # PolarityScore: a stacked classifier, compiled the same way
    weight = float(weights[0])
    return lambda text: inner(text) * weight


def compile_pipeline(pipeline: Pipeline) -> Scorer:
    """A function text -> decision value equal to `pipeline.decision_function([text])[0]` for our two shapes:
    `[TfidfVectorizer, LogisticRegression]` and `[FeatureUnion(TfidfVectorizer | VaderScores | PolarityScore), LR]`.
    """
    *steps, (_, clf) = pipeline.steps
    if len(steps) != 1:
        raise TypeError("compile_pipeline expects exactly one feature step before the classifier")
    features = steps[0][1]
    parts = [t for _, t in features.transformer_list] if isinstance(features, FeatureUnion) else [features]
    coef = np.asarray(clf.coef_, dtype=np.float64).ravel()
    if coef.size != sum(_width(p) for p in parts):
        raise ValueError("the classifier's weights do not line up with the features")
    scorers, offset = [], 0
    for part in parts:
        width = _width(part)
        scorers.append(_part_scorer(part, coef[offset:offset + width]))
        offset += width
    intercept = float(np.asarray(clf.intercept_).ravel()[0])
    return lambda text: intercept + sum(score(text) for score in scorers)
