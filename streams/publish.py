"""Sending outputs so that an event is acked only after Kafka has its results."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from aiokafka.errors import KafkaError
from faust.types import TopicT

from streams.metrics import Metrics

__all__ = ["publish"]

log = logging.getLogger(__name__)

# Kafka being briefly unavailable is not a reason to drop or dead-letter a result: keep trying, slower each time.
_RETRY_DELAYS_S = (0.1, 0.5, 1.0, 2.0, 5.0)


async def publish(topic: TopicT, *, key: str, value: Any, metrics: Metrics) -> None:
    """Send and wait for the broker's acknowledgement; retry on Kafka errors until it succeeds or we are cancelled."""
    attempt = 0
    while True:
        try:
            # force=True: Faust would otherwise attach the message to the current event and send it only when that
            # event is acked, but we ack only after this send is confirmed.
            pending = await topic.send(key=key.encode("utf-8"), value=value, force=True)
            await pending
            metrics.events_produced.labels(topic.get_topic_name()).inc()
            return
        except KafkaError as exc:
            metrics.produce_errors.labels(topic.get_topic_name(), type(exc).__name__).inc()
            delay = _RETRY_DELAYS_S[min(attempt, len(_RETRY_DELAYS_S) - 1)]
            log.warning("sending to %s failed (%s); retrying in %.1fs", topic.get_topic_name(), exc, delay)
            attempt += 1
            await asyncio.sleep(delay)
