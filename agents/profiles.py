"""`<app>-profile-events` (and the clickstream itself when it is keyed by user) → the `profiles` and `sessions`
tables → `user-profiles` and `user-sessions`; the `vip_unhappy` alert rule → `alerts`; marketing triggers →
`<app>-marketing-triggers` (agents/marketing.py writes them).

One event at a time per partition, in order (the folds skip anything at or below the highest source offset they
have seen, which makes a replay after a crash harmless). A profile is published when it changes meaningfully (first
seen, order, cart opened or closed, segment, interests, review), not on every click. Sessions close when a click
comes after the inactivity gap, or when the event-time watermark passes the gap (a timer).

Alerts and marketing triggers are decided only for events the fold accepted as new, so a replay sends neither again;
their state (open incident, trigger schedule, messages sent) lives in tables beside the profile. Time-based triggers
(abandoned cart, win-back) fire on `tick` events a timer sends into each partition of the topic this agent reads.
"""

from __future__ import annotations

import functools
import logging
import time
from typing import Any

from faust.types import EventT, StreamT

from agents.clickstream import repartitioned_click
from models.alerts import UserAlertState, evaluate_user, expire_incidents
from models.click import ClickEvent, parse_click
from models.errors import InvalidEvent
from models.forwarded_event import TICK_SOURCE, ForwardedEvent
from models.marketing import MarketingDecision, MarketingState, due_triggers, schedule, thank_you_trigger
from models.privacy import (
    ErasedMarker,
    ErasureAudit,
    ErasureRequest,
    PublishedKeys,
    erased_key,
    merged_offsets,
    parse_erasure_request,
    remember_published,
)
from models.profile import (
    ProfileConfig,
    ProfileUpdate,
    SourceRef,
    UserProfile,
    fold_click,
    fold_insight,
    insight_facts,
)
from models.session import Session, SessionConfig, SessionState, expire, observe
from streams.alerting import publish_alerts
from streams.app import (
    app,
    bounds,
    dead_letters,
    forwarded_reader,
    guarded,
    lag,
    marketing_triggers_topic,
    metrics,
    privacy_audit_topic,
    privacy_requests_in_topic,
    product_events_topic,
    profile_events_topic,
    profiles_topic,
    reread,
    sessions_topic,
    settings,
    tombstone_topics,
)
from streams.due_index import DueIndex
from streams.forwarding import with_skipped
from streams.output import Output, OutputRejected, send_output
from streams.poison import attempt
from streams.rule_configs import alert_config, marketing_config
from streams.struct_table import StructTable
from streams.watermark import WATERMARK

__all__ = ["erased", "fold_profiles", "marketing_state", "profiles", "published_keys", "sessions", "user_alerts"]

log = logging.getLogger(__name__)

PROFILE_CONFIG = ProfileConfig()
SESSION_CONFIG = SessionConfig(gap_s=settings.session_gap_s)

profiles = StructTable(app, "profiles", UserProfile, partitions=settings.topic_partitions,
                       help="user_id → UserProfile")
sessions = StructTable(app, "sessions", SessionState, partitions=settings.topic_partitions,
                       help="user_id → open session")
user_alerts = app.Table("user_alerts", value_type=UserAlertState, partitions=settings.topic_partitions,
                        help="user_id → open vip_unhappy incident")
marketing_state = app.Table("marketing_state", value_type=MarketingState, partitions=settings.topic_partitions,
                            help="user_id → scheduled marketing triggers and messages sent")
published_keys = app.Table("published_keys", value_type=PublishedKeys, partitions=settings.topic_partitions,
                           help="user_id → keys of the user's sessions, messages and alerts, for erasure")
erased = app.Table("erased", value_type=ErasedMarker, partitions=settings.topic_partitions,
                   help="keyed hash of an erased user_id → offsets folded before the erasure")
# Erased users are remembered under a keyed hash (models/privacy.py).
ERASURE_SALT = (settings.privacy_salt.get_secret_value() if settings.privacy_salt else settings.app_id).encode()
ALERT_CONFIG = alert_config(settings)
MARKETING_CONFIG = marketing_config(settings)
# What comes due when on this worker's partitions: sessions to close, marketing triggers, VIP incidents to end.
SESSIONS_DUE, MARKETING_DUE, VIP_DUE = DueIndex(), DueIndex(), DueIndex()


async def _publish_session(session: Session) -> None:
    await send_output(Output(sessions_topic, session.session_id, session.dumps()), metrics)
    _remember(session.user_id, sessions=[session.session_id])


def _remember(user_id: str, **keys: list[str]) -> None:
    """Keep the keys of compacted records published about the user, so that an erasure can tombstone them."""
    published_keys[user_id] = remember_published(published_keys.get(user_id), **keys)


