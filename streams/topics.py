"""Every topic reviewstream reads or writes, in one registry: its name setting, key, partitions, cleanup and
retention, the JSON Schema of its values. The Faust declarations (`streams/app.py`), the admin set-up below, compose's
`topics` service and the k8s ConfigMap are all derived from it or checked against it
(tests/unit/test_deploy_consistency.py).

>>> [spec.name for spec in topic_specs(Settings()) if spec.role == "dead_letters"]
['dead-letters']

The broker runs with `auto.create.topics.enable=false`, so a mistyped topic name fails loudly instead of creating a
one-partition topic whose partition count no longer matches its changelogs.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import TopicAlreadyExistsError

from models.bounds import TOPIC_MAX_MESSAGE_BYTES
from streams.settings import Settings

__all__ = ["REGISTRY", "TopicRole", "TopicSpec", "ensure_topics", "prepare_worker_topics", "topic_spec",
           "topic_specs"]

log = logging.getLogger(__name__)

TopicRole = Literal["reviews", "clickstream", "insights", "dead_letters", "profiles", "sessions", "product_sentiment",
                    "alerts", "marketing", "support_queue", "privacy_requests", "privacy_audit", "profile_events",
                    "product_events", "marketing_triggers", "review_integrity", "integrity_bands"]

# Latest value per key is what consumers want from these: compaction keeps it forever, drops the rest.
_COMPACT: Mapping[str, str] = {"cleanup.policy": "compact"}


@dataclass(frozen=True, slots=True)
class TopicSpec:
    name: str
    partitions: int
    replication: int
    config: dict[str, str] = field(default_factory=dict)
    role: str = ""
    key: str = ""
    # models/schemas/<schema>.schema.json describes the values; None for raw inputs of no fixed shape.
    schema: str | None = None
    internal: bool = False


@dataclass(frozen=True, slots=True)
class _Entry:
    name: Callable[[Settings], str]
    key: str
    schema: str | None
    config: Callable[[Settings], Mapping[str, str]] = lambda _settings: {}
    internal: bool = False


def _dead_letter_retention(settings: Settings) -> Mapping[str, str]:
    # Kept longer than outputs by default: someone has to look at them and maybe redrive them; and no longer than
    # configured, since they hold (sealed) personal data.
    return {"retention.ms": str(int(settings.dead_letter_retention_days * 24 * 3600 * 1000))}


REGISTRY: Mapping[TopicRole, _Entry] = {
    "reviews": _Entry(lambda s: s.reviews_topic, "review_id", "review"),
    "clickstream": _Entry(lambda s: s.clickstream_topic, "user_id (or a visitor or session id)", "click"),
    "insights": _Entry(lambda s: s.insights_topic, "review_id", "review_insight"),
    "dead_letters": _Entry(lambda s: s.dead_letters_topic, "source_topic:partition:offset", "dead_letter",
                           _dead_letter_retention),
    "profiles": _Entry(lambda s: s.profiles_topic, "user_id", "user_profile", lambda _s: _COMPACT),
    "sessions": _Entry(lambda s: s.sessions_topic, "session_id", "session", lambda _s: _COMPACT),
    "product_sentiment": _Entry(lambda s: s.product_sentiment_topic, "product_id:window_start", "product_sentiment",
                                lambda _s: _COMPACT),
    # A firing alert and its resolution share a key; a message is rewritten under its key by a replay.
    "alerts": _Entry(lambda s: s.alerts_topic, "alert_id", "alert", lambda _s: _COMPACT),
    "marketing": _Entry(lambda s: s.marketing_topic, "message_id", "marketing_message", lambda _s: _COMPACT),
    "support_queue": _Entry(lambda s: s.support_queue_topic, "review_id", "review_insight"),
    # Keyed by user_id like the profile tables (co-partitioned): a request reaches the worker holding the user's rows.
    "privacy_requests": _Entry(lambda s: s.privacy_requests_topic, "user_id", "erasure_request"),
    # Kept for good: the record of what was erased holds no personal data, and auditors ask years later.
    "privacy_audit": _Entry(lambda s: s.privacy_audit_topic, "request_id", "erasure_audit",
                            lambda _s: {"retention.ms": "-1"}),
    # Repartition topics: same partition count as the tables they feed (source and changelog must match).
    "profile_events": _Entry(lambda s: s.profile_events_topic, "user_id", None, internal=True),
    "product_events": _Entry(lambda s: s.product_events_topic, "product_id", None, internal=True),
    "marketing_triggers": _Entry(lambda s: s.marketing_triggers_topic, "user_id", None, internal=True),
    # A later revision of a verdict (later evidence flagged the review) replaces the earlier one under its key.
    "review_integrity": _Entry(lambda s: s.review_integrity_topic, "review_id", "review_integrity",
                               lambda _s: _COMPACT),
    "integrity_bands": _Entry(lambda s: s.integrity_bands_topic, "band:bucket", None, internal=True),
}


def topic_spec(settings: Settings, role: TopicRole) -> TopicSpec:
    entry = REGISTRY[role]
    # Stated on every topic we create, so that whatever our producer accepts the broker accepts (models/bounds.py).
    config = {"max.message.bytes": str(TOPIC_MAX_MESSAGE_BYTES), **entry.config(settings)}
    return TopicSpec(entry.name(settings), settings.topic_partitions, settings.topic_replication, config, role,
                     entry.key, entry.schema, entry.internal)


def topic_specs(settings: Settings) -> list[TopicSpec]:
    return [topic_spec(settings, role) for role in REGISTRY]


@contextlib.asynccontextmanager
async def _admin(settings: Settings) -> AsyncIterator[AIOKafkaAdminClient]:
    admin = AIOKafkaAdminClient(**settings.kafka().client_kwargs(), client_id="reviewstream-admin")
    await admin.start()
    try:
        yield admin
    finally:
        await admin.close()


async def ensure_topics(settings: Settings, specs: list[TopicSpec] | None = None) -> list[str]:
    """Create the missing topics; return the names created. Existing topics are left as they are."""
    async with _admin(settings) as admin:
        return await _create_missing(admin, topic_specs(settings) if specs is None else specs)


async def prepare_worker_topics(settings: Settings) -> None:
    """What a worker needs before it joins its group, over one admin connection: its topics exist, and a clickstream
    the profile fold reads directly (`clicks_keyed_by_user`) has `topic_partitions` partitions (Faust co-partitions it
    with the fold's own topic and the tables follow the partition number)."""
    async with _admin(settings) as admin:
        await _create_missing(admin, topic_specs(settings))
        if settings.clicks_keyed_by_user:
            _check_clickstream_partitions(await admin.describe_topics([settings.clickstream_topic]), settings)


async def _create_missing(admin: AIOKafkaAdminClient, specs: list[TopicSpec]) -> list[str]:
    existing = set(await admin.list_topics())
    missing = [s for s in specs if s.name not in existing]
    if not missing:
        return []
    try:
        await admin.create_topics([NewTopic(s.name, s.partitions, s.replication, topic_configs=s.config)
                                   for s in missing])
    except TopicAlreadyExistsError:
        # Another worker created them between our list and our create: fine.
        pass
    log.info("created topics %s", ", ".join(s.name for s in missing))
    return [s.name for s in missing]


def _check_clickstream_partitions(described: list[dict[str, Any]], settings: Settings) -> None:
    for topic in described:
        partitions = len(topic.get("partitions") or ())
        if partitions and partitions != settings.topic_partitions:
            raise SystemExit(
                f"the clickstream topic {settings.clickstream_topic!r} has {partitions} partitions, not "
                f"REVIEWSTREAM_TOPIC_PARTITIONS={settings.topic_partitions}: set REVIEWSTREAM_TOPIC_PARTITIONS to "
                f"{partitions} for a new deployment, or REVIEWSTREAM_CLICKS_KEYED_BY_USER=false to repartition "
                f"every click")
