"""`<app>-profile-events` (and the clickstream itself when it is keyed by user) → the `profiles` table (one row per
user: profile and session) → `user-profiles` and `user-sessions`; the `vip_unhappy` alert rule → `alerts`; marketing
triggers → `<app>-marketing-triggers` (agents/marketing.py writes them).

Events are folded in micro-batches (streams/delivery/fold_loop.py): what a partition has ready is folded in offset
order, each touched user's row read once, all of that user's clicks folded into it in memory, the row written once
and a changed profile published once (when the change is meaningful: first seen, order, cart opened or closed,
segment, interests, review, consent; not on every click). The folds skip anything at or below the highest source
offset they have seen, which makes a replay after a crash harmless. Sessions close when a click comes after the
inactivity gap, or when the event-time watermark passes the gap (a timer).

Reviews, erasure requests and ticks are folded one at a time, between the batches of clicks around them: alerts and
marketing triggers are decided only for events the fold accepted as new, so a replay sends neither again; their
state (open incident, trigger schedule, messages sent) lives in tables beside the profile. Time-based triggers
(abandoned cart, win-back) fire on `tick` events a timer sends into each partition of the topic this agent reads.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import msgspec
from aiokafka.partitioner import DefaultPartitioner
from faust.types import EventT, StreamT

from agents.clickstream import repartitioned_click
from models.alerts import UserAlertState, evaluate_user, expire_incidents, incidents_due
from models.click import ClickEvent, parse_click
from models.errors import InvalidEvent
from models.forwarded_event import TICK_SOURCE, ForwardedEvent
from models.integrity import AccountFlag, AccountState, flag_account, fold_account_review, review_facts
from models.integrity.wire import account_key, account_partition
from models.marketing import MarketingDecision, MarketingState, due_triggers, schedule, thank_you_trigger, triggers_due
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
from models.profile import ProfileConfig, ProfileFacts, SourceRef, UserProfile, insight_facts, profile_facts, reasons
from models.publish_policy import PublishPolicy, publish_pending, should_publish
from models.session import Session, SessionConfig, SessionState, close_due, expire
from models.user_row import (
    RowConfig,
    UserRow,
    fold_click_into_row,
    fold_insight_into_row,
    published_session_ids,
    remember_sessions,
)
from streams.alerting import publish_alerts
from streams.app import (
    app,
    bounds,
    dead_letters,
    fold_in_batches,
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
    served_by_owner,
    sessions_topic,
    settings,
    tombstone_topics,
)
from streams.delivery.due_index import DueIndex
from streams.delivery.output import Output, OutputRejected, send_output
from streams.delivery.watermark import WATERMARK
from streams.rule_configs import alert_config, integrity_config, marketing_config
from streams.tables.options import table_options
from streams.tables.struct_table import StructTable

__all__ = ["erased", "fold_profiles", "integrity_accounts", "marketing_state", "profiles", "published_keys",
           "user_alerts"]

log = logging.getLogger(__name__)

ROW_CONFIG = RowConfig(profile=ProfileConfig(), session=SessionConfig(gap_s=settings.session_gap_s))
SESSION_CONFIG = ROW_CONFIG.session
PUBLISH_POLICY = PublishPolicy(interest_every_s=settings.profile_interest_publish_every_s)

profiles = StructTable(app, "profiles", UserRow, partitions=settings.topic_partitions,
                       help="user_id → UserRow (profile and session)", options=table_options(settings))
user_alerts = app.Table("user_alerts", value_type=UserAlertState, partitions=settings.topic_partitions,
                        help="user_id → open vip_unhappy incident", options=table_options(settings))
marketing_state = app.Table("marketing_state", value_type=MarketingState, partitions=settings.topic_partitions,
                            help="user_id → scheduled marketing triggers and messages sent",
                            options=table_options(settings))
published_keys = app.Table("published_keys", value_type=PublishedKeys, partitions=settings.topic_partitions,
                           help="user_id → keys of the user's sessions, messages and alerts, for erasure",
                           options=table_options(settings))
erased = app.Table("erased", value_type=ErasedMarker, partitions=settings.topic_partitions,
                   help="keyed hash of an erased user_id → offsets folded before the erasure",
                   options=table_options(settings))
# The integrity step's user stage (models/integrity/account.py), keyed by the account's pseudonym (a keyed hash of
# the user id: models/integrity/wire.py), on the user's partition.
integrity_accounts = app.Table("integrity_accounts", value_type=AccountState, partitions=settings.topic_partitions,
                               help="account pseudonym → AccountState (review history for review integrity)",
                               options=table_options(settings))
# Erased users are remembered under a keyed hash (models/privacy.py).
ERASURE_SALT = (settings.privacy_salt.get_secret_value() if settings.privacy_salt else settings.app_id).encode()
ALERT_CONFIG = alert_config(settings)
MARKETING_CONFIG = marketing_config(settings)
INTEGRITY_CONFIG = integrity_config(settings)
# What comes due when on this worker's partitions: sessions to close, marketing triggers, VIP incidents to end.
SESSIONS_DUE, MARKETING_DUE, VIP_DUE = DueIndex(), DueIndex(), DueIndex()


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
    await fold_in_batches(stream, _fold_partition, agent="profiles", on_finished=_finished)


def _finished(tp: Any, timestamp: float | None) -> None:
    if tp.topic == settings.clickstream_topic:
        lag.note_finished(tp, timestamp)


@dataclass(slots=True)
class _Touched:
    """A user's row while a batch folds into it."""

    row: UserRow | None
    # What decides publishing and rescheduling, as the row was before the batch (None: no profile yet).
    before: ProfileFacts | None
    schedule_before: tuple[Any, ...]
    # The last event folded into the row: its dead letter stands for an output Kafka refuses.
    event: EventT[Any]
    changed: bool = False
    closed: list[Session] = field(default_factory=list)
    insight: dict[str, Any] | None = None


