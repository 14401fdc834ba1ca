"""Account context: what the author's partition knows about them when their review arrives, and what a flagged
review of theirs says about their others.

The profile agent (partitioned by user) keeps one `AccountState` per user in a table beside the profiles, keyed by
user_id, and for every NEW review insight of the user calls

>>> update = fold_account_review(accounts.get(user_id), profile, review_facts(insight), source)  # doctest: +SKIP
>>> if update.evidence is not None: forward(update.evidence)     # to the product's partition   # doctest: +SKIP

`AccountEvidence` is what travels on with the review: the account's age at review time (from the profile's
`first_seen`, the first event of the user the worker saw), whether the profile shows a purchase of the product at
or before the review (`models.profile.bought_before`), the account's reviews in the last day and week, the share of
its rated reviews at 1 or 5 stars, its earlier reviews that had no purchase behind them (all, and in the week), and
how many of its reviews of the week before were flagged.

An account caught once taints its other reviews: when the product stage flags a review it emits an `AccountFlag`
(keyed by user), and

>>> outcome = flag_account(accounts.get(flag.user_id), flag)     # doctest: +SKIP
>>> for taint in outcome.taints: forward(taint)                  # to each review's product partition

marks the review and sends a `ReviewTaint` to the product of each other review of the account within
`taint_span_s` (once per review); the product stage adds the `account_flagged` signal to it (`apply_taint`).

Replays: the state remembers the highest offset folded per source partition and its latest reviews, like the
profile, so a replayed insight gives `evidence=None` and changes nothing; a flag seen twice taints nothing twice.
Bounded: 2 x 20 times, 10 recent reviews, a few counters (~1.5 KB).
"""

from __future__ import annotations

import bisect
from typing import NamedTuple

import faust

from models.integrity.config import DAY_S, DEFAULT_INTEGRITY_CONFIG, IntegrityConfig
from models.integrity.facts import ReviewFacts
from models.profile import SourceRef, UserProfile, already_folded, bought_before, remember_offset

__all__ = [
    "AccountEvidence",
    "AccountFlag",
    "AccountFlagOutcome",
    "AccountReview",
    "AccountState",
    "AccountUpdate",
    "ReviewTaint",
    "flag_account",
    "fold_account_review",
]


class AccountReview(faust.Record, include_metadata=False, serializer="json"):
    review_id: str
    product_id: str
    at: float
    flagged: bool
    tainted: bool


class AccountState(faust.Record, include_metadata=False, serializer="json"):
    """One user's review history as far as integrity needs it (table `integrity_accounts`, key user_id)."""

    user_id: str
    # Event times of the latest reviews, oldest first, at most `account_review_times`.
    review_times: list[float]
    reviews: int
    # Reviews with a star rating, and those at 1 or 5 stars.
    rated: int
    extreme: int
    # Reviews with no purchase of the product at or before them, and the event times of the latest of those.
    unverified: int
    unverified_times: list[float]
    # Event times of the account's flagged reviews, oldest first, at most `account_review_times`.
    flagged_times: list[float]
    # The latest `account_recent_ids` reviews, in arrival order.
    recent: list[AccountReview]
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
    # The account's earlier reviews (before this one), the share of them with no purchase behind them, and how many
    # of those unverified ones came within the week before this one.
    prior_reviews: int
    prior_unverified_share: float | None
    prior_unverified_7d: int
    # The account's reviews flagged within `taint_span_s` before this one.
    flagged_recently: int

    @property
    def verified(self) -> bool:
        return self.purchased_at is not None


class AccountUpdate(NamedTuple):
    state: AccountState
    # None when the review was already folded (a replay): there is nothing to assess again.
    evidence: AccountEvidence | None


class AccountFlag(faust.Record, include_metadata=False, serializer="json"):
    """Review `review_id` of `user_id` was flagged (by the product stage); on its way to the user's partition."""

    user_id: str
    review_id: str
    product_id: str
    # When the flagged review was written.
    at: float


