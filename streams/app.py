"""The Faust application: settings, topics, web pages (/metrics, /health). Agents live in `agents/`.

Run it with `reviewstream worker` (or `faust -A streams.app worker`).
"""

from __future__ import annotations

import contextlib
import functools
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, ClassVar

import faust
import rocksdict
from faust.exceptions import SameNode
from faust.types import EventT
from faust.web import Request, Response, View
from faust.web.exceptions import ServiceUnavailable
from prometheus_client import generate_latest

from models.alerts import Alert
from models.bounds import PRODUCER_MAX_REQUEST_BYTES
from models.dead_letter import DeadLetter
from models.errors import InvalidEvent
from models.forwarded_event import ForwardedEvent, ForwardedSources
from models.insight import ReviewInsight
from models.integrity.records import ReviewIntegrity
from models.marketing import MarketingMessage, MarketingTrigger
from models.privacy import ErasureAudit
from models.product_sentiment import ProductWindow
from streams.compat.faust_internals import committed_offset, partition_databases, proxy_request
from streams.delivery import due_index
from streams.delivery.dead_letters import DeadLetters
from streams.delivery.fold_loop import FoldPartition, run_fold_loop
from streams.delivery.lag import LagTracker
from streams.delivery.output import OutputRejected, send_output
from streams.delivery.skipped_reader import KafkaSkippedReader
from streams.delivery.source_guard import ForwardedReader, SourceEnds, kafka_end_offsets
from streams.kafka.client import KafkaConnection
from streams.metrics import Metrics
from streams.security.api_auth import ApiGuard
from streams.settings import current_settings
from streams.topics import TopicRole, topic_spec

__all__ = [
    "alerts_topic",
    "app",
    "bounds",
    "clickstream_topic",
    "dead_letters",
    "dead_letters_topic",
    "fold_forwarded_each",
    "fold_in_batches",
    "forwarded_reader",
    "forwarded_sources",
    "guarded",
    "insights_in_topic",
    "insights_topic",
    "integrity_bands_in_topic",
    "integrity_bands_topic",
    "kafka",
    "lag",
    "marketing_topic",
    "marketing_triggers_in_topic",
    "marketing_triggers_topic",
    "metrics",
    "privacy_audit_topic",
    "privacy_requests_in_topic",
    "product_events_in_topic",
    "product_events_topic",
    "product_sentiment_topic",
    "profile_events_topic",
    "profiles_topic",
    "reread",
    "review_integrity_topic",
    "reviews_topic",
    "served_by_owner",
    "sessions_topic",
    "settings",
    "support_queue_topic",
    "tombstone_topics",
]

settings = current_settings()
kafka: KafkaConnection = settings.kafka()
metrics = Metrics()
lag = LagTracker()
# How often lag, loop delay and assignment are sampled; Prometheus scrapes every 15 s by default.
SAMPLE_INTERVAL_S = 5.0
TABLE_SAMPLE_INTERVAL_S = 15.0


app = faust.App(
    settings.app_id,
    broker=kafka.faust_broker,
    broker_credentials=kafka.faust_credentials(),
    # Faust would otherwise read bare variables such as WEB_PORT, which Kubernetes sets for a service named `web`.
    env_prefix="REVIEWSTREAM_FAUST_",
    # `app.discover()` (the worker command) imports every module of the agents package.
    autodiscover=["agents"],
    origin="streams.app",
    # Per app id: RocksDB files of another deployment (another changelog) must never be mistaken for ours.
    datadir=str(settings.datadir / settings.app_id),
    store=settings.store,
    table_standby_replicas=settings.table_standby_replicas,
    web_enabled=True,
    web_host=settings.web_host,
    web_bind=settings.web_host,
    web_port=settings.web_port,
    web_in_thread=False,
    topic_partitions=settings.topic_partitions,
    topic_replication_factor=settings.topic_replication,
    # A new consumer group (first deployment, or the tests) starts from the beginning: no review is skipped.
    consumer_auto_offset_reset="earliest",
    producer_acks=-1,
    # Faust's default linger of 0 sends one produce request per message; a few ms lets the producer batch (profiling
    # showed most of the worker's time in socket writes of single-message requests). Table changelogs batch better
    # still with 20 ms (bench.profiles: +9 % over 5 ms), a delay that is small beside an LLM call.
    producer_linger=0.02,
    producer_max_batch_size=512 * 1024,
    # Faust's default is 20 minutes: a send stuck that long would stall an agent without a word. After a minute the
    # send fails; the review and marketing agents retry it with a warning, a table write crashes the worker (replay).
    producer_request_timeout=60.0,
    # Stated rather than inherited: every output is built to fit it and every topic we create allows more
    # (models/bounds.py), so no record the agents make is refused for its size.
    producer_max_request_size=PRODUCER_MAX_REQUEST_BYTES,
    key_serializer="raw",
    value_serializer="json",
    web_tables_enabled=False,
)

