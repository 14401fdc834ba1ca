"""Browsing sessions by inactivity gap: the pure state machine behind the sessions of the profile fold.

A session is a run of one user's clicks with no silence longer than `gap_s` (30 min by default) in event time.
The worker keeps one small `SessionState` per user (in the user's row, models/user_row.py) and calls two functions
(or their in-place forms, `observe_in_place`, on a row it owns):

>>> state, closed = observe(state, click, SourceRef("clickstream", 0, 41))   # doctest: +SKIP
>>> state, closed = expire(state, now)                                        # doctest: +SKIP

`observe` folds a click; when the click comes more than the gap after the open session, that session is closed and
returned. `expire` closes a session nobody will extend any more (`now - end > gap_s`) — `close_due` says when — and
returns `state=None` once a closed state could be forgotten (a table of sessions alone would delete it then; the
worker keeps it in the user's row). Publish every closed `Session` keyed by its deterministic `session_id`: a replay
that closes it again produces the same key and the same content.

What `now` to pass to `expire`: the event-time watermark of the partition (the highest click `ts` seen, minus any
allowed lateness) keeps results reproducible and survives replays of old data. Wall-clock time works for live
traffic, but while a backlog is replayed it would close every session between two of its own clicks.

Late events (event time, not arrival order):
- a click within the gap before the open session's start or after its end joins it (start/end widen); so clicks
  that arrive out of order inside a session still land in it;
- a click more than the gap before the open session, or at or before `closed_end + gap_s` (the end of the session
  already published, plus the gap), would change or precede a session that is already out; sessions are final once
  published, so it is left out of sessions and only counted in `late_events` (the profile still counts it);
- a click more than the gap after the open session closes it and opens a new one.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

import msgspec

from models.click import ClickEvent
from models.profile import SourceRef, already_folded, note_folded
from models.structs import Record

__all__ = ["DEFAULT_SESSION_CONFIG", "Session", "SessionConfig", "SessionState", "close_due", "copy_state", "expire",
           "observe", "observe_in_place", "session_id_for", "session_key"]


@dataclass(frozen=True)
class SessionConfig:
    # The common web-analytics convention (Google Analytics' default session timeout).
    gap_s: float = 30 * 60.0
    # A closed state is kept this long after its session ended plus the gap, so late clicks are still recognised as
    # late instead of opening a bogus new session; then `expire` says it may be deleted.
    retain_closed_s: float = 30 * 60.0
    # Bounds a session's size: a crawler that views thousands of products must not grow a record without limit.
    max_products: int = 20

    def __post_init__(self) -> None:
        if self.gap_s <= 0 or self.retain_closed_s < 0 or self.max_products < 1:
            raise ValueError(f"need gap_s > 0, retain_closed_s >= 0, max_products >= 1; got {self}")


DEFAULT_SESSION_CONFIG: Final = SessionConfig()
# `expire` closes a session once `now` is strictly past the gap: a due time this much later is surely past it.
_PAST: Final = 0.001


class Session(Record):
    user_id: str
    # f"{user_id}:{start in integer milliseconds}": the same session always gets the same key.
    session_id: str
    start: float
    end: float
    duration_s: float
    events: int
    views: int
    searches: int
    # add_to_cart events.
    carts: int
    purchases: int
    # True when the session has a purchase.
    converted: bool
    # Distinct product ids in arrival order, at most `max_products`.
    products: list[str]


class SessionState(Record):
    user_id: str
    # The open session (its figures so far), or None between sessions.
    current: Session | None
    # End of the last session that was closed (published); clicks up to closed_end + gap are late.
    closed_end: float | None
    # Clicks left out of every session because they came too late (see the module docs).
    late_events: int
    folded_offsets: dict[str, int]


def session_id_for(user_id: str, start: float) -> str:
    # Integer milliseconds, not a float repr, so producers and consumers in any language agree on the key.
    return session_key(user_id, round(start * 1000))


def session_key(user_id: str, start_ms: int) -> str:
    """The `session_id` of the user's session that started at `start_ms` (Unix milliseconds)."""
    return f"{user_id}:{start_ms}"


