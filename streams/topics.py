"""Topic declarations and their creation on the broker with explicit partition counts.

The broker runs with `auto.create.topics.enable=false`, so a mistyped topic name fails loudly instead of creating a
one-partition topic whose partition count no longer matches its changelogs.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import TopicAlreadyExistsError

from models.bounds import TOPIC_MAX_MESSAGE_BYTES
from streams.settings import Settings

__all__ = ["TopicSpec", "bootstrap_servers", "ensure_topics", "topic_specs"]

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class TopicSpec:
    name: str
    partitions: int
    replication: int
    config: dict[str, str] = field(default_factory=dict)


def bootstrap_servers(broker_url: str) -> str:
    """`kafka://host:port;host2:port` (Faust style) → `host:port,host2:port` (aiokafka style)."""
    servers = []
    for part in broker_url.replace(";", ",").split(","):
        part = part.strip()
        if "://" in part:
            part = part.split("://", 1)[1]
        if part:
            servers.append(part)
    return ",".join(servers)


def topic_specs(settings: Settings) -> list[TopicSpec]:
    n, rf = settings.topic_partitions, settings.topic_replication
    retention_ms = str(int(settings.dead_letter_retention_days * 24 * 3600 * 1000))
    specs = [
        TopicSpec(settings.reviews_topic, n, rf),
        TopicSpec(settings.clickstream_topic, n, rf),
        TopicSpec(settings.insights_topic, n, rf),
        # Dead letters are kept longer: someone has to look at them and maybe replay them.
        TopicSpec(settings.dead_letters_topic, n, rf, {"retention.ms": retention_ms}),
        # Latest value per key is what consumers want from these: compaction keeps it forever, drops the rest.
        TopicSpec(settings.profiles_topic, n, rf, {"cleanup.policy": "compact"}),
        TopicSpec(settings.sessions_topic, n, rf, {"cleanup.policy": "compact"}),
        TopicSpec(settings.product_sentiment_topic, n, rf, {"cleanup.policy": "compact"}),
        # Keyed by alert_id / message_id: a firing alert and its resolution share a key, compaction keeps the latest.
        TopicSpec(settings.alerts_topic, n, rf, {"cleanup.policy": "compact"}),
        TopicSpec(settings.marketing_topic, n, rf, {"cleanup.policy": "compact"}),
        TopicSpec(settings.support_queue_topic, n, rf),
        # Repartition topics: same partition count as the tables they feed (source and changelog must match).
        TopicSpec(settings.profile_events_topic, n, rf),
        TopicSpec(settings.product_events_topic, n, rf),
        TopicSpec(settings.marketing_triggers_topic, n, rf),
    ]
    # Stated on every topic we create, so that whatever our producer accepts the broker accepts (models/bounds.py).
    size = {"max.message.bytes": str(TOPIC_MAX_MESSAGE_BYTES)}
    return [TopicSpec(s.name, s.partitions, s.replication, {**size, **s.config}) for s in specs]


@contextlib.asynccontextmanager
async def _admin(settings: Settings) -> AsyncIterator[AIOKafkaAdminClient]:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap_servers(settings.broker), client_id="reviewstream-admin")
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