# What the fold reads, as raw bytes: the repartitioned events (insights, ticks, clicks from elsewhere) and — when the
# shop keys its clickstream by user — the clickstream itself, which saves every well-keyed click a produce, a consume
# and two codecs. Faust co-partitions the two topics (same partition count, checked at startup): a user's clicks and
# insights meet on the same partition number, which is the partition of their table rows.
# Erasure requests come the same way, keyed by user_id, so that they reach the rows they are about.
_inputs = ((settings.profile_events_topic, settings.privacy_requests_topic, settings.clickstream_topic)
           if settings.clicks_keyed_by_user else (settings.profile_events_topic, settings.privacy_requests_topic))
profile_inputs = app.topic(*_inputs, key_type=bytes, value_type=bytes, key_serializer="raw", value_serializer="raw",
                           partitions=settings.topic_partitions)


@app.agent(profile_inputs, name="profiles")
async def fold_profiles(stream: StreamT[Any]) -> None:
    # Outputs are sent without waiting: Faust flushes the producer before it commits the input offsets.
    # Offsets the consumer skipped come first, read back from Kafka (streams/forwarding.py).
    async for event in with_skipped(stream.events(), app, metrics, reread):
        message = event.message
        metrics.events_consumed.labels(message.topic).inc()
        started = time.perf_counter()
        poisoned = await attempt(functools.partial(_handle, event), attempts=settings.poison_max_attempts,
                                 what=f"folding {message.topic}[{message.partition}]@{message.offset}")
        if poisoned is not None:
            await dead_letters.send(event, poisoned, stage="fold")
        if message.topic == settings.clickstream_topic:
            lag.note_finished(message.tp, message.timestamp)
        metrics.processing_duration.labels("profiles").observe(time.perf_counter() - started)


async def _handle(event: EventT[Any]) -> None:
    message = event.message
    try:
        if message.topic == settings.clickstream_topic:
            await _on_clickstream(event)
        elif message.topic == settings.privacy_requests_topic:
            await _on_erasure_request(event)
        else:
            await _fold(await forwarded_reader.read(message.value), message.partition)
    except InvalidEvent as exc:
        # Garbled or forged: never folded (a forged source offset would hide that partition's real events).
        await send_output(dead_letters.output(message, exc.reason, exc.detail, exc, stage="fold"), metrics)
    except OutputRejected as exc:
        await dead_letters.send(event, exc, stage="fold")


async def _on_clickstream(event: EventT[Any]) -> None:
    """A click read from the clickstream: folded here when it is on its user's partition, else repartitioned."""
    message = event.message
    try:
        click = parse_click(message.value, bounds=bounds)
    except InvalidEvent as exc:
        output = dead_letters.output(message, exc.reason, exc.detail, exc)
    else:
        if _partition_of(click.user_id) == message.partition:
            await _fold_click(click, SourceRef(message.topic, message.partition, message.offset), message.partition)
            return
        # Keyed by something else (or no metadata yet): the user's rows live on another partition.
        output = repartitioned_click(event, click)
    await send_output(output, metrics)


async def _on_erasure_request(event: EventT[Any]) -> None:
    message = event.message
    request = parse_erasure_request(message.value, bounds=bounds)
    owner = _partition_of(request.user_id)
    if owner is not None and owner != message.partition:
        # Keyed by something else: sent on to the partition that holds the user's rows.
        await send_output(Output(privacy_requests_in_topic, request.user_id, message.value), metrics)
        return
    await _erase(request)


async def _erase(request: ErasureRequest) -> None:
    """Delete the user's rows from every table and tombstone every compacted record about the user; then the audit
    record. Idempotent: a repeated request finds nothing and says so."""
    user_id = request.user_id
    profile, session, alerts, marketing = (profiles.get(user_id), sessions.get(user_id), user_alerts.get(user_id),
                                           marketing_state.get(user_id))
    keys = published_keys.get(user_id) or remember_published(None)
    tombstones: dict[str, list[str]] = {
        "profiles": [user_id] if profile is not None else [],
        "sessions": list(keys.sessions),
        "marketing": sorted(set(keys.messages) | {str(sent[0]) for sent in (marketing.sent if marketing else [])}),
        "alerts": sorted(set(keys.alerts) | ({alerts.incident.alert_id} if alerts and alerts.incident else set())),
    }
    for role, tombstoned in tombstones.items():
        for key in tombstoned:
            await send_output(Output(tombstone_topics[role], key, None), metrics)
    marker_key = _erased_key(user_id)
    previous = erased.get(marker_key)
    folded = merged_offsets(profile.folded_offsets if profile else None, session.folded_offsets if session else None,
                            previous.folded_offsets if previous else None)
    review_ids = sorted({*(previous.review_ids if previous else ()), *(profile.recent_review_ids if profile else ())})
    if folded or review_ids:
        erased[marker_key] = ErasedMarker(erased_at=time.time(), folded_offsets=folded, review_ids=review_ids)
    rows: dict[str, int] = {}
    for table in (profiles, sessions, user_alerts, marketing_state, published_keys):
        if user_id in table:
            del table[user_id]
            rows[table.name] = 1
    topics = {"profiles": settings.profiles_topic, "sessions": settings.sessions_topic,
              "marketing": settings.marketing_topic, "alerts": settings.alerts_topic}
    audit = ErasureAudit(request_id=request.request_id, requested_at=request.requested_at, completed_at=time.time(),
                         status="erased" if rows else "nothing_found", rows_deleted=rows,
                         tombstones={topics[role]: len(keys_) for role, keys_ in tombstones.items() if keys_})
    await send_output(Output(privacy_audit_topic, request.request_id, audit), metrics)
    metrics.erasures.labels(audit.status).inc()
    log.info("erasure %s: %s (rows %s, tombstones %s)", request.request_id, audit.status, rows, audit.tombstones)


