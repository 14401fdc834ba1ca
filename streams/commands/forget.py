"""`reviewstream forget USER_ID`: send an erasure request to the workers and, optionally, wait for its audit record.

The request goes to the `privacy-requests` topic keyed by user_id — the way the shop's account system sends them —
so it reaches the worker that holds the user's rows (models/privacy.py says what it erases).
"""

from __future__ import annotations

import time
import uuid
from typing import Any

import orjson
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

from streams.kafka.client import partitions_of
from streams.settings import Settings

__all__ = ["request_erasure"]


async def request_erasure(settings: Settings, user_id: str, *, request_id: str | None = None,
                          wait_s: float = 0.0) -> tuple[str, dict[str, Any] | None]:
    """Send the request; return its id and, when `wait_s` > 0, the audit record (None if none came in time)."""
    connection = settings.kafka()
    request_id = request_id or f"erase-{uuid.uuid4().hex}"
    consumer = None
    if wait_s > 0:
        # Positioned at the end before the request is sent, so the audit cannot slip past.
        consumer = AIOKafkaConsumer(**connection.client_kwargs(), group_id=None, enable_auto_commit=False)
        await consumer.start()
        partitions = [TopicPartition(settings.privacy_audit_topic, p)
                      for p in sorted(await partitions_of(consumer, settings.privacy_audit_topic))]
        if not partitions:
            await consumer.stop()
            raise RuntimeError(f"topic {settings.privacy_audit_topic!r} does not exist: has a worker ever run here?")
        consumer.assign(partitions)
        await consumer.seek_to_end(*partitions)
        for tp in partitions:
            await consumer.position(tp)
    producer = AIOKafkaProducer(**connection.client_kwargs(), acks="all")
    await producer.start()
    try:
        request = {"request_id": request_id, "user_id": user_id, "requested_at": time.time()}
        await (await producer.send(settings.privacy_requests_topic, orjson.dumps(request), key=user_id.encode()))
    finally:
        await producer.stop()
    if consumer is None:
        return request_id, None
    try:
        deadline = time.monotonic() + wait_s
        while time.monotonic() < deadline:
            for records in (await consumer.getmany(timeout_ms=500)).values():
                for record in records:
                    if record.key == request_id.encode():
                        return request_id, orjson.loads(record.value or b"{}")
        return request_id, None
    finally:
        await consumer.stop()
