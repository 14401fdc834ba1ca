"""Cost and accuracy of PII redaction: `python -m bench.redaction [--rounds 200]`, one JSON line.

The worker redacts every review before analysis, so redaction is on the hot path. Figures:
  cases, misses, false_positives   the redaction test table: a miss is a case with personal data whose expectation
                              failed; a false positive is a case whose result has a kind it should not have, or
                              a case without personal data whose text changed
  redact_us_per_review        `redact()` over the bundled real reviews (data/sample_reviews.jsonl), mean µs
  redact_pii_us_per_case      `redact()` over the redaction test table (tests/unit/redaction_cases.jsonl): texts
                              dense in personal data and near misses, the slow path
  analyze_us_per_review       the offline analyzer on the same sample reviews, the other per-review CPU cost
  redact_share_of_analysis    redact_us_per_review / analyze_us_per_review, measured in the same run
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from streams.llm.redaction import redact
from streams.settings import PROJECT_ROOT, Settings


def _texts(path: Path, field: str) -> list[str]:
    """The `field` of every JSON line that has it as a string: the sample also holds the demo's malformed events."""
    if not path.exists():
        return []
    texts = []
    for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
        try:
            record = json.loads(line)
        except json.JSONDecodeError:
            continue
        if isinstance(record, dict) and isinstance(record.get(field), str):
            texts.append(record[field])
    return texts


def _mean_us(fn: Callable[[str], object], texts: Sequence[str], rounds: int) -> float:
    for text in texts:  # warm caches (regex compilation, phone metadata) outside the timing
        fn(text)
    started = time.perf_counter()
    for _ in range(rounds):
        for text in texts:
            fn(text)
    return (time.perf_counter() - started) / (rounds * len(texts)) * 1e6


def score(cases: Sequence[dict[str, Any]]) -> dict[str, int]:
    misses = false_positives = 0
    for case in cases:
        result = redact(case["text"])
        if case["kinds"]:
            ok = (set(case["kinds"]) <= set(result.kinds) and result.text == case.get("expected", result.text)
                  and not any(g in result.text for g in case.get("gone", []))
                  and all(k in result.text for k in case.get("kept", [])))
            misses += not ok
            false_positives += bool(set(result.kinds) - set(case["kinds"]))
        else:
            false_positives += result.text != case["text"]
    return {"cases": len(cases), "misses": misses, "false_positives": false_positives}


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=200, help="passes over the sample reviews")
    parser.add_argument("--no-analyzer", action="store_true", help="skip the offline analyzer (no trained model)")
    args = parser.parse_args(argv)

    reviews = _texts(PROJECT_ROOT / "data" / "sample_reviews.jsonl", "text")
    cases_file = PROJECT_ROOT / "tests" / "unit" / "redaction_cases.jsonl"
    cases = _texts(cases_file, "text")
    figures: dict[str, float | int] = {"reviews": len(reviews), "rounds": args.rounds}
    if cases:
        figures.update(score([json.loads(line) for line in cases_file.read_text(encoding="utf-8").splitlines()
                              if line.strip()]))
    figures["redact_us_per_review"] = round(_mean_us(redact, reviews, args.rounds), 2)
    if cases:
        figures["redact_pii_us_per_case"] = round(_mean_us(redact, cases, max(1, args.rounds // 4)), 2)
    if not args.no_analyzer:
        from streams.llm.local.analyzer import LocalAnalyzer

        analyzer = LocalAnalyzer.from_model_dir(Settings().local_model_dir)
        analyze_us = _mean_us(lambda t: analyzer.analyze_text(t), reviews, max(1, args.rounds // 20))
        figures["analyze_us_per_review"] = round(analyze_us, 1)
        figures["redact_share_of_analysis"] = round(figures["redact_us_per_review"] / analyze_us, 4)
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