def observe(
    state: SessionState | None,
    click: ClickEvent,
    source: SourceRef | None = None,
    cfg: SessionConfig = DEFAULT_SESSION_CONFIG,
) -> tuple[SessionState, Session | None]:
    """Fold one click; return the new state and the session this click closed, if any. Inputs are not modified.

    With `source`, a click at or below the highest offset already folded from its partition is a replay and
    changes nothing.
    """
    if state is None:
        state = SessionState(user_id=click.user_id, current=None, closed_end=None, late_events=0, folded_offsets={})
    elif state.user_id != click.user_id:
        raise ValueError(f"click of user {click.user_id!r} observed in the session state of {state.user_id!r}")
    if source is not None and already_folded(state.folded_offsets, source):
        return state, None
    new_state = copy_state(state)
    if source is not None:
        note_folded(new_state.folded_offsets, source)
    return new_state, observe_in_place(new_state, click, cfg)


def observe_in_place(state: SessionState, click: ClickEvent, cfg: SessionConfig = DEFAULT_SESSION_CONFIG
                     ) -> Session | None:
    """The rules of `observe`, changing `state` (and its open session) in place; for a caller that owns the state
    and has checked that the click is new and the user's. Returns the session the click closed, if any."""
    ts = click.ts
    current, closed_end = state.current, state.closed_end
    if closed_end is not None and ts <= closed_end + cfg.gap_s:
        state.late_events += 1
    elif current is None:
        state.current = _start(click, cfg)
    elif ts > current.end + cfg.gap_s:
        state.closed_end = current.end
        state.current = _start(click, cfg)
        return current
    elif ts < current.start - cfg.gap_s:
        state.late_events += 1
    else:
        _extend(current, click, cfg)
    return None


def expire(
    state: SessionState, now: float, cfg: SessionConfig = DEFAULT_SESSION_CONFIG
) -> tuple[SessionState | None, Session | None]:
    """Close the open session if `now` is more than the gap after its end; the input state is not modified.

    Returns (new state, closed session or None). A new state of None means the user has no open session and the
    retention time has passed: delete the table entry.
    """
    current = state.current
    if current is not None and now - current.end > cfg.gap_s:
        closed_state = SessionState(user_id=state.user_id, current=None, closed_end=current.end,
                                    late_events=state.late_events, folded_offsets=dict(state.folded_offsets))
        return closed_state, current
    if current is None and (state.closed_end is None or now - state.closed_end > cfg.gap_s + cfg.retain_closed_s):
        return None, None
    return state, None


def close_due(state: SessionState, cfg: SessionConfig = DEFAULT_SESSION_CONFIG) -> float | None:
    """When `expire` will close the open session if no click comes first; None without an open session."""
    if state.current is None:
        return None
    return state.current.end + cfg.gap_s + _PAST


def copy_state(state: SessionState) -> SessionState:
    """A copy that `observe_in_place` may change without touching `state`."""
    current = state.current
    if current is not None:
        current = msgspec.structs.replace(current, products=list(current.products))
    return msgspec.structs.replace(state, current=current, folded_offsets=dict(state.folded_offsets))


def _start(click: ClickEvent, cfg: SessionConfig) -> Session:
    # Positional, in declaration order (user_id, session_id, start, end, duration_s, events, views, searches, carts,
    # purchases, converted, products): several times faster than by keyword, once per session.
    session = Session(click.user_id, session_id_for(click.user_id, click.ts), click.ts, click.ts, 0.0, 0, 0, 0, 0, 0,
                      False, [])
    _extend(session, click, cfg)
    return session


def _extend(session: Session, click: ClickEvent, cfg: SessionConfig) -> None:
    ts, kind = click.ts, click.type
    if ts < session.start:
        session.start = ts
        session.session_id = session_id_for(session.user_id, ts)
    if ts > session.end:
        session.end = ts
    session.duration_s = session.end - session.start
    session.events += 1
    if kind == "view":
        session.views += 1
    elif kind == "search":
        session.searches += 1
    elif kind == "add_to_cart":
        session.carts += 1
    elif kind == "purchase":
        session.purchases += 1
        session.converted = True
    product_id, products = click.product_id, session.products
    if product_id is not None and product_id not in products and len(products) < cfg.max_products:
        products.append(product_id)
