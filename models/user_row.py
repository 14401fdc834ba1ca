"""`UserRow`: everything the profile fold keeps about one user in one table row — the profile, the browsing session,
and when the profile was last published — and the folds of a click and of a review into it.

>>> row, closed = fold_click_into_row(None, click, SourceRef("clickstream", 0, 41))      # doctest: +SKIP
>>> folded = fold_click_into_row(row, click, SourceRef("clickstream", 0, 41))           # doctest: +SKIP
>>> folded is None                                                                      # doctest: +SKIP
True

Why one row: a click changes the profile and the session together, so keeping them apart cost two table reads, two
writes and two changelog records per click. One row also makes the replay rule one check: the profile's
`folded_offsets` (highest offset folded per source partition) covers the session as well. The session state keeps
its own `folded_offsets` too (the clicks it observed), because its shape is a contract (`session.schema.json`
`$defs/SessionState`, in the `/profiles/<id>/` answer).

Two things that had rows of their own live here too, because the row is written anyway when they change:
- the state of a closed session stays (its `closed_end` keeps telling late clicks from a new session); a table of
  sessions deleted it `retain_closed_s` after the close to stay small — a second write per session — and a row
  that exists anyway does not need that;
- the start times of the sessions published about the user (`published_sessions`), which an erasure turns into
  tombstones of their `session_id`s; they used to be one more table write per closed session.

The folds change the row in place: the caller owns it (read from the table for this batch of events) and writes it
back once. Like `models.profile`, they read no clock and do no I/O.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Final

import msgspec

from models.click import ClickEvent
from models.privacy import MAX_REMEMBERED_KEYS
from models.profile import (
    DEFAULT_CONFIG,
    ProfileConfig,
    SourceRef,
    UserProfile,
    already_folded,
    apply_click,
    apply_insight,
    insight_facts,
    note_folded,
)
from models.session import DEFAULT_SESSION_CONFIG, Session, SessionConfig, SessionState, observe_in_place, session_key
from models.structs import Record

__all__ = ["DEFAULT_ROW_CONFIG", "RowConfig", "UserRow", "fold_click_into_row", "fold_insight_into_row",
           "published_session_ids", "remember_sessions"]


@dataclass(frozen=True)
class RowConfig:
    profile: ProfileConfig = field(default_factory=ProfileConfig)
    session: SessionConfig = field(default_factory=SessionConfig)


DEFAULT_ROW_CONFIG: Final = RowConfig(DEFAULT_CONFIG, DEFAULT_SESSION_CONFIG)


class UserRow(Record):
    profile: UserProfile
    # The open (or recently closed) session; None when there is none to remember.
    session: SessionState | None = None
    # Event time (the profile's `last_seen`) when the profile was last published, and whether a change worth
    # publishing later is still unpublished (models/publish_policy.py).
    published_at: float | None = None
    unpublished: bool = False
    # Start times (Unix ms) of the sessions published about the user, oldest first, the newest
    # MAX_REMEMBERED_KEYS: their keys, for an erasure's tombstones.
    published_sessions: list[int] = msgspec.field(default_factory=list)


def fold_click_into_row(row: UserRow | None, click: ClickEvent, source: SourceRef,
                        cfg: RowConfig = DEFAULT_ROW_CONFIG) -> tuple[UserRow, Session | None] | None:
    """Fold a click into the user's row, in place (`row` None: the user's first event, a new row); return the row
    and the session the click closed, or None when the click was folded before (a replay: nothing changed)."""
    if row is None:
        row = UserRow(profile=UserProfile.empty(click.user_id, click.ts))
    else:
        _check_user(row, click.user_id)
        if already_folded(row.profile.folded_offsets, source):
            return None
    apply_click(row.profile, click, cfg.profile)
    note_folded(row.profile.folded_offsets, source)
    state = row.session
    if state is None:
        # user_id, current, closed_end, late_events, folded_offsets
        state = row.session = SessionState(click.user_id, None, None, 0, {})
    note_folded(state.folded_offsets, source)
    return row, observe_in_place(state, click, cfg.session)


def fold_insight_into_row(row: UserRow | None, insight: Mapping[str, Any], source: SourceRef,
                          cfg: RowConfig = DEFAULT_ROW_CONFIG) -> UserRow | None:
    """Fold a review insight (its wire dict) into the author's row, in place; None for a replay or a review already
    folded (our at-least-once publishing can put one insight on the topic twice, at two offsets)."""
    facts = insight_facts(insight)
    if row is None:
        row = UserRow(profile=UserProfile.empty(facts.user_id, facts.at))
    else:
        _check_user(row, facts.user_id)
        profile = row.profile
        if already_folded(profile.folded_offsets, source) or facts.review_id in profile.recent_review_ids:
            return None
    apply_insight(row.profile, facts, insight.get("language") or None, cfg.profile)
    note_folded(row.profile.folded_offsets, source)
    return row


def remember_sessions(row: UserRow, sessions: Iterable[Session]) -> None:
    """Note, in the row, sessions about to be published (see `published_session_ids`)."""
    known = row.published_sessions
    for session in sessions:
        start_ms = round(session.start * 1000)
        if start_ms not in known[-8:]:  # a session closed again by a replay is the same session
            known.append(start_ms)
    if len(known) > MAX_REMEMBERED_KEYS:
        del known[: len(known) - MAX_REMEMBERED_KEYS]


def published_session_ids(row: UserRow) -> list[str]:
    return [session_key(row.profile.user_id, start_ms) for start_ms in row.published_sessions]


def _check_user(row: UserRow, user_id: str) -> None:
    if row.profile.user_id != user_id:
        # A keying bug in the caller: folding it would merge two people.
        raise ValueError(f"event of user {user_id!r} folded into the row of {row.profile.user_id!r}")
