"""The user stage: account evidence from the profile and the account's history, replays, flags and taints."""

from __future__ import annotations

from typing import Any

import pytest

from models.click import ClickEvent
from models.integrity import (
    AccountEvidence,
    AccountFlag,
    AccountState,
    IntegrityConfig,
    flag_account,
    fold_account_review,
)
from models.profile import SourceRef, UserProfile, fold_click
from tests.unit.integrity_factories import DAY, HOUR, T0, facts


def profile_with(*clicks: tuple[str, float, str | None]) -> UserProfile:
    profile = None
    for offset, (kind, ts, product) in enumerate(clicks):
        profile = fold_click(profile, ClickEvent(event_id=f"e{offset}", user_id="u1", type=kind, ts=ts,
                                                 product_id=product), SourceRef("clickstream", 0, offset)).profile
    assert profile is not None
    return profile


class Account:
    """One user's reviews folded in order, each at its own offset."""

    def __init__(self, cfg: IntegrityConfig | None = None) -> None:
        self.state: AccountState | None = None
        self.offset = 0
        self.cfg = cfg or IntegrityConfig()

    def review(self, review_id: str, at: float, profile: UserProfile | None = None,
               **fields: Any) -> AccountEvidence | None:
        self.offset += 1
        update = fold_account_review(self.state, profile, facts(review_id, at=at, **fields),
                                     SourceRef("profile-events", 0, self.offset), self.cfg)
        self.state = update.state
        return update.evidence


def test_evidence_reads_age_and_purchase_from_the_profile() -> None:
    profile = profile_with(("view", T0 - 30 * DAY, "p1"), ("purchase", T0 - 2 * DAY, "p1"))
    e = Account().review("r1", T0, profile, product_id="p1")
    assert e is not None and e.account_age_s == 30 * DAY and e.purchased_at == T0 - 2 * DAY and e.verified
    assert e.orders == 1
    other = Account().review("r2", T0, profile, product_id="p2")
    assert other is not None and not other.verified
    # Bought after the review: not a purchase behind it.
    late = Account().review("r3", T0 - 3 * DAY, profile, product_id="p1")
    assert late is not None and late.purchased_at is None


def test_a_review_that_is_the_accounts_first_event_has_age_zero() -> None:
    e = Account().review("r1", T0, None)
    assert e is not None and e.account_age_s == 0.0 and e.orders == 0 and e.purchased_at is None


def test_review_counts_by_day_and_week_and_the_extreme_share() -> None:
    account = Account()
    for i, (at, rating) in enumerate([(T0 - 8 * DAY, 3), (T0 - 3 * DAY, 5), (T0 - 2 * HOUR, 1), (T0, 5)]):
        e = account.review(f"r{i}", at, rating=rating)
    assert e is not None
    assert (e.reviews_1d, e.reviews_7d, e.reviews) == (2, 3, 4)
    assert e.extreme_share == 0.75 and e.prior_reviews == 3
    # Every earlier review was unverified (no profile): all-time share 1, two of them in the week before.
    assert (e.prior_unverified_share, e.prior_unverified_7d) == (1.0, 2)


def test_a_replayed_review_gives_no_evidence_and_changes_nothing() -> None:
    account = Account()
    account.review("r1", T0)
    state = account.state
    assert state is not None
    again = fold_account_review(state, None, facts("r1", at=T0), SourceRef("profile-events", 0, 1))
    assert again.evidence is None and again.state is state
    # The same review published twice (at a new offset) is recognised by its id.
    twice = fold_account_review(state, None, facts("r1", at=T0), SourceRef("profile-events", 0, 99))
    assert twice.evidence is None and twice.state is state


def test_a_review_of_another_user_is_refused() -> None:
    account = Account()
    account.review("r1", T0)
    with pytest.raises(ValueError, match="'u2' folded into the account state of 'u1'"):
        fold_account_review(account.state, None, facts("r2", user_id="u2"), SourceRef("t", 0, 5))


def test_the_account_state_stays_bounded() -> None:
    account = Account()
    for i in range(200):
        account.review(f"review-{i:012d}", T0 + i * HOUR, product_id=f"product-{i:08d}")
    state = account.state
    assert state is not None and state.reviews == 200
    assert len(state.review_times) == len(state.unverified_times) == 20 and len(state.recent) == 10
    assert len(state.dumps()) < 2_000


def test_a_flag_taints_the_accounts_other_reviews_of_the_week_once() -> None:
    account = Account()
    for i, at in enumerate([T0 - 10 * DAY, T0 - DAY, T0, T0 + 2 * DAY]):
        account.review(f"r{i}", at, product_id=f"p{i}")
    outcome = flag_account(account.state, AccountFlag(user_id="u1", review_id="r2", product_id="p2", at=T0))
    assert [(t.review_id, t.product_id, t.flagged_review_id) for t in outcome.taints] == [
        ("r1", "p1", "r2"), ("r3", "p3", "r2")]  # r0 is more than a week before
    assert outcome.state is not None and outcome.state.flagged_times == [T0]
    # The same flag again, or a flag of a tainted review, taints nothing twice.
    assert flag_account(outcome.state, AccountFlag(user_id="u1", review_id="r2", product_id="p2", at=T0)).taints == []
    second = flag_account(outcome.state, AccountFlag(user_id="u1", review_id="r3", product_id="p3", at=T0 + 2 * DAY))
    assert second.taints == []
    # The account's next review carries the flag as evidence.
    account.state = second.state
    e = account.review("r4", T0 + 3 * DAY)
    assert e is not None and e.flagged_recently == 2
    assert flag_account(None, AccountFlag(user_id="u9", review_id="x", product_id="p", at=T0)).taints == []