def _declare(role: TopicRole, value_type: type | None = bytes) -> faust.types.TopicT:
    """The Faust topic of a registry entry (streams/topics.py). Raw bytes (the default) for what the agents read, so
    that the agent, not Faust's decoder, decides what is malformed and dead-letters it; plain JSON for the rest, of
    `value_type` records (None: whatever the agent sends)."""
    spec = topic_spec(settings, role)
    if value_type is bytes:
        return app.topic(spec.name, key_type=bytes, value_type=bytes, key_serializer="raw", value_serializer="raw",
                         partitions=spec.partitions)
    return app.topic(spec.name, key_type=bytes, value_type=value_type, key_serializer="raw", value_serializer="json",
                     partitions=spec.partitions)


reviews_topic = _declare("reviews")
clickstream_topic = _declare("clickstream")
insights_topic = _declare("insights", ReviewInsight)
# The insights topic read back as raw bytes (the review agent writes it with the ReviewInsight record).
insights_in_topic = _declare("insights")
dead_letters_topic = _declare("dead_letters", DeadLetter)
# Profiles and sessions are sent as the JSON their records encode themselves (models/structs.py).
profiles_topic = _declare("profiles")
sessions_topic = _declare("sessions")
product_sentiment_topic = _declare("product_sentiment", ProductWindow)
alerts_topic = _declare("alerts", Alert)
marketing_topic = _declare("marketing", MarketingMessage)
# Values are the insights as the insights agent read them (plain dicts).
support_queue_topic = _declare("support_queue", None)
profile_events_topic = _declare("profile_events", ForwardedEvent)
product_events_topic = _declare("product_events", ForwardedEvent)
marketing_triggers_topic = _declare("marketing_triggers", MarketingTrigger)
# The internal topics read back as raw bytes: their readers parse them as strictly as any input.
product_events_in_topic = _declare("product_events")
marketing_triggers_in_topic = _declare("marketing_triggers")
privacy_audit_topic = _declare("privacy_audit", ErasureAudit)
privacy_requests_in_topic = _declare("privacy_requests")
review_integrity_topic = _declare("review_integrity", ReviewIntegrity)
integrity_bands_topic = _declare("integrity_bands", ForwardedEvent)
integrity_bands_in_topic = _declare("integrity_bands")
# Raw declarations of the compacted outputs keyed by a user (or a user's session, message, alert): a record with no
# value (a tombstone) makes compaction drop the key; Faust's JSON codec would write `null` instead.
tombstone_topics = {role: _declare(role) for role in ("profiles", "sessions", "marketing", "alerts")}

bounds = settings.field_bounds()
forwarded_sources = ForwardedSources(clicks=settings.clickstream_topic, insights=settings.insights_topic,
                                     profile_events=settings.profile_events_topic,
                                     product_events=settings.product_events_topic,
                                     integrity_bands=settings.integrity_bands_topic)
# How the folds read what other workers forwarded to them: strictly, and only from sources that exist.
forwarded_reader = ForwardedReader(forwarded_sources, bounds, SourceEnds(kafka_end_offsets(kafka)))
# Offsets the consumer skipped are read back from the same brokers, with the same credentials.
reread = KafkaSkippedReader(kafka)
# The views that show personal data ask for the API token (streams/security/api_auth.py).
guarded = ApiGuard(settings.api_token)


def served_by_owner(table: Any, match_info: str) -> Callable[[Any], Any]:
    """Decorate a page that reads `table` at the key in the URL (`match_info`): answered by the worker that holds
    that key's partition, proxied there from any other.

    Faust's own `app.table_route` finds the partition from the key as the table's key codec writes it (JSON:
    b'"u001"'), but every table row lives in the partition of its input event, whose key is the raw id (b'u001'):
    with two workers it sent about half of the requests to a worker that did not hold the row (a 404). The partition
    here is the raw key's, by the producer's partitioner over the table's changelog topic, as the input's."""
    changelog = table.changelog_topic.get_topic_name()

    def decorate(view: Any) -> Any:
        @functools.wraps(view)
        async def routed(page: Any, request: Any, *args: Any, **kwargs: Any) -> Any:
            key = request.match_info[match_info].encode("utf-8")
            try:
                owner = app.assignor.key_store(changelog, key)
            except KeyError as exc:  # no assignment yet (starting, rebalancing)
                raise ServiceUnavailable() from exc
            try:
                return await proxy_request(app, owner, page.web, request)
            except SameNode:
                return await view(page, request, *args, **kwargs)

        return routed

    return decorate
dead_letters = DeadLetters(metrics=metrics, sealer=settings.dead_letter_keyring(), topic=dead_letters_topic)


async def fold_in_batches(stream: Any, fold: FoldPartition, *, agent: str,
                          on_finished: Callable[[Any, float | None], None] | None = None) -> None:
    """A table agent's loop: the shared fold loop (streams/delivery/fold_loop.py: offset order, acks after the outputs
    are sent, skipped offsets read back, poison pills dead-lettered alone) with this worker's settings."""
    await run_fold_loop(stream, fold, app=app, metrics=metrics, reader=reread, dead_letters=dead_letters, agent=agent,
                        max_batch=settings.fold_batch_max_events, poison_attempts=settings.poison_max_attempts,
                        on_finished=on_finished)