def _erased_key(user_id: str) -> str:
    return erased_key(user_id, ERASURE_SALT)


def _still_erased(user_id: str, before: UserProfile | None, source: SourceRef, review_id: str | None = None) -> bool:
    """A replayed event of a user erased since: it must not bring the user back."""
    if before is not None:
        return False
    marker = erased.get(_erased_key(user_id))
    if marker is not None and marker.covers(source, review_id):
        metrics.erased_replays.inc()
        return True
    return False


async def _fold(forwarded: ForwardedEvent, partition: int) -> None:
    if forwarded.kind == "tick":
        await _on_tick(partition, float(forwarded.payload["now"]))
    elif forwarded.kind == "click":
        await _fold_click(ClickEvent(**forwarded.payload), forwarded.source, partition)
    else:
        user_id = str(forwarded.payload["user_id"])
        before = profiles.get(user_id)
        if _still_erased(user_id, before, forwarded.source, str(forwarded.payload["review_id"])):
            return
        update = fold_insight(before, forwarded.payload, forwarded.source, PROFILE_CONFIG)
        metrics.profile_folds.labels("insight").inc()
        await _apply(user_id, before, update, partition, insight=forwarded.payload)


async def _fold_click(click: ClickEvent, source: SourceRef, partition: int) -> None:
    user_id = click.user_id
    before = profiles.get(user_id)
    if _still_erased(user_id, before, source):
        return
    update = fold_click(before, click, source, PROFILE_CONFIG)
    metrics.profile_folds.labels("click").inc()
    state, closed = observe(sessions.get(user_id), click, source, SESSION_CONFIG)
    sessions[user_id] = state
    SESSIONS_DUE.push(partition, _session_due(state), user_id)
    WATERMARK.observe(click.ts)
    if closed is not None:
        await _publish_session(closed)
    await _apply(user_id, before, update, partition, insight=None)


async def _apply(user_id: str, before: UserProfile | None, update: ProfileUpdate, partition: int,
                 insight: dict[str, Any] | None) -> None:
    if update.changed:
        profiles[user_id] = update.profile
    if update.meaningful:
        await send_output(Output(profiles_topic, user_id, update.profile.dumps()), metrics)
    if not update.changed:
        return  # a replay: its alerts and messages went out the first time
    if insight is not None:
        await _after_insight(update.profile, insight, partition)
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
        MARKETING_DUE.push(partition, _marketing_due(scheduled), profile.user_id)


async def _after_insight(profile: UserProfile, insight: dict[str, Any], partition: int) -> None:
    facts = insight_facts(insight)
    outcome = evaluate_user(user_alerts.get(profile.user_id), profile, facts, str(insight.get("intent") or ""),
                            ALERT_CONFIG)
    if outcome.state.incident is not None:
        user_alerts[profile.user_id] = outcome.state.derive(partition=partition)
        VIP_DUE.push(partition, _vip_due(outcome.state), profile.user_id)
    elif profile.user_id in user_alerts:
        del user_alerts[profile.user_id]
    await publish_alerts(outcome)
    if outcome.alerts:
        _remember(profile.user_id, alerts=[alert.alert_id for alert in outcome.alerts])
    decision = thank_you_trigger(marketing_state.get(profile.user_id), profile, facts, partition, MARKETING_CONFIG)
    await _send_triggers(decision, partition)


