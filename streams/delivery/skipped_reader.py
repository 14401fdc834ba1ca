"""Reading offsets the consumer skipped straight from Kafka (every agent: streams/delivery/pipelined.py for the review
agent, streams/delivery/forwarding.py `with_skipped` for the forwarders and folds).

Seeking Faust's consumer back does not work, for two reasons found in faust-streaming 0.15.3's source:

- `Consumer.seek` sets the partition's read offset, but the fetch loop sets it again after every message it hands
  to the stream, including the rest of a batch it fetched before the seek. When the agent is slower than its input
  (the review agent, waiting for the LLM, nearly always is) the fetch loop sits mid-batch on a full stream buffer, so
  the seek is undone and the re-fetched offsets are then dropped as already read ("DROPPED MESSAGE ROFF").
- The events already queued behind the one that revealed the hole arrive before the re-read, and telling them from
  the re-read takes guessing; with many events in flight a wrong guess means a lost review or a stuck partition.

So the agents leave Faust's position alone and reads the missing offsets with a short-lived consumer of its own (no
group, nothing committed), before it takes the event that revealed the hole. Faust never delivered those messages and
its gap bookkeeping counts them as done already, so they are not acked through Faust: the agent only holds back the
ack of the revealing event (and so the commit) until they are finished.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition
from faust.types import TP

from streams.kafka.client import KafkaConnection

__all__ = ["KafkaSkippedReader", "RereadEvent", "RereadMessage", "SkippedOffsetsUnreadable", "SkippedReader"]

log = logging.getLogger(__name__)


class SkippedOffsetsUnreadable(RuntimeError):
    """The skipped offsets could not be read back in time; the worker must stop so that they are replayed."""


@dataclass(frozen=True, slots=True)
class RereadMessage:
    """The fields of a Faust message that the agents read, for a message read back outside Faust."""

    tp: TP
    offset: int
    key: bytes | None
    value: bytes | None
    timestamp: float  # seconds, like Faust's Message.timestamp

    @property
    def topic(self) -> str:
        return self.tp.topic

    @property
    def partition(self) -> int:
        return self.tp.partition


@dataclass(frozen=True, slots=True)
class RereadEvent:
    """Stands for a Faust event that was never delivered; it has nothing to ack in Faust. `value` is the message
    decoded as the topic would decode it, when the agent asked for that (the folds read `event.value`)."""

    message: RereadMessage
    value: Any = None


# (partition, first missing offset, offset of the event that revealed the hole) → the messages in between, in order.
SkippedReader = Callable[[TP, int, int], AsyncIterator[RereadMessage]]


class KafkaSkippedReader:
    """Reads `[start, end)` of one partition with a consumer of its own (no group), then closes it.

    >>> reader = KafkaSkippedReader(KafkaConnection.parse("127.0.0.1:9092"))
    >>> # async for message in reader(TP("reviews", 0), 496, 504): ...

    Offsets that do not exist (compacted away, transaction markers, removed by retention) are simply not yielded. If
    no progress is made for `stall_timeout_s`, `SkippedOffsetsUnreadable` is raised.
    """

    def __init__(self, connection: KafkaConnection, *, stall_timeout_s: float = 60.0) -> None:
        self.connection = connection
        self.stall_timeout_s = stall_timeout_s

    async def __call__(self, tp: TP, start: int, end: int) -> AsyncIterator[RereadMessage]:
        partition = TopicPartition(tp.topic, tp.partition)
        # earliest: offsets already removed by retention cannot be read anyway; take what is left of the range.
        consumer = AIOKafkaConsumer(**self.connection.client_kwargs(), group_id=None, enable_auto_commit=False,
                                    auto_offset_reset="earliest")
        await consumer.start()
        try:
            consumer.assign([partition])
            consumer.seek(partition, start)
            loop = asyncio.get_running_loop()
            stalled_since = loop.time()
            position = start
            while position < end:
                batch = await consumer.getmany(partition, timeout_ms=500)
                for record in batch.get(partition, ()):
                    if record.offset >= end:
                        return
                    yield RereadMessage(tp=tp, offset=record.offset, key=record.key, value=record.value,
                                        timestamp=record.timestamp / 1000.0)
                moved = await consumer.position(partition)
                if moved > position:
                    position, stalled_since = moved, loop.time()
                elif loop.time() - stalled_since > self.stall_timeout_s:
                    raise SkippedOffsetsUnreadable(
                        f"{tp.topic}[{tp.partition}]: could not read offsets {position}..{end - 1} back within "
                        f"{self.stall_timeout_s:.0f} s (broker {self.connection.bootstrap}); stop the worker so that "
                        f"they are replayed from the committed offset")
        finally:
            await consumer.stop()

