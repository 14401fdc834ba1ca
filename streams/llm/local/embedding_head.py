"""Fitting the embedding head of one language (see `model.EmbeddingHead`), the same way as the TF-IDF model.

1. A logistic regression on the sentence embeddings of the `fit` split (for English, plus a sample of the movie and
   tweet sentences at half weight: general sentiment vocabulary, worth +3 points on the never-trained NYT sentences
   and nothing lost on Amazon).
2. Its decision values and those of the TF-IDF model trained on `fit` alone, both honest on `val`, are blended by a
   two-weight logistic regression fitted on `val`.
3. The cascade's threshold `unsure_below`: the TF-IDF certainty below which the given share of `val` texts falls
   (`embed_share`, per language in `train.py`). A budget rather than a search, because the validation splits are
   too small to rank thresholds: past ~25 % embedded, English validation accuracy moves within its noise (±1.5
   points), and the share is what sets the cost (an English text ~15 ms to embed, a Chinese one ~30 ms, against
   ~2 ms for everything else the analyzer does). The reviews TF-IDF is surest of are the ones it gets right.
4. The final regression is refitted on `fit` + `val` (the test split is still untouched) and keeps the blend.

Embedding is the slow part of training (~20-90 texts/s on 2 cores), so a language can be given at most
`max_rows` training texts, drawn by the same stable hash as the splits: training stays within minutes.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Final

import numpy as np
import numpy.typing as npt
from sklearn.linear_model import LogisticRegression

from streams.llm.local.corpora import Example
from streams.llm.local.embeddings import Embedder
from streams.llm.local.model import EmbeddingHead, polarity

__all__ = ["HeadFit", "fit_head", "sample_rows"]

log = logging.getLogger(__name__)

_MAX_WEIGHT: Final = 3.0
# Tried 0.3-16 on the validation split of both languages: within a point of each other; unit-length dense vectors
# need only a mild penalty.
_C: Final = 1.0
# Weight of the extra (other-domain) sentences against the language's own.
_EXTRA_WEIGHT: Final = 0.5

DecisionFn = Callable[[Sequence[str]], npt.NDArray[np.float64]]


@dataclass(frozen=True)
class HeadFit:
    head: EmbeddingHead
    figures: dict[str, float]
    # The validation rows used and the cascade's polarity on them (first-pass models): for tuning the neutral band.
    val_rows: list[Example]
    val_scores: npt.NDArray[np.float64]


def sample_rows(rows: Sequence[Example], max_rows: int | None) -> list[Example]:
    """At most `max_rows` of `rows`, picked by a stable hash of their text (the same on every machine)."""
    if max_rows is None or len(rows) <= max_rows:
        return list(rows)
    ranked = sorted(rows, key=lambda e: hashlib.blake2b(f"head:{e.text}".encode(), digest_size=8).digest())
    return ranked[:max_rows]


def _weights(rows: Sequence[Example], extra: int = 0) -> npt.NDArray[np.float64]:
    """Rater agreement as weight; the last `extra` rows are other-domain sentences, at `_EXTRA_WEIGHT`."""
    weights = np.array([min(e.strength, _MAX_WEIGHT) for e in rows])
    if extra:
        weights[-extra:] *= _EXTRA_WEIGHT
    return weights


def _labels(rows: Sequence[Example]) -> npt.NDArray[np.int_]:
    return np.array([e.label for e in rows])


def _regression(vectors: npt.NDArray[np.float32], rows: Sequence[Example], extra: int = 0) -> LogisticRegression:
    clf = LogisticRegression(C=_C, max_iter=3000, class_weight="balanced")
    return clf.fit(vectors, _labels(rows), sample_weight=_weights(rows, extra))


def _accuracy(decisions: npt.NDArray[np.float64], rows: Sequence[Example]) -> float:
    keep = np.array([e.clear for e in rows], dtype=bool)
    return float(((decisions >= 0).astype(int) == _labels(rows))[keep].mean()) if keep.any() else 0.0


def fit_head(embedder: Embedder, fit: Sequence[Example], val: Sequence[Example], first_tfidf: DecisionFn,
             *, max_chars: int, embed_share: float, max_rows: int | None = None,
             extra: Sequence[Example] = ()) -> HeadFit:
    """Fit the head of one language. `first_tfidf` is the TF-IDF model trained on `fit` only (honest on `val`);
    texts are embedded cut to `max_chars`, as the analyzer cuts them; `extra` are other-domain training sentences,
    used at `_EXTRA_WEIGHT` by both regressions."""
    fit_rows = sample_rows(fit, max_rows and int(max_rows * len(fit) / (len(fit) + len(val))))
    val_rows = sample_rows(val, max_rows and max_rows - len(fit_rows))
    extra_rows = list(extra)

    def vectors(rows: Sequence[Example]) -> npt.NDArray[np.float32]:
        return embedder.embed([e.text[:max_chars] for e in rows])

    fit_vectors, val_vectors, extra_vectors = vectors(fit_rows), vectors(val_rows), vectors(extra_rows)

    first = _regression(np.vstack([fit_vectors, extra_vectors]), [*fit_rows, *extra_rows], len(extra_rows))
    tfidf_val = first_tfidf([e.text for e in val_rows])
    embedding_val = first.decision_function(val_vectors)
    blend = LogisticRegression(C=100.0, max_iter=1000)
    blend.fit(np.c_[tfidf_val, embedding_val], _labels(val_rows), sample_weight=_weights(val_rows))
    tfidf_weight, embedding_weight = (float(w) for w in blend.coef_.ravel())
    bias = float(blend.intercept_[0])
    blended = bias + tfidf_weight * tfidf_val + embedding_weight * embedding_val

    sure = np.abs(polarity(tfidf_val))
    unsure_below = 1.0 if embed_share >= 1 else round(float(np.quantile(sure, embed_share)), 4)
    cascade = _accuracy(np.where(sure < unsure_below, blended, tfidf_val), val_rows)

    final = _regression(np.vstack([fit_vectors, val_vectors, extra_vectors]), [*fit_rows, *val_rows, *extra_rows],
                        len(extra_rows))
    head = EmbeddingHead(
        embedder=embedder.name,
        coef=final.coef_.ravel().astype(np.float32),
        intercept=float(final.intercept_[0]),
        tfidf_weight=tfidf_weight,
        embedding_weight=embedding_weight,
        bias=bias,
        unsure_below=unsure_below,
    )
    figures = {
        "val_tfidf_accuracy": round(_accuracy(tfidf_val, val_rows), 4),
        "val_embedding_accuracy": round(_accuracy(embedding_val, val_rows), 4),
        "val_blend_accuracy": round(_accuracy(blended, val_rows), 4),
        "val_cascade_accuracy": round(cascade, 4),
        "val_embedded_share": round(float((sure < unsure_below).mean()), 4),
        "unsure_below": unsure_below,
        "train_rows": len(fit_rows) + len(val_rows),
        "extra_rows": len(extra_rows),
    }
    log.info("embedding head: %s", figures)
    val_scores = polarity(np.where(sure < unsure_below, blended, tfidf_val))
    return HeadFit(head, figures, val_rows, val_scores)
