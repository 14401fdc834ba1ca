"""When a changed profile is published (models/publish_policy.py): news downstream acts on at once; a change of
favourite interests alone at most once per `interest_every_s` of the user's event time, or when the session closes."""

from __future__ import annotations

import pytest

from models.profile import UserProfile
from models.publish_policy import PublishPolicy, publish_pending, should_publish
from models.user_row import UserRow

T0 = 1_700_000_000.0
POLICY = PublishPolicy(interest_every_s=600.0)


def row_seen_at(at: float, published_at: float | None = T0) -> UserRow:
    profile = UserProfile.empty("u1", T0)
    profile.last_seen = at
    return UserRow(profile=profile, published_at=published_at)


@pytest.mark.parametrize("reason", ["first_seen", "new_order", "segment_change", "cart_opened", "cart_closed",
                                    "new_review", "price_band_change", "consent_change"])
def test_news_goes_out_at_once_even_right_after_a_publication(reason: str) -> None:
    row = row_seen_at(T0 + 1)
    assert should_publish(row, (reason, "interest_change"), POLICY)
    assert (row.published_at, row.unpublished) == (T0 + 1, False)


def test_an_interest_change_waits_for_the_interval_of_event_time_then_goes_with_the_next_change() -> None:
    row = row_seen_at(T0 + 599)
    assert not should_publish(row, ("interest_change",), POLICY) and row.unpublished
    row.profile.last_seen = T0 + 599.5
    assert not should_publish(row, (), POLICY), "a routine change inside the interval: still waiting"
    row.profile.last_seen = T0 + 600
    assert should_publish(row, (), POLICY), "the next change after the interval takes the waiting one along"
    assert (row.published_at, row.unpublished) == (T0 + 600, False)
    assert not should_publish(row, (), POLICY), "nothing waits any more"


def test_a_first_interest_change_of_a_row_never_published_goes_at_once() -> None:
    row = row_seen_at(T0, published_at=None)
    assert should_publish(row, ("interest_change",), POLICY)


def test_a_waiting_change_goes_out_when_the_session_closes() -> None:
    row = row_seen_at(T0 + 10)
    should_publish(row, ("interest_change",), POLICY)
    assert publish_pending(row) and not row.unpublished and row.published_at == T0 + 10
    assert not publish_pending(row)


def test_zero_publishes_every_change() -> None:
    row = row_seen_at(T0)
    assert should_publish(row, ("interest_change",), PublishPolicy(interest_every_s=0.0))
    with pytest.raises(ValueError, match="interest_every_s"):
        PublishPolicy(interest_every_s=-1.0)