class _Batch:
    """The rows a run of one partition's events touches, read once, folded in memory, written once by `flush`."""

    def __init__(self, partition: int) -> None:
        self.partition = partition
        self.users: dict[str, _Touched] = {}
        self.clicks = 0

    def _touch(self, user_id: str, event: EventT[Any]) -> _Touched:
        touched = self.users.get(user_id)
        if touched is None:
            row = profiles.get(user_id)
            profile = row.profile if row is not None else None
            touched = self.users[user_id] = _Touched(row, profile_facts(profile), _schedule_facts(profile), event)
        return touched

    def click(self, click: ClickEvent, source: SourceRef, event: EventT[Any]) -> None:
        touched = self._touch(click.user_id, event)
        if touched.row is None and _still_erased(click.user_id, source):
            return
        self.clicks += 1
        WATERMARK.observe(click.ts)
        folded = fold_click_into_row(touched.row, click, source, ROW_CONFIG)
        if folded is None:
            return  # a replay
        touched.row, closed = folded
        touched.changed, touched.event = True, event
        if closed is not None:
            touched.closed.append(closed)

    def insight(self, forwarded: ForwardedEvent, event: EventT[Any]) -> None:
        payload = forwarded.payload
        user_id = str(payload["user_id"])
        touched = self._touch(user_id, event)
        if touched.row is None and _still_erased(user_id, forwarded.source, str(payload["review_id"])):
            return
        metrics.profile_folds.labels("insight").inc()
        row = fold_insight_into_row(touched.row, payload, forwarded.source, ROW_CONFIG)
        if row is not None:
            touched.row, touched.changed, touched.event, touched.insight = row, True, event, payload

    async def flush(self) -> None:
        """Write every changed row once, publish what changed meaningfully; then the batch is empty."""
        if self.clicks:
            metrics.profile_folds.labels("click").inc(self.clicks)
            self.clicks = 0
        for user_id, touched in self.users.items():
            if touched.changed:
                try:
                    await self._write(user_id, touched)
                except OutputRejected as exc:
                    await dead_letters.send(touched.event, exc, stage="fold")
        self.users.clear()

    async def _write(self, user_id: str, touched: _Touched) -> None:
        row = touched.row
        assert row is not None  # changed rows exist
        profile = row.profile
        # Decided before the write: the decision is recorded in the row.
        publish = should_publish(row, reasons(touched.before, profile), PUBLISH_POLICY)
        publish = publish_pending(row) if touched.closed and not publish else publish
        remember_sessions(row, touched.closed)
        profiles[user_id] = row
        SESSIONS_DUE.push(self.partition, None if row.session is None else close_due(row.session, SESSION_CONFIG),
                          user_id)
        for session in touched.closed:
            await send_output(Output(sessions_topic, session.session_id, session.dumps()), metrics)
        if publish:
            await send_output(Output(profiles_topic, user_id, profile.dumps()), metrics)
        if touched.insight is not None:
            await _after_insight(profile, touched.insight, self.partition, touched.event)
        if _schedule_facts(profile) != touched.schedule_before:  # most clicks change neither cart nor orders
            _reschedule(profile, self.partition)


