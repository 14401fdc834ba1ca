"""How well review integrity catches campaigns, and what it costs: `python -m bench.integrity`, one JSON line.

A shop (`bench/review_campaigns.py`): 80 products, ~2,500 organic users who browse and buy and write real reviews
(one corpus split per run), and generated campaigns of ten shapes, six instances each. Every event goes through the
pure core in event-time order, as the agents would run it: clicks and insights fold into profiles
(`models.profile`), then for each review the user stage (`fold_account_review`), the product stage
(`assess_review`), the band stage (`probe_band`), the text matches back on both products (`apply_text_match`), and
the flags of flagged reviews through their authors (`flag_account`, `apply_taint`). Sentiment comes from the offline
analyzer (`streams.llm.local`), given the rating as the worker gives it.

Splits: the threshold was chosen with `--tune` on seed 1, the corpora's `val` texts and the five tuned shapes (the
weights are a rule table, `models/integrity/scoring.py`). Seed 2 with the `test` texts was the development run
while signals were designed, on all but the two blind shapes. The default run reports seed 3 (never run before the
figures were final), the `test` texts and all ten shapes, two of them blind (sleeper_accounts, paraphrase_burst).

Figures (at the default threshold, on each review's final verdict: later evidence can flag an earlier review):
  precision, recall                       all campaign shapes against all organic reviews
  organic_false_positive_rate             flagged organic reviews / organic reviews
  recall_by_shape, precision_by_shape     one shape's reviews against all organic reviews
  tuned_*, untuned_*, blind_*             the same over the tuned, the never-tuned and the blind shapes
  recall_at_arrival                       flagged by the verdict published when the review arrived
  campaigns_alerted                       campaign instances with a review_campaign alert naming their reviews
  organic_campaign_alerts                 review_campaign alerts naming only organic reviews
  integrity_ms_per_review                 the integrity step alone (signature, the three stages, the matches,
                                          flags and taints), CPU time per review, the best of 3 passes over the
                                          same reviews (the machine is shared); profile folds and the analyzer
                                          excluded. integrity_reviews_per_s is its inverse; load_average_1m the
                                          machine's load when it was measured. (Through the worker: once wired.)
"""

from __future__ import annotations

import argparse
import json
import os
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from bench.review_campaigns import (
    BLIND_SHAPES,
    SHAPES,
    TUNED_SHAPES,
    UNTUNED_SHAPES,
    PlannedReview,
    Shop,
    build_shop,
)
from models.alerts import Alert
from models.insight import ReviewInsight
from models.integrity import (
    CAMPAIGN,
    DEFAULT_INTEGRITY_CONFIG,
    SIGNALS,
    AccountState,
    BandBucket,
    IntegrityConfig,
    IntegrityOutcome,
    ProductIntegrity,
    ReviewIntegrity,
    apply_taint,
    apply_text_match,
    assess_review,
    flag_account,
    fold_account_review,
    probe_band,
    review_facts,
    text_signature,
)
from models.profile import SourceRef, UserProfile, fold_click, fold_insight
from streams.llm.local.analyzer import LocalAnalyzer
from streams.llm.local.corpora import Split


@dataclass
class Pipeline:
    """The integrity step as the agents run it, with dicts for tables and one offset counter per stage."""

    cfg: IntegrityConfig = DEFAULT_INTEGRITY_CONFIG
    profiles: dict[str, UserProfile] = field(default_factory=dict)
    accounts: dict[str, AccountState] = field(default_factory=dict)
    products: dict[str, ProductIntegrity] = field(default_factory=dict)
    bands: dict[str, BandBucket] = field(default_factory=dict)
    verdicts: dict[str, ReviewIntegrity] = field(default_factory=dict)
    at_arrival: dict[str, bool] = field(default_factory=dict)
    alerts: list[Alert] = field(default_factory=list)
    seconds: float = 0.0
    reviews: int = 0
    offsets: Counter[str] = field(default_factory=Counter)

    def _source(self, topic: str) -> SourceRef:
        self.offsets[topic] += 1
        return SourceRef(topic, 0, self.offsets[topic])

    def click(self, click: Any) -> None:
        self.profiles[click.user_id] = fold_click(self.profiles.get(click.user_id), click,
                                                  self._source("clickstream")).profile

    def review(self, review: PlannedReview, insight: ReviewInsight) -> UserProfile:
        """Fold the insight into its author's profile, then run the integrity step; returns the profile it read."""
        update = fold_insight(self.profiles.get(review.user_id), insight, self._source("profile-events"))
        self.profiles[review.user_id] = update.profile
        self.integrity(review, insight, update.profile)
        return update.profile

    def integrity(self, review: PlannedReview, insight: ReviewInsight, profile: UserProfile) -> None:
        """The integrity step alone: signature, user stage, product stage and everything it sets off."""
        started = time.process_time()
        signature = text_signature(review.text)
        facts = review_facts(insight)
        account = fold_account_review(self.accounts.get(review.user_id), profile, facts,
                                      self._source("profile-events-integrity"), self.cfg)
        self.accounts[review.user_id] = account.state
        assert account.evidence is not None
        outcome = assess_review(self.products.get(review.product_id), facts, account.evidence, signature,
                                self._source("integrity-events"), self.cfg)
        self.at_arrival[review.review_id] = outcome.records[0].flagged
        self._take(outcome)
        self.seconds += time.process_time() - started
        self.reviews += 1

    def _take(self, outcome: IntegrityOutcome) -> None:
        """Store what a product stage decided, then route its probes and account flags, whose answers may revise
        other reviews in turn (as the agents would, one hop after another)."""
        self.products[outcome.state.product_id] = outcome.state
        for record in outcome.records:
            self.verdicts[record.review_id] = record
        self.alerts.extend(outcome.alerts)
        for key in outcome.band_keys:
            assert outcome.probe is not None
            band = probe_band(self.bands.get(key), key, outcome.probe, self.cfg)
            self.bands[key] = band.bucket
            for match in band.matches:
                for side in (match, match.mirrored()):
                    state = self.products.get(side.product_id)
                    if state is not None:
                        self._take(apply_text_match(state, side, self.cfg))
        for flag in outcome.account_flags:
            flagged = flag_account(self.accounts.get(flag.user_id), flag, self.cfg)
            if flagged.state is not None:
                self.accounts[flag.user_id] = flagged.state
            for taint in flagged.taints:
                state = self.products.get(taint.product_id)
                if state is not None:
                    self._take(apply_taint(state, taint, self.cfg))


