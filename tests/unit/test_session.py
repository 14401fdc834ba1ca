"""Sessions by inactivity gap, driven by explicit event times and an explicit `now` for the timer."""

from __future__ import annotations

from typing import Any

import pytest

from models.click import ClickEvent
from models.profile import SourceRef
from models.session import (
    DEFAULT_SESSION_CONFIG,
    Session,
    SessionConfig,
    SessionState,
    close_due,
    expire,
    observe,
    session_id_for,
)

T0 = 1_700_000_000.0
GAP = 30 * 60.0


def click(ts: float, type: str = "view", user_id: str = "u1", **fields: Any) -> ClickEvent:
    return ClickEvent(event_id=f"e{ts}", user_id=user_id, type=type, ts=ts, **fields)


def run(clicks: list[ClickEvent], state: SessionState | None = None,
        cfg: SessionConfig = DEFAULT_SESSION_CONFIG) -> tuple[SessionState, list[Session]]:
    """Observe clicks at the next offsets of clickstream partition 0 (offset 0 onward for a fresh state)."""
    closed = []
    first = 0 if state is None else state.folded_offsets.get("clickstream:0", -1) + 1
    for i, c in enumerate(clicks, start=first):
        state, done = observe(state, c, SourceRef("clickstream", 0, i), cfg)
        if done is not None:
            closed.append(done)
    assert state is not None
    return state, closed


def test_clicks_within_the_gap_form_one_session_with_its_figures() -> None:
    state, closed = run([
        click(T0, "search", query="kettle"),
        click(T0 + 60, "view", product_id="p1"),
        click(T0 + 120, "view", product_id="p2"),
        click(T0 + 130, "view", product_id="p1"),
        click(T0 + 200, "add_to_cart", product_id="p2"),
        click(T0 + 300, "purchase", order_id="o1", price=10.0),
    ])
    assert closed == []
    s = state.current
    assert s is not None
    assert (s.start, s.end, s.duration_s, s.events) == (T0, T0 + 300, 300.0, 6)
    assert (s.views, s.searches, s.carts, s.purchases, s.converted) == (3, 1, 1, 1, True)
    assert s.products == ["p1", "p2"]
    assert s.session_id == "u1:1700000000000"


def test_a_click_after_the_gap_closes_the_session_and_opens_the_next() -> None:
    state, closed = run([click(T0), click(T0 + GAP), click(T0 + 2 * GAP + 0.001)])
    assert len(closed) == 1
    assert (closed[0].start, closed[0].end, closed[0].events, closed[0].converted) == (T0, T0 + GAP, 2, False)
    assert state.current is not None and state.current.start == T0 + 2 * GAP + 0.001
    assert state.closed_end == T0 + GAP


def test_out_of_order_clicks_within_the_gap_land_in_the_session() -> None:
    state, closed = run([click(T0 + 600), click(T0 + 100), click(T0 + 600 - GAP), click(T0 + 900)])
    assert closed == []
    assert state.current is not None
    assert (state.current.start, state.current.end, state.current.events) == (T0 + 600 - GAP, T0 + 900, 4)
    # The id follows the final start, so it is the same however the clicks arrived.
    assert state.current.session_id == session_id_for("u1", T0 + 600 - GAP)


def test_clicks_too_late_for_any_open_session_are_counted_and_left_out() -> None:
    state, closed = run([click(T0), click(T0 + 2 * GAP)])  # the second closes [T0, T0]
    assert len(closed) == 1
    state, more = run([click(T0 + 10)], state)  # belongs to the published session: sessions are final
    assert more == [] and state.late_events == 1
    state, more = run([click(T0 + 2 * GAP - GAP - 1)], state)  # more than the gap before the open session
    assert more == [] and state.late_events == 2
    assert state.current is not None and state.current.events == 1


def test_a_click_right_after_a_published_session_is_late_not_a_new_session() -> None:
    open_state, _ = run([click(T0)])
    state, _ = expire(open_state, now=T0 + GAP + 1)
    assert state is not None and state.current is None and state.closed_end == T0
    state, _ = run([click(T0 + GAP)], state)  # within the gap of the published session
    assert state.current is None and state.late_events == 1
    state, _ = run([click(T0 + GAP + 0.5)], state)
    assert state.current is not None and state.current.start == T0 + GAP + 0.5


def test_expire_closes_only_after_the_gap_and_forgets_after_retention() -> None:
    state, _ = run([click(T0), click(T0 + 100, "purchase", order_id="o", price=1.0)])
    assert expire(state, T0 + 100 + GAP) == (state, None)  # exactly the gap: not yet
    closed_state, session = expire(state, T0 + 100 + GAP + 1)
    assert session is not None and session.converted and session.session_id == "u1:1700000000000"
    assert closed_state is not None and closed_state.current is None
    assert expire(closed_state, T0 + 100 + 2 * GAP) == (closed_state, None)  # retention not over
    assert expire(closed_state, T0 + 100 + 2 * GAP + 1) == (None, None)  # delete the table entry


def test_replayed_clicks_change_nothing_and_a_replay_republishes_the_same_session() -> None:
    clicks = [click(T0), click(T0 + 60), click(T0 + 3 * GAP)]
    state, closed = run(clicks)
    again = state
    for i, c in enumerate(clicks):
        again, closed_again = observe(again, c, SourceRef("clickstream", 0, i))
        assert again is state and closed_again is None
    # Lost table state (no changelog yet): the replay closes the same session with the same key and figures.
    _, from_scratch = run(clicks)
    assert from_scratch == closed


def test_inputs_are_not_modified_and_other_users_are_refused() -> None:
    state, _ = run([click(T0)])
    before = state.dumps()
    observe(state, click(T0 + 10, product_id="p"), SourceRef("clickstream", 0, 9))
    expire(state, T0 + 10 * GAP)
    assert state.dumps() == before
    with pytest.raises(ValueError, match="u2"):
        observe(state, click(T0, user_id="u2"))


def test_products_are_bounded_and_the_gap_is_configurable() -> None:
    cfg = SessionConfig(gap_s=60.0, max_products=2)
    _, closed = run([click(T0 + i, product_id=f"p{i}") for i in range(5)] + [click(T0 + 200)], cfg=cfg)
    assert closed[0].products == ["p0", "p1"] and closed[0].events == 5
    with pytest.raises(ValueError):
        SessionConfig(gap_s=0)


def test_observe_without_a_source_still_works() -> None:
    state, closed = observe(None, click(T0))
    state, closed = observe(state, click(T0))  # no offsets: a duplicate cannot be recognised and counts
    assert closed is None and state.current is not None and state.current.events == 2
    assert state.folded_offsets == {}


def test_close_due_is_just_past_the_gap_after_the_open_session_and_none_once_closed() -> None:
    state, _ = run([click(T0), click(T0 + 100)])
    due = close_due(state)
    assert due is not None and due > T0 + 100 + GAP
    assert expire(state, due)[1] is not None, "at the due time expire closes the session"
    assert expire(state, T0 + 100 + GAP)[1] is None
    closed_state, _ = expire(state, due)
    assert closed_state is not None and close_due(closed_state) is None