async def _fold_partition(partition: int, events: Sequence[EventT[Any]]) -> None:
    """One partition's share of a batch, in offset order: clicks are folded together; a review, an erasure request
    or a tick first flushes the clicks before it and is then handled alone."""
    batch = _Batch(partition)
    for event in events:
        message = event.message
        try:
            if message.topic == settings.clickstream_topic:
                await _on_clickstream(event, batch)
            elif message.topic == settings.privacy_requests_topic:
                await batch.flush()
                await _on_erasure_request(event)
            else:
                await _on_forwarded(await forwarded_reader.read(message.value), event, batch)
        except InvalidEvent as exc:
            # Garbled or forged: never folded (a forged source offset would hide that partition's real events).
            await send_output(dead_letters.output(message, exc.reason, exc.detail, exc, stage="fold"), metrics)
        except OutputRejected as exc:
            await dead_letters.send(event, exc, stage="fold")
    await batch.flush()


async def _on_clickstream(event: EventT[Any], batch: _Batch) -> None:
    """A click read from the clickstream: folded here when it is on its user's partition, else repartitioned."""
    message = event.message
    try:
        click = parse_click(message.value, bounds=bounds)
    except InvalidEvent as exc:
        output = dead_letters.output(message, exc.reason, exc.detail, exc)
    else:
        if _partition_of(click.user_id) == message.partition:
            batch.click(click, SourceRef(message.topic, message.partition, message.offset), event)
            return
        # Keyed by something else (or no metadata yet): the user's rows live on another partition.
        output = repartitioned_click(event, click)
    await send_output(output, metrics)


async def _on_forwarded(forwarded: ForwardedEvent, event: EventT[Any], batch: _Batch) -> None:
    if forwarded.kind == "click":
        batch.click(msgspec.convert(forwarded.payload, ClickEvent), forwarded.source, event)
        return
    await batch.flush()
    if forwarded.kind == "tick":
        await _on_tick(batch.partition, float(forwarded.payload["now"]))
    elif forwarded.kind == "account_flag":
        await _on_account_flag(forwarded.payload, event, batch.partition)
    elif forwarded.kind == "insight":
        batch.insight(forwarded, event)
        await batch.flush()
    else:
        raise InvalidEvent("invalid_internal_event", f"a forwarded {forwarded.kind} has no place on the profile "
                           f"events topic")


async def _on_erasure_request(event: EventT[Any]) -> None:
    message = event.message
    request = parse_erasure_request(message.value, bounds=bounds)
    if _partition_of(request.user_id) != message.partition:
        # Keyed by something else: sent on to the partition that holds the user's rows.
        await send_output(Output(privacy_requests_in_topic, request.user_id, message.value), metrics)
        return
    await _erase(request)