async def fold_forwarded_each(events: Sequence[EventT[Any]],
                              fold: Callable[[ForwardedEvent, EventT[Any]], Awaitable[None]]) -> None:
    """Each event of an internal topic read strictly and folded on its own, in order. A garbled or forged one is
    never folded (a forged source offset would hide that partition's real events): it becomes a dead letter, as does
    an event whose output Kafka refuses."""
    for event in events:
        message = event.message
        try:
            await fold(await forwarded_reader.read(message.value), event)
        except InvalidEvent as exc:
            await send_output(dead_letters.output(message, exc.reason, exc.detail, exc, stage="fold"), metrics)
        except OutputRejected as exc:
            await dead_letters.send(event, exc, stage="fold")


@app.page("/metrics")
class MetricsView(View):
    async def get(self, request: Request) -> Response:
        return self.bytes(generate_latest(metrics.registry), content_type="text/plain; version=0.0.4")


@app.page("/health")
class HealthView(View):
    async def get(self, request: Request) -> Response:
        assigned = sorted(f"{tp.topic}:{tp.partition}" for tp in app.consumer.assignment()) if app.consumer else []
        # Ready means serving: partitions assigned, no rebalance running, and the tables rebuilt from their changelogs.
        recovered = app.tables.recovery.completed.is_set()  # type: ignore[attr-defined]
        ready = bool(assigned) and not app.rebalancing and recovered
        body = {"status": "ready" if ready else "starting", "assigned": assigned, "tables_recovered": recovered}
        return self.json(body, status=200 if ready else 503)


class _LoopClock:
    last: float | None = None
    sampled: ClassVar[set[Any]] = set()


@app.timer(interval=SAMPLE_INTERVAL_S)  # type: ignore[untyped-decorator]  # Faust's decorators are unannotated
async def sample_consumer_state() -> None:
    """Consumer lag per input partition, rebalances, assignment and event-loop delay, as gauges."""
    now_mono = time.monotonic()
    if _LoopClock.last is not None:
        metrics.event_loop_lag.set(max(0.0, now_mono - _LoopClock.last - SAMPLE_INTERVAL_S))
    _LoopClock.last = now_mono
    consumer = app.consumer
    inputs = {settings.reviews_topic, settings.clickstream_topic}
    assigned = [tp for tp in consumer.assignment() if tp.topic in inputs]
    metrics.assigned_partitions.set(len(assigned))
    now = time.time()
    # A revoked partition's gauges would freeze at their last value and keep lag alerts firing on this worker.
    for gone in _LoopClock.sampled - set(assigned):
        lag.forget(gone)
        for gauge in (metrics.consumer_lag_messages, metrics.consumer_lag_seconds, metrics.seconds_since_commit):
            gauge.remove(gone.topic, str(gone.partition))
    _LoopClock.sampled = set(assigned)
    for tp in assigned:
        # Faust keeps the committed offsets privately; they are the next offset to read, like the highwater.
        committed = committed_offset(consumer, tp)
        try:
            end = consumer.highwater(tp)
        except (AssertionError, KeyError, AttributeError):  # not fetched yet after an assignment
            end = None
        sample = lag.sample(tp, committed=committed, end_offset=end, now=now)
        labels = (tp.topic, str(tp.partition))
        metrics.consumer_lag_messages.labels(*labels).set(sample.messages)
        metrics.consumer_lag_seconds.labels(*labels).set(sample.seconds)
        metrics.seconds_since_commit.labels(*labels).set(sample.seconds_since_commit)


@app.timer(interval=TABLE_SAMPLE_INTERVAL_S)  # type: ignore[untyped-decorator]
async def sample_table_sizes() -> None:
    """Keys per table on this worker (its active and standby partitions): RocksDB's own estimate, which costs
    nothing, where counting 1M profiles would stall the event loop; the memory store counts."""
    for table in app.tables.values():
        metrics.table_keys.labels(table.name).set(table_keys(table))


def table_keys(table: Any) -> int:
    store = table.data
    dbs = partition_databases(store)
    if dbs is None:
        return len(store)
    total = 0
    for db in list(dbs.values()):
        # A partition's DB closed by a rebalance meanwhile is counted next time.
        with contextlib.suppress(rocksdict.DbClosedError):
            total += int(db.property_int_value("rocksdb.estimate-num-keys") or 0)
    return total


class _RebalanceSensor(faust.Sensor):
    """Faust's monitoring hook: counts rebalances in our registry (Faust's own sensor uses a gauge for it)."""

    def on_rebalance_start(self, app: faust.types.AppT) -> dict[str, Any]:
        metrics.rebalances.inc()
        return {}


app.sensors.add(_RebalanceSensor())


@app.on_partitions_revoked.connect
def _forget_due_times(sender: Any, /, *args: Any, signal: Any, **kwargs: Any) -> None:
    # Another worker may change these partitions' rows before they come back: the agents' due indexes are rebuilt
    # from their tables then.
    due_index.clear_all()
