"""`<app>-profile-events` → the `profiles` and `sessions` tables → `user-profiles` and `user-sessions`; the
`vip_unhappy` alert rule → `alerts`; marketing triggers → `<app>-marketing-triggers` (agents/marketing.py writes them).

One event at a time per partition, in order (the folds skip anything at or below the highest source offset they
have seen, which makes a replay after a crash harmless). A profile is published when it changes meaningfully (first
seen, order, cart opened or closed, segment, interests, review), not on every click. Sessions close when a click
comes after the inactivity gap, or when the event-time watermark passes the gap (a timer).

Alerts and marketing triggers are decided only for events the fold accepted as new, so a replay sends neither again;
their state (open incident, trigger schedule, messages sent) lives in tables beside the profile. Time-based triggers
(abandoned cart, win-back) fire on `tick` events a timer sends into each partition of the topic this agent reads.
"""

from __future__ import annotations

import time
from typing import Any

from faust.types import StreamT

from models.alerts import UserAlertState, evaluate_user, expire_incidents
from models.click import ClickEvent
from models.marketing import MarketingDecision, MarketingState, due_triggers, schedule, thank_you_trigger
from models.profile import ProfileConfig, UserProfile, fold_click, fold_insight, insight_facts
from models.profile_event import ProfileEvent
from models.session import Session, SessionConfig, SessionState, expire, observe
from streams.alerting import publish_alerts
from streams.app import (
    app,
    marketing_triggers_topic,
    metrics,
    product_events_topic,
    profile_events_topic,
    profiles_topic,
    sessions_topic,
    settings,
)
from streams.dead_letters import dead_letter
from streams.rule_configs import alert_config, marketing_config
from streams.watermark import WATERMARK

__all__ = ["fold_profiles", "marketing_state", "profiles", "sessions", "user_alerts"]

PROFILE_CONFIG = ProfileConfig()
SESSION_CONFIG = SessionConfig(gap_s=settings.session_gap_s)
# How often idle sessions are looked for; a session closes at most this late after its gap.
SESSION_SWEEP_S = 30.0

profiles = app.Table("profiles", value_type=UserProfile, partitions=settings.topic_partitions,
                     help="user_id → UserProfile")
sessions = app.Table("sessions", value_type=SessionState, partitions=settings.topic_partitions,
                     help="user_id → open session")
user_alerts = app.Table("user_alerts", value_type=UserAlertState, partitions=settings.topic_partitions,
                        help="user_id → open vip_unhappy incident")
marketing_state = app.Table("marketing_state", value_type=MarketingState, partitions=settings.topic_partitions,
                            help="user_id → scheduled marketing triggers and messages sent")
ALERT_CONFIG = alert_config(settings)
MARKETING_CONFIG = marketing_config(settings)
# Sessions the sweep has published, so it does not publish them again every round. The table is not written from
# the timer: Faust's RocksDB store needs a current event for every write (it asserts), and a timer has none.
_swept: dict[str, None] = {}
_SWEPT_MAX = 100_000


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
            await _fold(event.value, event.message.partition)
        except (KeyError, TypeError, ValueError) as exc:
            await dead_letter(event, exc, stage="fold")
        metrics.processing_duration.labels("profiles").observe(time.perf_counter() - started)


async def _fold(forwarded: ProfileEvent, partition: int) -> None:
    if forwarded.kind == "tick":
        await _on_tick(partition, float(forwarded.payload["now"]))
        return
    if forwarded.kind == "click":
        click = ClickEvent(**forwarded.payload)
        user_id = click.user_id
        before = profiles.get(user_id)
        update = fold_click(before, click, forwarded.source, PROFILE_CONFIG)
        state, closed = observe(sessions.get(user_id), click, forwarded.source, SESSION_CONFIG)
        sessions[user_id] = state
        WATERMARK.observe(click.ts)
        if closed is not None:
            await _publish_session(closed)
    else:
        user_id = str(forwarded.payload["user_id"])
        before = profiles.get(user_id)
        update = fold_insight(before, forwarded.payload, forwarded.source, PROFILE_CONFIG)
    if update.changed:
        profiles[user_id] = update.profile
    if update.meaningful:
        await profiles_topic.send(key=user_id.encode("utf-8"), value=update.profile, force=True)
        metrics.events_produced.labels(settings.profiles_topic).inc()
    if not update.changed:
        return  # a replay: its alerts and messages went out the first time
    if forwarded.kind == "insight":
        await _after_insight(update.profile, forwarded.payload, partition)
    if _schedule_facts(before) != _schedule_facts(update.profile):  # most clicks change neither cart nor orders
        _reschedule(update.profile, partition)