async def _on_tick(partition: int, now: float) -> None:
    """A tick for one partition (see tick_partitions): close idle sessions, fire due marketing triggers, end quiet
    VIP incidents — the rows the due index names, each re-read and decided from the table."""
    if not SESSIONS_DUE.is_loaded(partition):
        await _load_due_times()
    for user_id in SESSIONS_DUE.pop_due(partition, now):
        state = sessions.get(user_id)
        if state is None:
            continue
        new_state, closed = expire(state, now, SESSION_CONFIG)
        if closed is not None:
            await _publish_session(closed)
        if new_state is None:
            del sessions[user_id]
            continue
        if new_state != state:
            sessions[user_id] = new_state
        SESSIONS_DUE.push(partition, _session_due(new_state), user_id)
    for user_id in MARKETING_DUE.pop_due(partition, now):
        marketing = marketing_state.get(user_id)
        if marketing is not None:
            await _send_triggers(due_triggers(marketing, profiles.get(user_id), now, MARKETING_CONFIG), partition)
    for user_id in VIP_DUE.pop_due(partition, now):
        vip = user_alerts.get(user_id)
        if vip is None or vip.incident is None:
            continue
        outcome = expire_incidents(vip, now, ALERT_CONFIG)
        if outcome.alerts:
            del user_alerts[user_id]
            await publish_alerts(outcome)
        else:
            VIP_DUE.push(partition, _vip_due(vip), user_id)


async def _load_due_times() -> None:
    """One scan of this worker's rows after a rebalance, filling the due indexes of every active partition."""
    actives = {tp.partition for tp in app.assignor.assigned_actives() if tp.topic == settings.profile_events_topic}

    def partition_of(user_id: str, _row: Any) -> int | None:
        return _partition_of(user_id)

    read = 0
    for index, table, due_of in ((SESSIONS_DUE, sessions, _session_due), (MARKETING_DUE, marketing_state,
                                  _marketing_due), (VIP_DUE, user_alerts, _vip_due)):
        read += await index.rebuild(table.items(), due_of, partition_of, actives)
    log.info("due times rebuilt for partitions %s from %d rows", sorted(actives), read)


def _partition_of(user_id: str) -> int | None:
    """The profile-events partition of a user: where its rows live and where its ticks arrive."""
    try:
        return int(app.producer.key_partition(settings.profile_events_topic, user_id.encode("utf-8")).partition)
    except (TypeError, KeyError, AssertionError):  # no metadata for the topic yet
        return None


def _session_due(state: SessionState) -> float | None:
    if state.current is not None:
        return state.current.end + SESSION_CONFIG.gap_s + 0.001  # expire() closes once strictly past the gap
    if state.closed_end is not None:
        return state.closed_end + SESSION_CONFIG.gap_s + SESSION_CONFIG.retain_closed_s + 0.001
    return None


def _marketing_due(state: MarketingState) -> float | None:
    return min((due for due, _ in state.scheduled.values()), default=None)


def _vip_due(state: UserAlertState) -> float | None:
    return None if state.incident is None else state.incident.last_triggered_at + ALERT_CONFIG.cooldown_s


async def _send_triggers(decision: MarketingDecision, partition: int) -> None:
    state = decision.state
    if state.scheduled or state.sent:
        if marketing_state.get(state.user_id) != state:
            marketing_state[state.user_id] = state
        MARKETING_DUE.push(partition, _marketing_due(state), state.user_id)
    elif state.user_id in marketing_state:
        del marketing_state[state.user_id]
    for kind, reason in decision.refused:
        metrics.marketing_triggers.labels(kind, reason).inc()
    if decision.triggers:
        _remember(state.user_id, messages=[trigger.message_id for trigger in decision.triggers])
    for trigger in decision.triggers:
        await send_output(Output(marketing_triggers_topic, trigger.user_id, trigger), metrics)
        metrics.marketing_triggers.labels(trigger.kind, "admitted").inc()


@app.timer(interval=settings.timer_tick_s)
async def tick_partitions() -> None:
    """Time-based triggers (abandoned cart, win-back, alert incidents going quiet) need time to pass, not an event:
    send each of this worker's profile and product partitions a tick carrying the event-time watermark, so their
    tables are read and written from an event (Faust's RocksDB store asserts one for every write)."""
    watermark = WATERMARK.now()
    if not watermark or app.consumer is None:
        return
    targets = {settings.profile_events_topic: profile_events_topic, settings.product_events_topic: product_events_topic}
    for tp in sorted(app.assignor.assigned_actives()):
        if tp.topic in targets:
            tick = ForwardedEvent(kind="tick", source_topic=TICK_SOURCE, source_partition=tp.partition,
                                  source_offset=-1, payload={"now": watermark})
            await send_output(Output(targets[tp.topic], None, tick, partition=tp.partition), metrics)


@app.page("/profiles/{user_id}/")
@guarded
@app.table_route(table=profiles.table, match_info="user_id")
async def profile_view(web: Any, request: Any, user_id: str) -> Any:
    """The current profile and open session of a user, served by whichever worker owns the user's partition."""
    profile = profiles.get(user_id)
    if profile is None:
        return web.json({"error": f"no profile for user {user_id!r}"}, status=404)
    state = sessions.get(user_id)
    return web.json({"profile": profile.to_dict(), "session": state.to_dict() if state else None})
