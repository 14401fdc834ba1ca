"""The row fold (models/user_row.py): a click folded into a user's row in place gives exactly the profile of
`fold_click` and the session of `observe`; a replay changes nothing; reviews fold like `fold_insight`."""

from __future__ import annotations

import random

import msgspec
import pytest

from models.click import ClickEvent
from models.profile import SourceRef, UserProfile, fold_click, fold_insight
from models.session import Session, SessionConfig, SessionState, observe
from models.user_row import (
    RowConfig,
    UserRow,
    fold_click_into_row,
    fold_insight_into_row,
    published_session_ids,
    remember_sessions,
)
from tests.unit.test_profile import make_insight, random_events

T0 = 1_700_000_000.0


def clicks_of_one_user(n: int, seed: int) -> list[ClickEvent]:
    rng = random.Random(seed)
    ts, clicks = T0, []
    for i in range(n):
        ts += rng.choice([5.0, 60.0, 900.0, 4000.0])  # some gaps longer than a session's
        kind = rng.choice(["view", "view", "search", "add_to_cart", "remove_from_cart", "purchase", "checkout"])
        fields: dict[str, object] = {"product_id": f"p{rng.randrange(9)}", "category": f"c{rng.randrange(5)}",
                                     "price": float(rng.randrange(1, 300))}
        if kind == "search":
            fields = {"query": "kettle"}
        elif kind == "purchase":
            fields["order_id"] = f"o{i % 4}"
        elif kind == "checkout":
            fields = {}
        jitter = rng.uniform(-1200, 0) if rng.random() < 0.1 else 0.0  # a late one now and then
        clicks.append(ClickEvent(event_id=f"e{i}", user_id="u1", type=kind, ts=ts + jitter, **fields))  # type: ignore[arg-type]
    return clicks


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_a_row_folds_clicks_exactly_like_the_profile_and_session_folds(seed: int) -> None:
    cfg = RowConfig(session=SessionConfig(gap_s=1800.0))
    row: UserRow | None = None
    profile: UserProfile | None = None
    state: SessionState | None = None
    closed_by_row: list[Session] = []
    closed_by_observe: list[Session] = []
    for offset, click in enumerate(clicks_of_one_user(300, seed)):
        source = SourceRef("clickstream", 2, offset)
        folded = fold_click_into_row(row, click, source, cfg)
        assert folded is not None
        row, closed = folded
        if closed is not None:
            closed_by_row.append(msgspec.structs.replace(closed))
        profile = fold_click(profile, click, source, cfg.profile).profile
        state, closed = observe(state, click, source, cfg.session)
        if closed is not None:
            closed_by_observe.append(closed)
        assert row.profile == profile and row.session == state
    assert closed_by_row == closed_by_observe and len(closed_by_row) > 5


def test_a_replayed_click_changes_nothing() -> None:
    clicks = clicks_of_one_user(40, seed=4)
    row: UserRow | None = None
    for offset, click in enumerate(clicks):
        folded = fold_click_into_row(row, click, SourceRef("clickstream", 0, offset))
        assert folded is not None
        row = folded[0]
    assert row is not None
    before = row.dumps()
    for offset, click in enumerate(clicks):
        assert fold_click_into_row(row, click, SourceRef("clickstream", 0, offset)) is None
    assert row.dumps() == before


def test_reviews_fold_like_fold_insight_and_a_review_published_twice_counts_once() -> None:
    row: UserRow | None = None
    profile: UserProfile | None = None
    for event_kind, event, source in random_events(120, seed=5):
        if event_kind == "insight":
            payload = event.to_dict()
            folded = fold_insight_into_row(row, payload, source)
            expected = fold_insight(profile, payload, source)
            assert (folded is None) == (not expected.changed)
        else:
            result = fold_click_into_row(row, event, source)
            folded = None if result is None else result[0]
            expected = fold_click(profile, event, source)
        if folded is not None:
            row = folded
        profile = expected.profile
        assert row is not None and row.profile == profile
    assert row is not None
    again = make_insight(row.profile.recent_review_ids[-1], user_id="u1").to_dict()
    assert fold_insight_into_row(row, again, SourceRef("review-insights", 9, 1)) is None


def test_an_event_of_another_user_is_refused() -> None:
    folded = fold_click_into_row(None, ClickEvent(event_id="e", user_id="u1", type="view", ts=T0),
                                 SourceRef("clickstream", 0, 0))
    assert folded is not None
    with pytest.raises(ValueError, match="u2"):
        fold_click_into_row(folded[0], ClickEvent(event_id="f", user_id="u2", type="view", ts=T0),
                            SourceRef("clickstream", 0, 1))


def test_the_stored_row_reads_back_equal() -> None:
    row: UserRow | None = None
    for offset, click in enumerate(clicks_of_one_user(50, seed=6)):
        folded = fold_click_into_row(row, click, SourceRef("clickstream", 1, offset))
        assert folded is not None
        row = folded[0]
    stored = msgspec.msgpack.encode(row)
    assert msgspec.msgpack.decode(stored, type=UserRow) == row


def test_published_sessions_are_remembered_once_and_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    import models.user_row

    monkeypatch.setattr(models.user_row, "MAX_REMEMBERED_KEYS", 3)
    row: UserRow | None = None
    closed: list[Session] = []
    for offset, ts in enumerate([T0, T0 + 4000, T0 + 8000, T0 + 12000, T0 + 16000]):
        folded = fold_click_into_row(row, ClickEvent(event_id=f"e{offset}", user_id="u1", type="view", ts=ts),
                                     SourceRef("clickstream", 0, offset))
        assert folded is not None
        row, session = folded
        if session is not None:
            closed.append(session)
            remember_sessions(row, [session, session])  # the same session twice counts once
    assert row is not None and len(closed) == 4
    assert published_session_ids(row) == [s.session_id for s in closed[-3:]]
