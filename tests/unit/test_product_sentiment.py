"""Per-product sentiment windows in event time: bounds, fold, replay protection, expiry."""

from __future__ import annotations

import random
from typing import Any

import orjson
import pytest

from models.insight import ReviewInsight
from models.product_sentiment import (
    DEFAULT_WINDOW_CONFIG,
    ProductWindow,
    WindowConfig,
    already_in_window,
    fold_insight_into_window,
    window_bounds,
    window_key,
)
from models.profile import SourceRef
from tests import factories

T0 = 1_699_999_200  # a multiple of 3600: the start of an hour
HOUR = 3600


def make_insight(review_id: str = "r1", *, score: float = 0.8, at: float | None = T0 + 10,
                 analyzed_at: float = T0 + 20, **fields: Any) -> ReviewInsight:
    """This module's defaults (a review at T0+10 s, analysed at T0+20 s, score 0.8 whatever the sentiment)."""
    return factories.make_insight(review_id, score=score, at=at, analyzed_at=analyzed_at, **fields)


# ---------------------------------------------------------------------------------------------------- bounds


@pytest.mark.parametrize(
    ("t", "size", "step", "expected"),
    [
        (T0, HOUR, HOUR, [(T0, T0 + HOUR)]),  # the start belongs to the window
        (T0 + HOUR - 0.001, HOUR, HOUR, [(T0, T0 + HOUR)]),
        (T0 + HOUR, HOUR, HOUR, [(T0 + HOUR, T0 + 2 * HOUR)]),  # the end does not
        (T0 + 1000, HOUR, 900, [(T0 - 1800, T0 + 1800), (T0 - 900, T0 + 2700), (T0, T0 + HOUR),
                                (T0 + 900, T0 + 4500)]),
        (T0 + 900, HOUR, 900, [(T0 - 1800, T0 + 1800), (T0 - 900, T0 + 2700), (T0, T0 + HOUR),
                               (T0 + 900, T0 + 4500)]),
        (T0 + 899.5, HOUR, 900, [(T0 - 2700, T0 + 900), (T0 - 1800, T0 + 1800), (T0 - 900, T0 + 2700),
                                 (T0, T0 + HOUR)]),
        (T0 + 10, 7 * 86400, 86400, None),  # a week hopping by days: seven windows
        (0.0, 60, 60, [(0, 60)]),
    ],
)
def test_window_bounds_tumbling_and_hopping(t: float, size: int, step: int,
                                            expected: list[tuple[int, int]] | None) -> None:
    bounds = window_bounds(t, size, step)
    if expected is not None:
        assert bounds == expected
    assert len(bounds) == size // step
    assert all(start <= t < end and end - start == size and start % step == 0 for start, end in bounds)
    assert bounds == sorted(bounds)


@pytest.mark.parametrize(("size", "step"), [(0, 0), (60, 0), (60, 120), (-60, 60)])
def test_window_bounds_refuses_gaps_and_nonsense(size: int, step: int) -> None:
    with pytest.raises(ValueError, match="step_s"):
        window_bounds(T0, size, step)


def test_window_keys_split_back_even_with_colons_in_the_product_id() -> None:
    key = window_key("shop:p:1", T0)
    product, start = key.rsplit(":", 1)
    assert (product, int(start)) == ("shop:p:1", T0)


# ---------------------------------------------------------------------------------------------------- fold


def fold_all(insights: list[ReviewInsight], start: int = T0, end: int = T0 + HOUR,
             cfg: WindowConfig = DEFAULT_WINDOW_CONFIG, partition: int = 0) -> ProductWindow:
    window = None
    for i, insight in enumerate(insights):
        window = fold_insight_into_window(window, insight, start, end, SourceRef("review-insights", partition, i), cfg)
    assert window is not None
    return window


def test_fold_counts_sentiments_mean_aspects_issues_and_competitors() -> None:
    w = fold_all([
        make_insight("r1", score=0.8, at=T0 + 100, aspects=[("Battery", "positive"), ("battery ", "negative")],
                     competitors=["Philips"]),
        make_insight("r2", sentiment="negative", score=-0.6, at=T0 + 50, aspects=[("battery", "negative"),
                     ("delivery", "negative")], issues=["shipping", "quality", "shipping"], competitors=["philips"],
                     degraded=True),
        make_insight("r3", sentiment="neutral", score=0.1, at=None, analyzed_at=T0 + 3000,
                     aspects=[("size", "neutral")], issues=["quality"]),
    ])
    assert (w.product_id, w.window_start, w.window_end, w.n) == ("p1", T0, T0 + HOUR, 3)
    assert w.counts == {"positive": 1, "negative": 1, "neutral": 1}
    assert w.mean_score == pytest.approx((0.8 - 0.6 + 0.1) / 3)
    # Counted per review: r1 names the battery twice, once negatively.
    assert {k: (a.count, a.negative) for k, a in w.aspects.items()} == {
        "battery": (2, 2), "delivery": (1, 1), "size": (1, 0)}
    assert w.issues == {"shipping": 1, "quality": 2}
    assert w.competitors == {"philips": 2}
    assert w.degraded == 1
    assert (w.first_review_at, w.last_review_at) == (T0 + 50, T0 + 3000)
    assert w.review_ids == ["r1", "r2", "r3"]
    assert w.folded_offsets == {"review-insights:0": 2}