def _insight(review: PlannedReview, analyzer: LocalAnalyzer, cache: dict[tuple[str, int], Any]) -> ReviewInsight:
    key = (review.text, review.rating)
    if key not in cache:
        cache[key] = analyzer.analyze_text(review.text, lang_hint=review.lang, rating=review.rating)
    return ReviewInsight.build(review_id=review.review_id, user_id=review.user_id, product_id=review.product_id,
                               analysis=cache[key], model="local", degraded=False, redacted=[], rating=review.rating,
                               review_created_at=review.at, analyzed_at=review.at + 1.0)


Inputs = list[tuple[PlannedReview, ReviewInsight, UserProfile]]


def simulate(shop: Shop, analyzer: LocalAnalyzer, cfg: IntegrityConfig = DEFAULT_INTEGRITY_CONFIG
             ) -> tuple[Pipeline, list[PlannedReview], Inputs]:
    """Every event in order; also what each review's integrity step read, to time that step alone again."""
    pipeline, reviews, inputs = Pipeline(cfg), [], []
    cache: dict[tuple[str, int], Any] = {}
    for event in shop.events:
        if event.click is not None:
            pipeline.click(event.click)
        elif event.review is not None:
            insight = _insight(event.review, analyzer, cache)
            inputs.append((event.review, insight, pipeline.review(event.review, insight)))
            reviews.append(event.review)
    return pipeline, reviews, inputs


def time_integrity(inputs: Inputs, cfg: IntegrityConfig, repeats: int = 3) -> float:
    """CPU milliseconds per review of the integrity step alone, the best of `repeats` passes over the same reviews
    with fresh tables: the machine is shared, and the best pass is the one least disturbed by others (CPU time, not
    wall time, so that waiting for a core another process holds does not count)."""
    best = float("inf")
    for _ in range(repeats):
        pipeline = Pipeline(cfg)
        for review, insight, profile in inputs:
            pipeline.integrity(review, insight, profile)
        best = min(best, pipeline.seconds / max(1, pipeline.reviews))
    return round(1000 * best, 4)


def _ratio(a: int, b: int) -> float:
    return round(a / b, 4) if b else 0.0


