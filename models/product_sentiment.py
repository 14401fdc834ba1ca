"""Per-product sentiment windows in event time, as plain table values (no Faust windowed tables).

Faust's windowed tables (faust-streaming 0.15.3) place events by Kafka message time even with `relative_to_field`,
return the newest hopping window from `.value()`, and never expire windowed keys restored after a restart
(faust-streaming issue 385). So the worker keeps windows in a plain table keyed by
`window_key(product_id, window_start)` and drives them with these pure functions:

>>> facts = insight_facts(insight)                                                      # doctest: +SKIP
>>> for start, end in window_bounds(facts.at, size_s=3600, step_s=900):                  # doctest: +SKIP
...     key = window_key(facts.product_id, start)
...     table[key] = fold_insight_into_window(table.get(key), insight, start, end, source)

Windows are half-open, [window_start, window_end), aligned to multiples of `step_s` since the Unix epoch, and an
insight's event time is when the review was written (`review_created_at`), else when it was analysed. No window is
ever final: a late review still joins the window of its event time and the window is published again. What bounds
the table is a count, not a watermark: the agent keeps each product's newest `REVIEWSTREAM_WINDOWS_KEPT_PER_PRODUCT`
windows (an index per product lists their starts) and deletes older ones as newer ones open.

Replays: a window remembers the `review_id`s it folded (at most `max_review_ids`) and the highest offset folded per
source partition, and skips an insight it already holds by either. The ids also catch a duplicate insight published
twice at two offsets; past `max_review_ids` only the offsets protect the counts.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Final, TypeVar

import faust

from models.insight import ReviewInsight
from models.profile import SourceRef, already_folded, insight_facts, remember_offset
from models.records import WireRecord

__all__ = [
    "DEFAULT_WINDOW_CONFIG",
    "AspectCount",
    "ProductWindow",
    "WindowConfig",
    "already_in_window",
    "fold_insight_into_window",
    "window_bounds",
    "window_key",
]


@dataclass(frozen=True)
class WindowConfig:
    # 500 ids of ~20-40 characters keep a busy product's window near 20 KB, the price of exact de-duplication.
    max_review_ids: int = 500
    max_aspects: int = 50
    max_competitors: int = 20

    def __post_init__(self) -> None:
        if min(self.max_review_ids, self.max_aspects, self.max_competitors) < 0:
            raise ValueError(f"limits must not be negative, got {self}")


DEFAULT_WINDOW_CONFIG: Final = WindowConfig()
_V = TypeVar("_V")


class AspectCount(faust.Record, include_metadata=False, serializer="json"):
    count: int
    negative: int


class ProductWindow(WireRecord):
    product_id: str
    # Unix seconds, [window_start, window_end).
    window_start: int
    window_end: int
    n: int
    # Reviews by sentiment (positive, neutral, negative, mixed).
    counts: dict[str, int]
    mean_score: float
    # Aspect name (case-folded) → reviews mentioning it, and mentioning it negatively; at most `max_aspects`
    # (the most mentioned, plus the newest, see `_most`).
    aspects: dict[str, AspectCount]
    # Issue kind → reviews naming it.
    issues: dict[str, int]
    # Competitor name (case-folded) → reviews mentioning it; at most `max_competitors`, kept like aspects.
    competitors: dict[str, int]
    # Insights produced by the offline fallback: alert rules may trust a window with many of them less.
    degraded: int
    first_review_at: float
    last_review_at: float
    review_ids: list[str]
    folded_offsets: dict[str, int]


def window_key(product_id: str, window_start: int) -> str:
    """Table key of a window; the start is last, so `key.rsplit(":", 1)` splits it even if ids contain ':'."""
    return f"{product_id}:{window_start}"


def window_bounds(event_time: float, size_s: int, step_s: int) -> list[tuple[int, int]]:
    """Every window [start, start + size_s) that holds `event_time`, oldest first; starts are multiples of step_s.

    >>> window_bounds(1000.0, 600, 600)      # tumbling: exactly one window
    [(600, 1200)]
    >>> window_bounds(1000.0, 600, 300)      # hopping: size / step windows
    [(600, 1200), (900, 1500)]
    """
    if size_s <= 0 or step_s <= 0 or step_s > size_s:
        # step > size would leave gaps between windows where events belong nowhere.
        raise ValueError(f"need 0 < step_s <= size_s, got size_s={size_s}, step_s={step_s}")
    start = math.floor(event_time / step_s) * step_s
    bounds = []
    while start + size_s > event_time:
        bounds.append((start, start + size_s))
        start -= step_s
    return bounds[::-1]


def already_in_window(
    window: ProductWindow | None, insight: ReviewInsight | Mapping[str, Any], source: SourceRef | None = None
) -> bool:
    """True when folding this insight would change nothing because the window already holds it."""
    if window is None:
        return False
    if source is not None and already_folded(window.folded_offsets, source):
        return True
    return insight_facts(insight).review_id in window.review_ids


def fold_insight_into_window(
    window: ProductWindow | None,
    insight: ReviewInsight | Mapping[str, Any],
    window_start: int,
    window_end: int,
    source: SourceRef | None = None,
    cfg: WindowConfig = DEFAULT_WINDOW_CONFIG,
) -> ProductWindow:
    """Fold one insight (record or wire dict) into its window; None starts the window. The input is not modified.

    Returns the input window itself when it already holds the insight (`already_in_window`), so `result is window`
    tells the caller there is nothing new to publish.
    """
    facts = insight_facts(insight)
    if not window_start <= facts.at < window_end:
        raise ValueError(f"insight {facts.review_id!r} at {facts.at} is outside the window [{window_start}, "
                         f"{window_end}); take the bounds from window_bounds(insight time, ...)")
    if window is not None:
        if (window.product_id, window.window_start, window.window_end) != (facts.product_id, window_start, window_end):
            raise ValueError(f"insight for product {facts.product_id!r} [{window_start}, {window_end}) folded into "
                             f"window {window_key(window.product_id, window.window_start)!r}")
        if already_in_window(window, insight, source):
            return window
    n = (window.n if window else 0) + 1
    mean = window.mean_score if window else 0.0
    counts = dict(window.counts) if window else {}
    counts[facts.sentiment] = counts.get(facts.sentiment, 0) + 1
    aspects = dict(window.aspects) if window else {}
    # One review naming an aspect twice is one mention: count per review, negative if any mention is negative.
    named: dict[str, bool] = {}
    for name, sentiment in facts.aspects:
        key = name.strip().casefold()
        named[key] = named.get(key, False) or sentiment == "negative"
    for key, negative in named.items():
        seen = aspects.get(key)
        aspects[key] = AspectCount(count=(seen.count if seen else 0) + 1,
                                   negative=(seen.negative if seen else 0) + negative)
    issues = dict(window.issues) if window else {}
    for issue in set(facts.issues):
        issues[issue] = issues.get(issue, 0) + 1
    competitors = dict(window.competitors) if window else {}
    mentioned = {c.strip().casefold() for c in facts.competitors}
    for name in mentioned:
        competitors[name] = competitors.get(name, 0) + 1
    review_ids = list(window.review_ids) if window else []
    if len(review_ids) < cfg.max_review_ids:
        review_ids.append(facts.review_id)
    offsets = dict(window.folded_offsets) if window else {}
    if source is not None:
        offsets = remember_offset(offsets, source)
    return ProductWindow(
        product_id=facts.product_id,
        window_start=window_start,
        window_end=window_end,
        n=n,
        counts=counts,
        # Clamped: a running mean of scores in [-1, 1] can drift one rounding step outside.
        mean_score=min(1.0, max(-1.0, mean + (facts.score - mean) / n)),
        aspects=_most(aspects, cfg.max_aspects, lambda a: a.count, set(named)),
        issues=issues,
        competitors=_most(competitors, cfg.max_competitors, lambda c: c, mentioned),
        degraded=(window.degraded if window else 0) + facts.degraded,
        first_review_at=min(window.first_review_at, facts.at) if window else facts.at,
        last_review_at=max(window.last_review_at, facts.at) if window else facts.at,
        review_ids=review_ids,
        folded_offsets=offsets,
    )


def _most(items: dict[str, _V], limit: int, count: Callable[[_V], int], touched: set[str]) -> dict[str, _V]:
    """The `limit` most mentioned, but always the names this insight just mentioned.

    Pure "keep the top counts" would evict every newcomer at once when the map is full, so an aspect that starts
    trending late in a window ("smells of burning") could never get in. Protecting the names just touched lets a
    newcomer stay until something else outranks it. Exact below the limit; above it, small counts are approximate.
    Ties go by name, so workers folding the same insights in the same order keep the same names.
    """
    if len(items) <= limit:
        return items
    ranked = sorted(items, key=lambda k: (k not in touched, -count(items[k]), k))[:limit]
    return {k: items[k] for k in ranked}
