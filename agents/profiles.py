"""`<app>-profile-events` → the `profiles` and `sessions` tables → `user-profiles` and `user-sessions`.

One event at a time per partition, in order (the folds skip anything at or below the highest source offset they
have seen, which makes a replay after a crash harmless). A profile is published when it changes meaningfully (first
seen, order, cart opened or closed, segment, interests, review), not on every click. Sessions close when a click
comes after the inactivity gap, or when the event-time watermark passes the gap (a timer).
"""

from __future__ import annotations

import time
from typing import Any

from faust.types import StreamT

from models.click import ClickEvent
from models.profile import ProfileConfig, UserProfile, fold_click, fold_insight
from models.profile_event import ProfileEvent
from models.session import Session, SessionConfig, SessionState, expire, observe
from streams.app import app, metrics, profile_events_topic, profiles_topic, sessions_topic, settings
from streams.dead_letters import dead_letter

__all__ = ["fold_profiles", "profiles", "sessions"]

PROFILE_CONFIG = ProfileConfig()
SESSION_CONFIG = SessionConfig(gap_s=settings.session_gap_s)
# How often idle sessions are looked for; a session closes at most this late after its gap.
SESSION_SWEEP_S = 30.0

profiles = app.Table("profiles", value_type=UserProfile, partitions=settings.topic_partitions,
                     help="user_id → UserProfile")
sessions = app.Table("sessions", value_type=SessionState, partitions=settings.topic_partitions,
                     help="user_id → open session")
# Sessions the sweep has published, so it does not publish them again every round. The table is not written from
# the timer: Faust's RocksDB store needs a current event for every write (it asserts), and a timer has none.
_swept: dict[str, None] = {}
_SWEPT_MAX = 100_000


class _Watermark:
    """Event time as far as this worker has seen it, moving on with the wall clock while the stream is idle."""

    event_time = 0.0
    seen_at = 0.0

    @classmethod
    def observe(cls, ts: float, now: float) -> None:
        if ts > cls.event_time:
            cls.event_time, cls.seen_at = ts, now

    @classmethod
    def now(cls, now: float) -> float:
        return cls.event_time + max(0.0, now - cls.seen_at) if cls.event_time else 0.0


async def _publish_session(session: Session) -> None:
    await sessions_topic.send(key=session.session_id.encode("utf-8"), value=session, force=True)
    metrics.events_produced.labels(settings.sessions_topic).inc()


@app.agent(profile_events_topic, name="profiles")
async def fold_profiles(stream: StreamT[Any]) -> None:
    # Outputs are sent without waiting: Faust flushes the producer before it commits the input offsets.
    async for event in stream.events():
        metrics.events_consumed.labels(settings.profile_events_topic).inc()
        started = time.perf_counter()
        try:
            await _fold(event.value)
        except (KeyError, TypeError, ValueError) as exc:
            await dead_letter(event, exc, stage="fold")
        metrics.processing_duration.labels("profiles").observe(time.perf_counter() - started)


async def _fold(forwarded: ProfileEvent) -> None:
    if forwarded.kind == "click":
        click = ClickEvent(**forwarded.payload)
        user_id = click.user_id
        update = fold_click(profiles.get(user_id), click, forwarded.source, PROFILE_CONFIG)
        state, closed = observe(sessions.get(user_id), click, forwarded.source, SESSION_CONFIG)
        sessions[user_id] = state
        _Watermark.observe(click.ts, time.time())
        if closed is not None:
            await _publish_session(closed)
    else:
        user_id = str(forwarded.payload["user_id"])
        update = fold_insight(profiles.get(user_id), forwarded.payload, forwarded.source, PROFILE_CONFIG)
    if update.changed:
        profiles[user_id] = update.profile
    if update.meaningful:
        await profiles_topic.send(key=user_id.encode("utf-8"), value=update.profile, force=True)
        metrics.events_produced.labels(settings.profiles_topic).inc()


@app.timer(interval=SESSION_SWEEP_S)
async def close_idle_sessions() -> None:
    """Publish sessions idle past the gap. The user's next click closes the session in the table too (and publishes
    the same session again under the same key: the topic is compacted, consumers see one session)."""
    watermark = _Watermark.now(time.time())
    if not watermark:
        return
    # Iterates only this worker's partitions of the table.
    for _user_id, state in list(sessions.items()):
        _, closed = expire(state, watermark, SESSION_CONFIG)
        if closed is None or closed.session_id in _swept:
            continue
        await _publish_session(closed)
        _swept[closed.session_id] = None
        if len(_swept) > _SWEPT_MAX:
            del _swept[next(iter(_swept))]


@app.page("/profiles/{user_id}/")
@app.table_route(table=profiles, match_info="user_id")
async def profile_view(web: Any, request: Any, user_id: str) -> Any:
    """The current profile and open session of a user, served by whichever worker owns the user's partition."""
    profile = profiles.get(user_id)
    if profile is None:
        return web.json({"error": f"no profile for user {user_id!r}"}, status=404)
    state = sessions.get(user_id)
    return web.json({"profile": profile.to_dict(), "session": state.to_representation() if state else None})