def figures(pipeline: Pipeline, reviews: list[PlannedReview], shapes: tuple[str, ...]) -> dict[str, Any]:
    flagged = {r.review_id for r in reviews if pipeline.verdicts[r.review_id].flagged}
    organic = [r for r in reviews if r.shape == "organic"]
    false_positives = sum(r.review_id in flagged for r in organic)
    by_shape: dict[str, list[PlannedReview]] = {s: [r for r in reviews if r.shape == s] for s in shapes}

    def precision_recall(rows: list[PlannedReview]) -> tuple[float, float]:
        caught = sum(r.review_id in flagged for r in rows)
        return _ratio(caught, caught + false_positives), _ratio(caught, len(rows))

    tuned = [r for s in shapes if s in TUNED_SHAPES for r in by_shape[s]]
    untuned = [r for s in shapes if s in UNTUNED_SHAPES for r in by_shape[s]]
    blind = [r for s in shapes if s in BLIND_SHAPES for r in by_shape[s]]
    campaign_rows = tuned + untuned + blind
    precision, recall = precision_recall(campaign_rows)
    campaign_of = {r.review_id: r.campaign for r in campaign_rows}
    firing = [a for a in pipeline.alerts if a.kind == CAMPAIGN and a.status == "firing"]
    alerted = {campaign_of[i] for a in firing for i in a.review_ids if i in campaign_of}
    instances = {r.campaign for r in campaign_rows}
    out: dict[str, Any] = {
        "reviews": len(reviews), "organic_reviews": len(organic), "campaign_reviews": len(campaign_rows),
        "threshold": pipeline.cfg.threshold,
        "precision": precision, "recall": recall,
        "organic_false_positive_rate": _ratio(false_positives, len(organic)),
        "organic_false_positives": false_positives,
        "recall_at_arrival": _ratio(sum(pipeline.at_arrival[r.review_id] for r in campaign_rows), len(campaign_rows)),
        "organic_false_positive_rate_at_arrival": _ratio(sum(pipeline.at_arrival[r.review_id] for r in organic),
                                                         len(organic)),
    }
    for name, rows in (("tuned", tuned), ("untuned", untuned), ("blind", blind)):
        if rows:
            out[f"{name}_precision"], out[f"{name}_recall"] = precision_recall(rows)
    out["recall_by_shape"] = {s: precision_recall(by_shape[s])[1] for s in shapes}
    out["precision_by_shape"] = {s: precision_recall(by_shape[s])[0] for s in shapes}
    out["campaigns_alerted"] = {s: f"{len({c for c in alerted if c and c.startswith(s + '-')})}/"
                                   f"{len({c for c in instances if c and c.startswith(s + '-')})}" for s in shapes}
    out["organic_campaign_alerts"] = sum(all(i not in campaign_of for i in a.review_ids) for a in firing)
    fired: Counter[str] = Counter()
    for r in organic:
        fired.update(s.name for s in pipeline.verdicts[r.review_id].signals)
    out["organic_signal_rates"] = {name: _ratio(fired[name], len(organic)) for name in SIGNALS}
    return out


TUNING_GRID = (0.5, 0.56, 0.62, 0.68, 0.73)  # 0, 0.25, 0.5, 0.75 and 1 log-odds point above the even score
TUNING_MAX_ORGANIC_FPR = 0.005


def tune(shop: Shop, analyzer: LocalAnalyzer, shapes: tuple[str, ...]) -> dict[str, Any]:
    """The threshold: the lowest of `TUNING_GRID` whose organic false-positive rate on this run is at most 0.5 %
    (a full run per threshold: later evidence flags earlier reviews, so a threshold changes more than a cut)."""
    runs = {}
    for threshold in TUNING_GRID:
        pipeline, reviews, _ = simulate(shop, analyzer, IntegrityConfig(threshold=threshold))
        found = figures(pipeline, reviews, shapes)
        runs[str(threshold)] = {k: found[k] for k in ("precision", "recall", "organic_false_positive_rate")}
    chosen = next((float(t) for t, r in runs.items() if r["organic_false_positive_rate"] <= TUNING_MAX_ORGANIC_FPR),
                  TUNING_GRID[-1])
    return {"runs": runs, "chosen_threshold": chosen}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--seed", type=int, default=3)
    parser.add_argument("--split", choices=["val", "test"], default="test")
    parser.add_argument("--instances", type=int, default=6, help="campaign instances per shape")
    parser.add_argument("--shapes", default=",".join(SHAPES),
                        help=f"comma-separated campaign shapes (default all: {','.join(SHAPES)})")
    parser.add_argument("--threshold", type=float, default=DEFAULT_INTEGRITY_CONFIG.threshold,
                        help="the score from which a review is flagged")
    parser.add_argument("--tune", action="store_true",
                        help="choose the threshold on the tuned shapes (the shipped one: --seed 1 --split val)")
    args = parser.parse_args()
    split: Split = args.split
    shapes = TUNED_SHAPES if args.tune else tuple(args.shapes.split(","))
    unknown = set(shapes) - set(SHAPES)
    if unknown:
        parser.error(f"unknown shapes {sorted(unknown)}; known: {', '.join(SHAPES)}")
    shop = build_shop(args.seed, split, shapes, args.instances)
    analyzer = LocalAnalyzer.from_model_dir()
    if args.tune:
        print(json.dumps({"seed": args.seed, "split": split, "shapes": list(shapes), **tune(shop, analyzer, shapes)}))
        return
    cfg = IntegrityConfig(threshold=args.threshold)
    pipeline, reviews, inputs = simulate(shop, analyzer, cfg)
    result: dict[str, Any] = {"seed": args.seed, "split": split}
    for name, group in (("tuned", TUNED_SHAPES), ("untuned", UNTUNED_SHAPES), ("blind", BLIND_SHAPES)):
        result[f"shapes_{name}"] = [s for s in shapes if s in group]
    result |= figures(pipeline, reviews, shapes)
    result["integrity_ms_per_review"] = time_integrity(inputs, cfg)
    result["integrity_reviews_per_s"] = round(1000 / result["integrity_ms_per_review"])
    result["load_average_1m"] = round(os.getloadavg()[0], 2)
    print(json.dumps(result, ensure_ascii=False))


if __name__ == "__main__":
    main()