def test_fold_accepts_the_wire_dict_and_leaves_its_input_alone() -> None:
    insight = make_insight("r1", aspects=[("lid", "negative")])
    first = fold_insight_into_window(None, make_insight("r0"), T0, T0 + HOUR)
    before = first.dumps()
    from_record = fold_insight_into_window(first, insight, T0, T0 + HOUR)
    from_dict = fold_insight_into_window(first, orjson.loads(insight.dumps()), T0, T0 + HOUR)
    assert from_record == from_dict
    assert first.dumps() == before


def test_fold_refuses_the_wrong_window_or_product() -> None:
    window = fold_insight_into_window(None, make_insight("r1"), T0, T0 + HOUR)
    with pytest.raises(ValueError, match="outside the window"):
        fold_insight_into_window(None, make_insight("r2", at=T0 + HOUR), T0, T0 + HOUR)
    with pytest.raises(ValueError, match="p2"):
        fold_insight_into_window(window, make_insight("r2", product_id="p2"), T0, T0 + HOUR)
    with pytest.raises(ValueError):
        fold_insight_into_window(window, make_insight("r2"), T0 - 900, T0 + HOUR - 900)


def test_hopping_windows_each_receive_the_insight() -> None:
    insight = make_insight("r1", at=T0 + 1000)
    windows = {window_key("p1", start): fold_insight_into_window(None, insight, start, end)
               for start, end in window_bounds(T0 + 1000, HOUR, 900)}
    assert len(windows) == 4 and all(w.n == 1 for w in windows.values())


def test_aspects_and_competitors_keep_the_most_mentioned() -> None:
    cfg = WindowConfig(max_aspects=2, max_competitors=1)
    w = fold_all([make_insight("r1", aspects=[("a", "positive"), ("b", "positive")], competitors=["x"]),
                  make_insight("r2", aspects=[("b", "positive"), ("c", "positive")], competitors=["y"]),
                  make_insight("r3", aspects=[("c", "negative")], competitors=["y"])], cfg=cfg)
    assert set(w.aspects) == {"b", "c"} and w.competitors == {"y": 2}
    # A newcomer is kept by the insight that brings it, evicting the least mentioned other name.
    w = fold_insight_into_window(w, make_insight("r4", aspects=[("d", "negative")], competitors=["z"]), T0,
                                 T0 + HOUR, cfg=cfg)
    assert set(w.aspects) == {"b", "d"} and w.competitors == {"z": 1}
    assert (w.aspects["d"].count, w.aspects["d"].negative) == (1, 1)


# ---------------------------------------------------------------------------------------------------- replay


def test_replaying_every_insight_changes_nothing() -> None:
    rng = random.Random(3)
    insights = [make_insight(f"r{i}", score=round(rng.uniform(-1, 1), 2), at=T0 + rng.uniform(0, HOUR - 1),
                             aspects=[(rng.choice("abc"), rng.choice(["positive", "negative"]))])
                for i in range(200)]
    once = fold_all(insights)
    again = once
    for i, insight in enumerate(insights):
        assert already_in_window(again, insight, SourceRef("review-insights", 0, i))
        again = fold_insight_into_window(again, insight, T0, T0 + HOUR, SourceRef("review-insights", 0, i))
        assert again is once


def test_an_insight_republished_at_a_new_offset_is_caught_by_its_review_id() -> None:
    w = fold_all([make_insight("r1"), make_insight("r2")])
    assert fold_insight_into_window(w, make_insight("r1"), T0, T0 + HOUR, SourceRef("review-insights", 5, 77)) is w
    assert fold_insight_into_window(w, make_insight("r2"), T0, T0 + HOUR) is w  # no source: the ids alone


def test_past_the_id_limit_offsets_still_protect_the_counts() -> None:
    cfg = WindowConfig(max_review_ids=3)
    insights = [make_insight(f"r{i}") for i in range(10)]
    once = fold_all(insights, cfg=cfg)
    assert once.review_ids == ["r0", "r1", "r2"] and once.n == 10
    crashed = fold_all(insights[:6], cfg=cfg)
    window = crashed
    for i, insight in enumerate(insights[2:], start=2):  # replay from an older committed offset
        window = fold_insight_into_window(window, insight, T0, T0 + HOUR, SourceRef("review-insights", 0, i), cfg)
    assert window == once


def test_insights_from_several_partitions_in_any_interleaving_give_the_same_counts() -> None:
    rng = random.Random(9)
    streams: dict[int, list[tuple[ReviewInsight, SourceRef]]] = {}
    for i in range(300):
        partition = rng.randrange(4)
        sentiment = rng.choice(["positive", "negative", "neutral", "mixed"])
        insight = make_insight(f"r{i}", sentiment=sentiment, score=round(rng.uniform(-1, 1), 2),
                               at=T0 + rng.uniform(0, HOUR - 1), issues=[rng.choice(["quality", "price"])])
        streams.setdefault(partition, []).append(
            (insight, SourceRef("review-insights", partition, len(streams.get(partition, [])))))
    results: list[dict[str, Any]] = []
    for seed in range(3):
        order = random.Random(seed)
        queues = {k: list(v) for k, v in streams.items()}
        window = None
        while queues:
            k = order.choice(sorted(queues))
            insight, source = queues[k].pop(0)
            window = fold_insight_into_window(window, insight, T0, T0 + HOUR, source)
            if not queues[k]:
                del queues[k]
        assert window is not None
        results.append(window.to_dict())
    for result in results[1:]:
        for field in ("n", "counts", "issues", "first_review_at", "last_review_at", "folded_offsets"):
            assert result[field] == results[0][field]
        assert result["mean_score"] == pytest.approx(results[0]["mean_score"])
        assert sorted(result["review_ids"]) == sorted(results[0]["review_ids"])
