"""Account context: what the author's partition knows about them when their review arrives.

The profile agent (partitioned by user) keeps one `AccountState` per user in a table beside the profiles, keyed by
user_id, and for every NEW review insight of the user calls

>>> update = fold_account_review(accounts.get(user_id), profile, review_facts(insight), source)  # doctest: +SKIP
>>> if update.evidence is not None: forward(update.evidence)     # to the product's partition   # doctest: +SKIP

`AccountEvidence` is what travels on with the review: the account's age at review time (from the profile's
`first_seen`, the first event of the user the worker saw), whether the profile shows a purchase of the product at
or before the review (`models.profile.bought_before`), the account's reviews in the last day and week, the share of
its rated reviews at 1 or 5 stars, and the share of its earlier reviews that had no purchase behind them.

Replays: the state remembers the highest offset folded per source partition and its latest review ids, like the
profile, so a replayed insight gives `evidence=None` and changes nothing. Bounded: 20 review times, 10 ids, a few
counters (~0.5 KB).
"""

from __future__ import annotations

import bisect
from typing import NamedTuple

import faust

from models.integrity.config import DAY_S, DEFAULT_INTEGRITY_CONFIG, IntegrityConfig
from models.integrity.facts import ReviewFacts
from models.profile import SourceRef, UserProfile, already_folded, bought_before, remember_offset

__all__ = ["AccountEvidence", "AccountState", "AccountUpdate", "fold_account_review"]


class AccountState(faust.Record, include_metadata=False, serializer="json"):
    """One user's review history as far as integrity needs it (table `integrity_accounts`, key user_id)."""

    user_id: str
    # Event times of the latest reviews, oldest first, at most `account_review_times`.
    review_times: list[float]
    reviews: int
    # Reviews with a star rating, and those at 1 or 5 stars.
    rated: int
    extreme: int
    # Reviews with no purchase of the product at or before them.
    unverified: int
    recent_review_ids: list[str]
    folded_offsets: dict[str, int]


class AccountEvidence(faust.Record, include_metadata=False, serializer="json"):
    """The author's side of one review, computed on the user's partition and forwarded with the review."""

    user_id: str
    # Review time minus the first event of the user seen (0 when the review is the first).
    account_age_s: float
    # First purchase of the reviewed product at or before the review (event time); None: no purchase known.
    purchased_at: float | None
    orders: int
    # Reviews by the account within a day and a week up to this one, this one included.
    reviews_1d: int
    reviews_7d: int
    # All reviews of the account, this one included, and the share of the rated ones at 1 or 5 stars.
    reviews: int
    extreme_share: float | None
    # The account's earlier reviews (before this one), and the share of them with no purchase behind them.
    prior_reviews: int
    prior_unverified_share: float | None

    @property
    def verified(self) -> bool:
        return self.purchased_at is not None


class AccountUpdate(NamedTuple):
    state: AccountState
    # None when the review was already folded (a replay): there is nothing to assess again.
    evidence: AccountEvidence | None


def fold_account_review(
    state: AccountState | None,
    profile: UserProfile | None,
    review: ReviewFacts,
    source: SourceRef,
    cfg: IntegrityConfig = DEFAULT_INTEGRITY_CONFIG,
) -> AccountUpdate:
    """Fold one review into its author's state and say what the account looked like when it was written.

    `profile` is the author's profile with the review's insight folded (or not yet: `first_seen` only differs when
    the review is the user's first event, and the age is 0 either way). The input state is not modified.
    """
    if state is not None:
        if state.user_id != review.user_id:
            raise ValueError(f"review {review.review_id!r} of user {review.user_id!r} folded into the account state "
                             f"of {state.user_id!r}")
        if already_folded(state.folded_offsets, source) or review.review_id in state.recent_review_ids:
            return AccountUpdate(state, None)
    purchased_at = bought_before(profile, review.product_id, review.at)
    times = list(state.review_times) if state else []
    bisect.insort(times, review.at)
    times = times[-cfg.account_review_times:]
    prior = state.reviews if state else 0
    prior_unverified = state.unverified if state else 0
    rated = (state.rated if state else 0) + (review.rating is not None)
    extreme = (state.extreme if state else 0) + (review.rating in (1, 5))
    first_seen = min(profile.first_seen, review.at) if profile is not None else review.at
    new_state = AccountState(
        user_id=review.user_id,
        review_times=times,
        reviews=prior + 1,
        rated=rated,
        extreme=extreme,
        unverified=prior_unverified + (purchased_at is None),
        recent_review_ids=[*(state.recent_review_ids if state else []), review.review_id][-cfg.account_recent_ids:],
        folded_offsets=remember_offset(state.folded_offsets if state else {}, source),
    )
    evidence = AccountEvidence(
        user_id=review.user_id,
        account_age_s=max(0.0, review.at - first_seen),
        purchased_at=purchased_at,
        orders=profile.orders if profile is not None else 0,
        reviews_1d=_within(times, review.at, DAY_S),
        reviews_7d=_within(times, review.at, 7 * DAY_S),
        reviews=prior + 1,
        extreme_share=round(extreme / rated, 4) if rated else None,
        prior_reviews=prior,
        prior_unverified_share=round(prior_unverified / prior, 4) if prior else None,
    )
    return AccountUpdate(new_state, evidence)


def _within(times: list[float], at: float, span_s: float) -> int:
    """Review times in (at - span_s, at]: later reviews (arrived out of order) do not count against this one."""
    return bisect.bisect_right(times, at) - bisect.bisect_right(times, at - span_s)
