"""The one way an agent sends what it produced: `send_output` (now, without waiting) and `publish` (wait for Kafka).

Two kinds of failure, handled differently:

- the record itself can never be sent — larger than the producer's `max_request_size`, refused by the topic as too
  large or invalid, or not encodable (a number JSON cannot hold): `OutputRejected`. Retrying would fail the same way
  at every restart and wedge the partition, so the caller gets it back: `publish(..., instead=...)` sends the
  replacement it names (the input's dead letter), a fold agent dead-letters the event it was folding.
- anything else (a broker away, a leader moving, a timeout) passes: `publish` retries with a growing delay, for as long
  as it takes, logging and counting each failure; the event stays unacknowledged meanwhile, so nothing is lost if
  the worker stops instead.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, cast

from aiokafka.errors import (
    CorruptRecordException,
    InvalidMessageError,
    KafkaError,
    MessageSizeTooLargeError,
    RecordListTooLargeError,
    RecordTooLargeError,
)
from faust.exceptions import ProducerSendError
from faust.types import TopicT

from streams.metrics import Metrics

__all__ = ["Output", "OutputRejected", "publish", "send_output"]

log = logging.getLogger(__name__)

# Kafka being briefly unavailable is not a reason to drop or dead-letter a result: keep trying, slower each time.
_RETRY_DELAYS_S = (0.1, 0.5, 1.0, 2.0, 5.0)
# Errors about the record, not the connection: sending it again can only fail again.
_RECORD_ERRORS = (MessageSizeTooLargeError, RecordListTooLargeError, RecordTooLargeError, InvalidMessageError,
                  CorruptRecordException)


@dataclass(frozen=True, slots=True)
class Output:
    topic: TopicT
    key: str | None
    value: Any
    # None: Faust's partitioner picks the partition from the key.
    partition: int | None = None

    @property
    def topic_name(self) -> str:
        return self.topic.get_topic_name()


class OutputRejected(Exception):
    """This record can never be sent (too large, invalid or not encodable); `cause` says why."""

    def __init__(self, output: Output, cause: BaseException) -> None:
        super().__init__(f"{output.topic_name} refused the record keyed {output.key!r:.80}: "
                         f"{type(cause).__name__}: {str(cause)[:300]}")
        self.output = output
        self.cause = cause


def _record_error(exc: BaseException) -> BaseException | None:
    """The record-level error behind `exc`, or None when sending again may work."""
    cause: BaseException = exc.__cause__ if isinstance(exc, ProducerSendError) and exc.__cause__ is not None else exc
    if isinstance(cause, _RECORD_ERRORS):
        return cast(BaseException, cause)  # aiokafka's error classes are unannotated
    # Raised by the value's codec while Faust prepares the record (orjson: "Integer exceeds 64-bit range").
    if isinstance(cause, TypeError | ValueError) and not isinstance(cause, KafkaError):
        return cause
    return None


async def send_output(output: Output, metrics: Metrics) -> Awaitable[Any]:
    """Send one output now and count it; return its delivery future. Raises `OutputRejected` for a record that can
    never be sent; other errors propagate."""
    try:
        # force=True: not attached to the current event (Faust would send it only when the event is acked).
        delivery = await output.topic.send(
            key=None if output.key is None else output.key.encode("utf-8"), value=output.value,
            partition=output.partition, force=True)
    except (ProducerSendError, KafkaError, TypeError, ValueError) as exc:
        rejected = _record_error(exc)
        if rejected is None:
            raise
        metrics.produce_errors.labels(output.topic_name, type(rejected).__name__).inc()
        raise OutputRejected(output, rejected) from exc
    metrics.events_produced.labels(output.topic_name).inc()
    return cast(Awaitable[Any], delivery)


async def publish(output: Output, metrics: Metrics,
                  instead: Callable[[OutputRejected], Output | None] | None = None) -> None:
    """Send `output` and wait until Kafka has it, retrying what may pass later. A record Kafka will never take is
    replaced by `instead(rejection)` (published the same way, and replaced again if refused in turn); without one,
    or when it returns None, `OutputRejected` is raised."""
    attempt = 0
    while True:
        try:
            delivery = await send_output(output, metrics)
            await delivery
            return
        except OutputRejected as rejection:
            output, attempt = _replacement(rejection, instead), 0
        except (ProducerSendError, KafkaError) as exc:
            rejected = _record_error(exc)
            if rejected is not None:  # refused by the broker, after the record left the producer
                metrics.produce_errors.labels(output.topic_name, type(rejected).__name__).inc()
                output, attempt = _replacement(OutputRejected(output, rejected), instead), 0
                continue
            metrics.produce_errors.labels(output.topic_name, type(exc).__name__).inc()
            delay = _RETRY_DELAYS_S[min(attempt, len(_RETRY_DELAYS_S) - 1)]
            log.warning("sending to %s failed (%s); retrying in %.1fs", output.topic_name, exc, delay)
            attempt += 1
            await asyncio.sleep(delay)


def _replacement(rejection: OutputRejected, instead: Callable[[OutputRejected], Output | None] | None) -> Output:
    replacement = instead(rejection) if instead is not None else None
    log.error("%s; sending %s instead", rejection,
              "nothing" if replacement is None else f"a record to {replacement.topic_name}")
    if replacement is None:
        raise rejection
    return replacement