class ReviewTaint(faust.Record, include_metadata=False, serializer="json"):
    """Another review of the same account was flagged; on its way to `product_id`'s partition."""

    review_id: str
    product_id: str
    user_id: str
    flagged_review_id: str
    flagged_product_id: str
    flagged_at: float


class AccountFlagOutcome(NamedTuple):
    state: AccountState | None
    taints: list[ReviewTaint]


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
        if already_folded(state.folded_offsets, source) or any(r.review_id == review.review_id for r in state.recent):
            return AccountUpdate(state, None)
    purchased_at = bought_before(profile, review.product_id, review.at)
    times = _inserted(state.review_times if state else [], review.at, cfg)
    unverified_times = list(state.unverified_times) if state else []
    prior_unverified_7d = _within(unverified_times, review.at - 1e-6, 7 * DAY_S)  # earlier ones, not this one
    if purchased_at is None:
        unverified_times = _inserted(unverified_times, review.at, cfg)
    flagged_times = list(state.flagged_times) if state else []
    prior = state.reviews if state else 0
    prior_unverified = state.unverified if state else 0
    rated = (state.rated if state else 0) + (review.rating is not None)
    extreme = (state.extreme if state else 0) + (review.rating in (1, 5))
    first_seen = min(profile.first_seen, review.at) if profile is not None else review.at
    mine = AccountReview(review_id=review.review_id, product_id=review.product_id, at=review.at, flagged=False,
                         tainted=False)
    new_state = AccountState(
        user_id=review.user_id, review_times=times, reviews=prior + 1, rated=rated, extreme=extreme,
        unverified=prior_unverified + (purchased_at is None), unverified_times=unverified_times,
        flagged_times=flagged_times, recent=[*(state.recent if state else []), mine][-cfg.account_recent_ids:],
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
        prior_unverified_7d=prior_unverified_7d,
        flagged_recently=_within(flagged_times, review.at, cfg.taint_span_s),
    )
    return AccountUpdate(new_state, evidence)


def flag_account(state: AccountState | None, flag: AccountFlag,
                 cfg: IntegrityConfig = DEFAULT_INTEGRITY_CONFIG) -> AccountFlagOutcome:
    """Note that one of the account's reviews was flagged, and taint its other reviews of `taint_span_s` around it
    that are neither flagged nor tainted yet. The input state is not modified; a flag seen before changes nothing."""
    if state is None:
        return AccountFlagOutcome(None, [])
    if state.user_id != flag.user_id:
        raise ValueError(f"flag of review {flag.review_id!r} of user {flag.user_id!r} applied to the account state of "
                         f"{state.user_id!r}")
    if any(r.review_id == flag.review_id and r.flagged for r in state.recent):
        return AccountFlagOutcome(state, [])
    recent: list[AccountReview] = []
    taints = []
    for r in state.recent:
        if r.review_id == flag.review_id:
            r = r.derive(flagged=True, tainted=True)
        elif not (r.flagged or r.tainted) and abs(r.at - flag.at) <= cfg.taint_span_s:
            r = r.derive(tainted=True)
            taints.append(ReviewTaint(review_id=r.review_id, product_id=r.product_id, user_id=state.user_id,
                                      flagged_review_id=flag.review_id, flagged_product_id=flag.product_id,
                                      flagged_at=flag.at))
        recent.append(r)
    return AccountFlagOutcome(state.derive(recent=recent, flagged_times=_inserted(state.flagged_times, flag.at, cfg)),
                              taints)


def _inserted(times: list[float], at: float, cfg: IntegrityConfig) -> list[float]:
    kept = list(times)
    bisect.insort(kept, at)
    return kept[-cfg.account_review_times:]


def _within(times: list[float], at: float, span_s: float) -> int:
    """Times in (at - span_s, at]: later ones (arrived out of order) do not count against this one."""
    return bisect.bisect_right(times, at) - bisect.bisect_right(times, at - span_s)