def _schedule_facts(profile: UserProfile | None) -> tuple[Any, ...]:
    """What the marketing schedule depends on (models.marketing.schedule)."""
    if profile is None:
        return ()
    return bool(profile.cart), profile.cart_updated_at, profile.orders, profile.last_order_at


def _reschedule(profile: UserProfile, partition: int) -> None:
    current = marketing_state.get(profile.user_id)
    scheduled = schedule(current, profile, partition, MARKETING_CONFIG)
    if scheduled is None:
        if current is not None:
            del marketing_state[profile.user_id]
    elif current is None or scheduled.scheduled != current.scheduled:
        marketing_state[profile.user_id] = scheduled


async def _after_insight(profile: UserProfile, insight: dict[str, Any], partition: int) -> None:
    facts = insight_facts(insight)
    outcome = evaluate_user(user_alerts.get(profile.user_id), profile, facts, str(insight.get("intent") or ""),
                            ALERT_CONFIG)
    if outcome.state.incident is not None:
        user_alerts[profile.user_id] = outcome.state.derive(partition=partition)
    elif profile.user_id in user_alerts:
        del user_alerts[profile.user_id]
    await publish_alerts(outcome)
    decision = thank_you_trigger(marketing_state.get(profile.user_id), profile, facts, partition, MARKETING_CONFIG)
    await _send_triggers(decision)


async def _on_tick(partition: int, now: float) -> None:
    await _fire_due_triggers(partition, now)
    # VIP incidents that went quiet end without waiting for the customer's next review.
    quiet = [state for state in user_alerts.values()
             if state.partition == partition and state.incident is not None
             and now - state.incident.last_triggered_at >= ALERT_CONFIG.cooldown_s]
    for state in quiet:
        outcome = expire_incidents(state, now, ALERT_CONFIG)
        del user_alerts[state.user_id]
        await publish_alerts(outcome)


async def _fire_due_triggers(partition: int, now: float) -> None:
    """A tick for one partition: fire the triggers of its users that are due by `now` (event time)."""
    # Iterates this worker's rows of the table; only the tick's partition is touched (RocksDB writes go to the
    # partition of the current event, which is the tick's).
    due = [state for state in marketing_state.values()
           if state.partition == partition and any(at <= now for at, _ in state.scheduled.values())]
    for state in due:
        decision = due_triggers(state, profiles.get(state.user_id), now, MARKETING_CONFIG)
        await _send_triggers(decision)


async def _send_triggers(decision: MarketingDecision) -> None:
    state = decision.state
    if state.scheduled or state.sent:
        if marketing_state.get(state.user_id) != state:
            marketing_state[state.user_id] = state
    elif state.user_id in marketing_state:
        del marketing_state[state.user_id]
    for kind, reason in decision.refused:
        metrics.marketing_triggers.labels(kind, reason).inc()
    for trigger in decision.triggers:
        await marketing_triggers_topic.send(key=trigger.user_id.encode("utf-8"), value=trigger, force=True)
        metrics.events_produced.labels(settings.marketing_triggers_topic).inc()
        metrics.marketing_triggers.labels(trigger.kind, "admitted").inc()


@app.timer(interval=settings.marketing_tick_s)
async def tick_marketing_triggers() -> None:
    """Time-based triggers (abandoned cart, win-back, alert incidents going quiet) need time to pass, not an event:
    send each of this worker's profile and product partitions a tick carrying the event-time watermark, so their
    tables are read and written from an event (Faust's RocksDB store asserts one for every write)."""
    watermark = WATERMARK.now()
    if not watermark or app.consumer is None:
        return
    targets = {settings.profile_events_topic: profile_events_topic, settings.product_events_topic: product_events_topic}
    for tp in sorted(app.assignor.assigned_actives()):
        if tp.topic in targets:
            tick = ProfileEvent(kind="tick", source_topic="tick", source_partition=tp.partition, source_offset=-1,
                                payload={"now": watermark})
            await targets[tp.topic].send(value=tick, partition=tp.partition, force=True)


@app.timer(interval=SESSION_SWEEP_S)
async def close_idle_sessions() -> None:
    """Publish sessions idle past the gap. The user's next click closes the session in the table too (and publishes
    the same session again under the same key: the topic is compacted, consumers see one session)."""
    watermark = WATERMARK.now()
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