async def _erase(request: ErasureRequest) -> None:
    """Delete the user's rows from every table and tombstone every compacted record about the user; then the audit
    record. Idempotent: a repeated request finds nothing and says so."""
    user_id = request.user_id
    row, alerts, marketing = profiles.get(user_id), user_alerts.get(user_id), marketing_state.get(user_id)
    profile, session = (row.profile, row.session) if row is not None else (None, None)
    keys = published_keys.get(user_id) or remember_published(None)
    tombstones: dict[str, list[str]] = {
        "profiles": [user_id] if profile is not None else [],
        "sessions": sorted(set(keys.sessions) | set(published_session_ids(row) if row is not None else ())),
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
    # What was deleted, by kind of state. The session state lives in the profile's row: counted when the user had
    # one, open or closed, or published sessions.
    rows: dict[str, int] = {}
    if row is not None:
        del profiles[user_id]
        rows["profiles"] = 1
        if session is not None or keys.sessions or row.published_sessions:
            rows["sessions"] = 1
    for table in (user_alerts, marketing_state, published_keys):
        if user_id in table:
            del table[user_id]
            rows[table.name] = 1
    account = _account_key(user_id)
    if account in integrity_accounts:
        del integrity_accounts[account]
        rows[integrity_accounts.name] = 1
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


def _still_erased(user_id: str, source: SourceRef, review_id: str | None = None) -> bool:
    """For an event of a user with no profile: is it a replayed event of a user erased since? It must not bring the
    user back."""
    marker = _read(erased, _erased_key(user_id))
    if marker is not None and marker.covers(source, review_id):
        metrics.erased_replays.inc()
        return True
    return False


def _read(table: Any, key: str) -> Any:
    """A row of one of the agent's Faust tables, read from its store once (`Table.get` asks the store whether it has
    the key, then reads it: two RocksDB reads). For the reads on every new user's click and every cart change."""
    return table.data.get(key)


def _schedule_facts(profile: UserProfile | None) -> tuple[Any, ...]:
    """What the marketing schedule depends on (models.marketing.schedule)."""
    if profile is None:
        return ()
    return bool(profile.cart), profile.cart_updated_at, profile.orders, profile.last_order_at


def _reschedule(profile: UserProfile, partition: int) -> None:
    current = _read(marketing_state, profile.user_id)
    scheduled = schedule(current, profile, partition, MARKETING_CONFIG)
    if scheduled is None:
        if current is not None:
            del marketing_state[profile.user_id]
    elif current is None or scheduled.scheduled != current.scheduled:
        marketing_state[profile.user_id] = scheduled
        MARKETING_DUE.push(partition, triggers_due(scheduled), profile.user_id)


async def _after_insight(profile: UserProfile, insight: dict[str, Any], partition: int, event: EventT[Any]) -> None:
    await _assess_account(profile, insight, partition, event)
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


def _account_key(user_id: str) -> str:
    return account_key(user_id, ERASURE_SALT, _partition_of(user_id))


async def _assess_account(profile: UserProfile, insight: dict[str, Any], partition: int, event: EventT[Any]) -> None:
    """The integrity step's user stage: fold the review into its author's account state and send the review on to
    its product's partition with what the account looked like (models/integrity/account.py). The product windows
    get the review from there, after its integrity verdict (agents/products.py). The source is this message's own
    position on the profile events: the product stage's replay guard."""
    account = account_key(profile.user_id, ERASURE_SALT, partition)
    facts = review_facts(insight)._replace(user_id=account)
    message = event.message
    source = SourceRef(message.topic, message.partition, message.offset)
    update = fold_account_review(_read(integrity_accounts, account), profile, facts, source, INTEGRITY_CONFIG)
    if update.evidence is None:
        return  # a replay: its product has it
    integrity_accounts[account] = update.state
    review = ForwardedEvent(kind="review", source_topic=source.topic, source_partition=source.partition,
                            source_offset=source.offset, payload={"insight": insight,
                                                                  "evidence": update.evidence.asdict()})
    await send_output(Output(product_events_topic, facts.product_id, review), metrics)


async def _on_account_flag(payload: dict[str, Any], event: EventT[Any], partition: int) -> None:
    """A review of the account was flagged: taint its other recent reviews, on their products' partitions."""
    flag = AccountFlag(**payload)
    if account_partition(flag.user_id) != partition:
        # A keying bug or a forgery: the account's row is on another partition.
        raise InvalidEvent("invalid_internal_event", f"an account flag of partition "
                           f"{account_partition(flag.user_id)} read on partition {partition}")
    state = _read(integrity_accounts, flag.user_id)
    outcome = flag_account(state, flag, INTEGRITY_CONFIG)
    if outcome.state is None or outcome.state is state:
        return  # an account this worker never saw review, or a flag seen before
    integrity_accounts[flag.user_id] = outcome.state
    message = event.message
    for taint in outcome.taints:
        forwarded = ForwardedEvent(kind="taint", source_topic=message.topic, source_partition=message.partition,
                                   source_offset=message.offset, payload=taint.asdict())
        await send_output(Output(product_events_topic, taint.product_id, forwarded), metrics)


async def _on_tick(partition: int, now: float) -> None:
    """A tick for one partition (see tick_partitions): close idle sessions, fire due marketing triggers, end quiet
    VIP incidents — the rows the due index names, each re-read and decided from the table."""
    if not SESSIONS_DUE.is_loaded(partition):
        _load_due_times()
    for user_id in SESSIONS_DUE.pop_due(partition, now):
        row = profiles.get(user_id)
        if row is None or row.session is None:
            continue
        state, closed = expire(row.session, now, SESSION_CONFIG)
        if closed is None:
            continue  # extended by a click since (which scheduled its own close), or closed already
        # The closed state stays in the row (models/user_row.py); what `expire` would forget later is kept.
        row.session = state
        remember_sessions(row, [closed])
        publish = publish_pending(row)
        profiles[user_id] = row
        await send_output(Output(sessions_topic, closed.session_id, closed.dumps()), metrics)
        if publish:
            await send_output(Output(profiles_topic, user_id, row.profile.dumps()), metrics)
    for user_id in MARKETING_DUE.pop_due(partition, now):
        marketing = marketing_state.get(user_id)
        if marketing is not None:
            row = profiles.get(user_id)
            await _send_triggers(due_triggers(marketing, row.profile if row else None, now, MARKETING_CONFIG),
                                 partition)
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


def _load_due_times() -> None:
    """After a rebalance: scan this worker's rows in the background, filling the due indexes of every active
    partition (streams/delivery/due_index.py); the session scan decodes only the session of each stored row."""
    actives = {tp.partition for tp in app.assignor.assigned_actives() if tp.topic == settings.profile_events_topic}

    def partition_of(user_id: str, _row: Any) -> int:
        return _partition_of(user_id)

    session_of = profiles.field_reader("session")

    def session_due_of(raw: bytes) -> float | None:
        state: SessionState | None = session_of(raw)
        return None if state is None else close_due(state, SESSION_CONFIG)

    SESSIONS_DUE.rebuild_in_background(profiles.raw_items(), session_due_of, partition_of, actives)
    MARKETING_DUE.rebuild_in_background(marketing_state.items(), triggers_due, partition_of, actives)
    VIP_DUE.rebuild_in_background(user_alerts.items(), _vip_due, partition_of, actives)
    log.info("due times of partitions %s: rebuilding from the tables in the background", sorted(actives))


def _partition_of(user_id: str) -> int:
    """The profile-events partition of a user: where its rows live and where its ticks arrive. The producer's
    default partitioner (murmur2 of the key over all the topic's partitions, as Kafka's Java client), which the
    worker's own sends to the topic use; remembered for the users seen lately (a pure-Python murmur2 costs a few µs,
    and a user's clicks come in runs)."""
    partition = _PARTITIONS.get(user_id)
    if partition is None:
        if len(_PARTITIONS) >= _PARTITIONS_REMEMBERED:
            _PARTITIONS.clear()
        partition = _PARTITIONS[user_id] = _PARTITIONER(user_id.encode("utf-8"), _ALL_PARTITIONS, _ALL_PARTITIONS)
    return partition


_PARTITIONER = DefaultPartitioner()
_ALL_PARTITIONS = list(range(settings.topic_partitions))
_PARTITIONS: dict[str, int] = {}
_PARTITIONS_REMEMBERED = 65_536


def _vip_due(state: UserAlertState) -> float | None:
    return incidents_due(state, ALERT_CONFIG)


async def _send_triggers(decision: MarketingDecision, partition: int) -> None:
    state = decision.state
    if state.scheduled or state.sent:
        if _read(marketing_state, state.user_id) != state:
            marketing_state[state.user_id] = state
        MARKETING_DUE.push(partition, triggers_due(state), state.user_id)
    elif state.user_id in marketing_state:
        del marketing_state[state.user_id]
    for kind, reason in decision.refused:
        metrics.marketing_triggers.labels(kind, reason).inc()
    if decision.triggers:
        _remember(state.user_id, messages=[trigger.message_id for trigger in decision.triggers])
    for trigger in decision.triggers:
        await send_output(Output(marketing_triggers_topic, trigger.user_id, trigger), metrics)
        metrics.marketing_triggers.labels(trigger.kind, "admitted").inc()


@app.timer(interval=settings.timer_tick_s)  # type: ignore[untyped-decorator]
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
@served_by_owner(profiles.table, "user_id")
async def profile_view(web: Any, request: Any, user_id: str) -> Any:
    """The current profile and open session of a user, served by whichever worker owns the user's partition."""
    row = profiles.get(user_id)
    if row is None:
        return web.json({"error": f"no profile for user {user_id!r}"}, status=404)
    return web.json({"profile": row.profile.to_dict(), "session": row.session.to_dict() if row.session else None})
