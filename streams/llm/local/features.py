"""Text features of the sentiment classifiers, as scikit-learn pieces so a fitted model pickles as one object.

These live in their own module because joblib stores them by import path: renaming one invalidates saved models
(bump `MODEL_VERSION` in `train.py` when you do).
"""

from __future__ import annotations

import functools
import re
from typing import Any, Self

import numpy as np
import numpy.typing as npt
from sklearn.base import BaseEstimator, TransformerMixin
from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

__all__ = ["PolarityScore", "VaderScores", "mark_negation", "vader_compound"]

_TOKEN = re.compile(r"[a-z0-9]+(?:'[a-z]+)?|[.,!?;:]")
_NEGATORS = frozenset(
    "not no never nothing nobody none neither nor without hardly barely cannot can't won't don't doesn't didn't "
    "isn't aren't wasn't weren't shouldn't wouldn't couldn't haven't hasn't hadn't ain't".split()
)
_SCOPE_END = frozenset(".,!?;:")


def mark_negation(text: str) -> str:
    """Lower-case `text` and suffix `_NEG` to words between a negator and the next punctuation.

    A bag of words cannot tell "good" from "not good"; marking the negated scope gives the linear model separate
    weights for them (Das & Chen 2001). Used as the word vectorizer's preprocessor.
    """
    out: list[str] = []
    negated = False
    for token in _TOKEN.findall(text.lower()):
        if token in _SCOPE_END:
            negated = False
            out.append(token)
            continue
        out.append(f"{token}_NEG" if negated else token)
        if token in _NEGATORS or token.endswith("n't"):
            negated = True
    return " ".join(out)


@functools.cache
def _vader() -> SentimentIntensityAnalyzer:
    # One per process, created on first use and never pickled: its lexicon is part of the installed package.
    return SentimentIntensityAnalyzer()


def vader_compound(text: str) -> float:
    """VADER's compound score in [-1, 1]; it reads emoji and emoticons, which the n-gram models never saw."""
    return float(_vader().polarity_scores(text)["compound"])


class VaderScores(BaseEstimator, TransformerMixin):  # type: ignore[misc]
    """VADER's compound, positive, negative and neutral scores as four dense features.

    VADER's hand-built lexicon knows thousands of sentiment words, boosters and idioms that a few thousand training
    sentences never show; the classifier learns how much to trust it next to the n-grams.
    """

    def fit(self, texts: Any, y: Any = None) -> Self:
        return self

    def transform(self, texts: Any) -> npt.NDArray[np.float64]:
        scores = [_vader().polarity_scores(str(t)) for t in texts]
        return np.array([[s["compound"], s["pos"], s["neg"], s["neu"]] for s in scores], dtype=np.float64)


class PolarityScore(BaseEstimator, TransformerMixin):  # type: ignore[misc]
    """The decision value of an already-fitted text classifier, as one feature (stacking).

    `fit` leaves the inner model alone on purpose: it was trained on other corpora (movie and tweet sentences), so
    its score on the product-review sentences is an honest, out-of-sample signal rather than a memorised label.
    """

    def __init__(self, model: Any = None) -> None:
        self.model = model

    def fit(self, texts: Any, y: Any = None) -> Self:
        return self

    def transform(self, texts: Any) -> npt.NDArray[np.float64]:
        values = np.asarray(self.model.decision_function(list(texts)), dtype=np.float64)
        return values.reshape(-1, 1)
