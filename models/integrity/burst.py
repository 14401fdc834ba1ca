"""Burst: a product's review rate and mix in the current window against its own history, in event time.

Each product keeps hourly `RateBucket`s (reviews, 5-star, 1-star, with no purchase behind them) for the last day and
daily ones for the weeks before: ~25 + ~37 small buckets, whatever the traffic. At a review's time `at`:

- the rate: the reviews of the hours that overlap the last `burst_window_s` (a day) against the baseline's daily
  rate times the window's length, the baseline being the whole days, `baseline_span_s` of them at most, that end
  before the window; a prior of `prior_reviews_per_day`, weighted as `prior_days` of history, stands in for a
  product with little history, so a new product is neither silent nor bursting by default;
- the mix: the share of 5-star, of 1-star, of unverified reviews and of unverified 5-star (1-star) reviews, in the
  last day and in the last `mix_window_s` (a week, in whole days: a slow drip moves the week's mix and not the
  day's), each against the baseline before that window (with a prior share weighted as `prior_mix_weight`
  reviews). The joint share is what a campaign inflates most: organically few reviews are both unverified and 5-star;
- each comparison is a tail probability, P(N >= window reviews) for a Poisson count with the expected mean and
  P(X >= window count) for a binomial with the baseline share, reported as a "surprise", -log10 of that
  probability: 2 means "once in a hundred windows", 6 "once in a million". A tail probability reads the same for a
  product with 2 reviews a day and one with 200, where a ratio of counts would not. Of the two mix windows the more
  surprising one is reported.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from typing import NamedTuple

import faust
from scipy.special import bdtrc, pdtrc

from models.integrity.config import DAY_S, HOUR_S, IntegrityConfig

__all__ = ["BurstFigures", "MixFigures", "RateBucket", "add_to_buckets", "burst_figures"]

# Surprises are capped: past one in 10^30 the figure says nothing more, and float tails underflow.
_MAX_SURPRISE = 30.0


class RateBucket(faust.Record, include_metadata=False, serializer="json"):
    n: int
    five: int
    one: int
    unverified: int
    # Reviews both unverified and at 5 (or 1) stars: what a campaign concentrates on.
    five_unverified: int = 0
    one_unverified: int = 0


class MixFigures(NamedTuple):
    window_days: float
    window_share: float
    baseline_share: float
    surprise: float


class BurstFigures(NamedTuple):
    window_reviews: int
    expected_reviews: float
    rate_surprise: float
    five: MixFigures
    one: MixFigures
    unverified: MixFigures
    five_unverified: MixFigures
    one_unverified: MixFigures

    def mix_like(self, rating: int | None, verified: bool) -> MixFigures | None:
        """The mix of the reviews like this one that a campaign would inflate: unverified at its star extreme,
        unverified, or at its star extreme; None for a verified review in the middle of the scale."""
        if not verified:
            return self.five_unverified if rating == 5 else self.one_unverified if rating == 1 else self.unverified
        return self.five if rating == 5 else self.one if rating == 1 else None


def _key(start: float) -> str:
    return str(int(start))


def _count(buckets: Mapping[str, RateBucket], start: float, rating: int | None, verified: bool) -> RateBucket:
    old = buckets.get(_key(start)) or RateBucket(n=0, five=0, one=0, unverified=0)
    return RateBucket(n=old.n + 1, five=old.five + (rating == 5), one=old.one + (rating == 1),
                      unverified=old.unverified + (not verified),
                      five_unverified=old.five_unverified + (rating == 5 and not verified),
                      one_unverified=old.one_unverified + (rating == 1 and not verified))


def add_to_buckets(hours: Mapping[str, RateBucket], days: Mapping[str, RateBucket], at: float, rating: int | None,
                   verified: bool, cfg: IntegrityConfig) -> tuple[dict[str, RateBucket], dict[str, RateBucket]]:
    """New mappings with the review counted in its hour and its day; buckets too old to matter are dropped."""
    hour, day = at - at % HOUR_S, at - at % DAY_S
    newest_hour = max([hour, *(float(s) for s in hours)])
    newest_day = max([day, *(float(s) for s in days)])
    oldest_hour = newest_hour - cfg.burst_window_s - HOUR_S
    kept_hours = {s: b for s, b in hours.items() if float(s) > oldest_hour}
    oldest_day = newest_day - max(cfg.burst_window_s, cfg.mix_window_s) - cfg.baseline_span_s - 2 * DAY_S
    kept_days = {s: b for s, b in days.items() if float(s) >= oldest_day}
    if hour > oldest_hour:  # a review older than the window only feeds the baseline
        kept_hours[_key(hour)] = _count(hours, hour, rating, verified)
    kept_days[_key(day)] = _count(days, day, rating, verified)
    return kept_hours, kept_days


_Counts = tuple[int, int, int, int, int, int]


def _sum(buckets: Iterable[RateBucket]) -> _Counts:
    n = five = one = unverified = five_unverified = one_unverified = 0
    for bucket in buckets:
        n += bucket.n
        five += bucket.five
        one += bucket.one
        unverified += bucket.unverified
        five_unverified += bucket.five_unverified
        one_unverified += bucket.one_unverified
    return n, five, one, unverified, five_unverified, one_unverified


def _baseline(days: Mapping[str, RateBucket], window_from: float, cfg: IntegrityConfig) -> tuple[_Counts, float]:
    """Counts of the whole days that end at or before `window_from`, within the baseline span, and their length."""
    end = window_from - window_from % DAY_S
    starts = [float(s) for s in days if end - cfg.baseline_span_s <= float(s) < end]
    return _sum(days[_key(s)] for s in starts), (end - min(starts, default=end)) / DAY_S


def burst_figures(hours: Mapping[str, RateBucket], days: Mapping[str, RateBucket], at: float,
                  cfg: IntegrityConfig) -> BurstFigures:
    """The windows ending at `at` against the baselines before them (the review at `at` already counted)."""
    window_from = at - cfg.burst_window_s
    short = _sum(b for s, b in hours.items() if window_from < float(s) + HOUR_S and float(s) <= at)
    short_base, history_days = _baseline(days, window_from, cfg)
    rate = (short_base[0] + cfg.prior_reviews_per_day * cfg.prior_days) / (history_days + cfg.prior_days)
    expected = rate * cfg.burst_window_s / DAY_S
    long_from = at - cfg.mix_window_s
    long = _sum(b for s, b in days.items() if long_from < float(s) + DAY_S and float(s) <= at)
    long_base, _ = _baseline(days, long_from, cfg)
    long_days = round((at - (long_from - long_from % DAY_S)) / DAY_S, 2)
    mixes = []
    five, one, unverified = cfg.prior_five_star_share, cfg.prior_one_star_share, cfg.prior_unverified_share
    priors = (five, one, unverified, five * unverified, one * unverified)
    for index, prior in enumerate(priors, start=1):
        candidates = [_mix(window, base, index, prior, days_, cfg)
                      for window, base, days_ in ((short, short_base, cfg.burst_window_s / DAY_S),
                                                  (long, long_base, long_days))]
        mixes.append(max(candidates, key=lambda m: m.surprise))
    n = short[0]
    return BurstFigures(window_reviews=n, expected_reviews=round(expected, 3),
                        rate_surprise=_surprise(float(pdtrc(n - 1, expected))) if n else 0.0,
                        five=mixes[0], one=mixes[1], unverified=mixes[2], five_unverified=mixes[3],
                        one_unverified=mixes[4])


def _mix(window: _Counts, base: _Counts, index: int, prior: float,
         window_days: float, cfg: IntegrityConfig) -> MixFigures:
    baseline = (base[index] + prior * cfg.prior_mix_weight) / (base[0] + cfg.prior_mix_weight)
    count, n = window[index], window[0]
    surprise = _surprise(float(bdtrc(count - 1, n, baseline))) if count else 0.0
    return MixFigures(window_days, round(count / n, 4) if n else 0.0, round(baseline, 4), surprise)


def _surprise(tail: float) -> float:
    if tail <= 0.0:
        return _MAX_SURPRISE
    return round(min(_MAX_SURPRISE, max(0.0, -math.log10(tail))), 3)
