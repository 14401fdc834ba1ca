"""Burst: a product's review rate and mix in the current window against its own history, in event time.

Each product keeps hourly buckets of counts (`COUNTS`: reviews, 5-star, 1-star, suspect by their author's evidence,
and suspect at 5 and at 1 star) for the last day and daily ones for the weeks before: ~25 + ~37 small buckets,
whatever the traffic. At a review's time `at`:

- the rate: the reviews of the hours that overlap the last `burst_window_s` (a day) against the baseline's daily
  rate times the window's length, the baseline being the whole days, `baseline_span_s` of them at most, that end
  before the window; a prior of `prior_reviews_per_day`, weighted as `prior_days` of history, stands in for a
  product with little history, so a new product is neither silent nor bursting by default;
- the mix: the share of 5-star, of 1-star, of suspect reviews and of suspect 5-star (1-star) reviews, in the last
  day and in the last `mix_window_s` (a week, in whole days: a slow drip moves the week's mix and not the day's),
  each against the baseline before that window (with a prior share weighted as `prior_mix_weight` reviews). A
  review is suspect when its author's evidence alone reaches `suspect_points` (an unverified review from an account
  that never ordered, a brand-new account that buys and reviews at once...): organic traffic has few, and fewer at
  5 stars, while a campaign is made of them;
- each comparison is a tail probability, P(N >= window reviews) for a Poisson count with the expected mean and
  P(X >= window count) for a binomial with the baseline share, reported as a "surprise", -log10 of that
  probability: 2 means "once in a hundred windows", 6 "once in a million". A tail probability reads the same for a
  product with 2 reviews a day and one with 200, where a ratio of counts would not. Of the two mix windows the more
  surprising one is reported.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Final, NamedTuple

from scipy.special import bdtrc, pdtrc

from models.integrity.config import DAY_S, HOUR_S, IntegrityConfig

__all__ = ["COUNTS", "Buckets", "BurstFigures", "MixFigures", "add_to_buckets", "burst_figures"]

# Surprises are capped: past one in 10^30 the figure says nothing more, and float tails underflow.
_MAX_SURPRISE = 30.0


# What a bucket counts, in this order: a plain list of ints, which JSON keeps small and Python reads fast (a record
# per bucket costs ~0.3 µs per field read, and a window sums ~60 buckets per review). "Suspect": reviews whose
# author's evidence alone (`scoring.account_points`) reaches `suspect_points`, and those of them at 5 (or 1) stars:
# what a campaign concentrates on, and what organic traffic has little of.
COUNTS: Final = ("n", "five", "one", "suspect", "five_suspect", "one_suspect")
Buckets = Mapping[str, list[int]]


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
    suspect: MixFigures
    five_suspect: MixFigures
    one_suspect: MixFigures

    def suspect_like(self, rating: int | None) -> MixFigures:
        """The mix of suspect reviews like this one: at its star extreme (5 or 1), else all suspect ones."""
        return self.five_suspect if rating == 5 else self.one_suspect if rating == 1 else self.suspect


def _key(start: float) -> str:
    return str(int(start))


def _count(buckets: Buckets, key: str, rating: int | None, suspect: bool) -> list[int]:
    old = buckets.get(key) or [0] * len(COUNTS)
    return [old[0] + 1, old[1] + (rating == 5), old[2] + (rating == 1), old[3] + suspect,
            old[4] + (rating == 5 and suspect), old[5] + (rating == 1 and suspect)]


def add_to_buckets(hours: Buckets, days: Buckets, at: float, rating: int | None, suspect: bool,
                   cfg: IntegrityConfig) -> tuple[dict[str, list[int]], dict[str, list[int]]]:
    """New mappings with the review counted in its hour and its day; buckets too old to matter are dropped."""
    hour, day = at - at % HOUR_S, at - at % DAY_S
    newest_hour = max([hour, *(float(s) for s in hours)])
    newest_day = max([day, *(float(s) for s in days)])
    oldest_hour = newest_hour - cfg.burst_window_s - HOUR_S
    kept_hours = {s: b for s, b in hours.items() if float(s) > oldest_hour}
    oldest_day = newest_day - max(cfg.burst_window_s, cfg.mix_window_s) - cfg.baseline_span_s - 2 * DAY_S
    kept_days = {s: b for s, b in days.items() if float(s) >= oldest_day}
    if hour > oldest_hour:  # a review older than the window only feeds the baseline
        kept_hours[_key(hour)] = _count(hours, _key(hour), rating, suspect)
    kept_days[_key(day)] = _count(days, _key(day), rating, suspect)
    return kept_hours, kept_days


def burst_figures(hours: Buckets, days: Buckets, at: float, cfg: IntegrityConfig) -> BurstFigures:
    """The windows ending at `at` against the baselines before them (the review at `at` already counted)."""
    width = len(COUNTS)
    window_from, long_from = at - cfg.burst_window_s, at - cfg.mix_window_s
    short = [0] * width
    for start_s, bucket in hours.items():
        start = float(start_s)
        if window_from < start + HOUR_S and start <= at:
            _add(short, bucket)
    # One pass over the days: the week's window, and the baseline before the day's and before the week's window.
    short_end, long_end = window_from - window_from % DAY_S, long_from - long_from % DAY_S
    short_base, long, long_base = [0] * width, [0] * width, [0] * width
    first_day = short_end
    for start_s, bucket in days.items():
        start = float(start_s)
        if short_end - cfg.baseline_span_s <= start < short_end:
            _add(short_base, bucket)
            first_day = min(first_day, start)
        if long_from < start + DAY_S and start <= at:
            _add(long, bucket)
        elif long_end - cfg.baseline_span_s <= start < long_end:
            _add(long_base, bucket)
    history_days = (short_end - first_day) / DAY_S
    rate = (short_base[0] + cfg.prior_reviews_per_day * cfg.prior_days) / (history_days + cfg.prior_days)
    expected = rate * cfg.burst_window_s / DAY_S
    long_days = round((at - long_end) / DAY_S, 2)
    five, one, suspect = cfg.prior_five_star_share, cfg.prior_one_star_share, cfg.prior_suspect_share
    mixes = [max(_mix(short, short_base, index, prior, cfg.burst_window_s / DAY_S, cfg),
                 _mix(long, long_base, index, prior, long_days, cfg), key=lambda m: m.surprise)
             for index, prior in enumerate((five, one, suspect, five * suspect, one * suspect), start=1)]
    n = short[0]
    # A count at or below its expectation is no surprise: the tail is at least about one half.
    rate_surprise = _surprise(float(pdtrc(n - 1, expected))) if n > expected else 0.0
    return BurstFigures(window_reviews=n, expected_reviews=round(expected, 3), rate_surprise=rate_surprise,
                        five=mixes[0], one=mixes[1], suspect=mixes[2], five_suspect=mixes[3], one_suspect=mixes[4])


def _add(total: list[int], bucket: list[int]) -> None:
    for i, count in enumerate(bucket):
        total[i] += count


def _mix(window: list[int], base: list[int], index: int, prior: float, window_days: float,
         cfg: IntegrityConfig) -> MixFigures:
    baseline = (base[index] + prior * cfg.prior_mix_weight) / (base[0] + cfg.prior_mix_weight)
    count, n = window[index], window[0]
    surprise = _surprise(float(bdtrc(count - 1, n, baseline))) if count > n * baseline else 0.0
    return MixFigures(window_days, round(count / n, 4) if n else 0.0, round(baseline, 4), surprise)


def _surprise(tail: float) -> float:
    if tail <= 0.0:
        return _MAX_SURPRISE
    return round(min(_MAX_SURPRISE, max(0.0, -math.log10(tail))), 3)
