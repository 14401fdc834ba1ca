"""faust-streaming's producer buffer: a flush before a commit that waits for every table write, and a quiet buffer.

## The flush (upstream: the flush-before-commit of faust-streaming PR #273, still giving up early in 0.15.3)

Table writes (the changelog records) do not go to Kafka directly: `Table.__setitem__` is synchronous, so Faust puts
the record in a `ProducerBuffer` that a background task hands to the Kafka producer one by one. Before committing
input offsets Faust calls `producer.flush()`, which is meant to drain that buffer first. It does not: `flush()` waits
at most 0.1 s for the next record to go out and then returns, records still queued. On a loaded machine a single
send easily takes longer (the producer's accumulator is full: the "producer buffer full" warnings). The commit then
covers events whose table updates were never sent; when the worker stops or its partitions move, the new owner
restores the table from a changelog that lacks them, and the profile silently misses those events (seen in CI: one
click missing from each of a few profiles after a worker left the group).

The fix keeps Faust's buffer and its single sending task (so records keep their order), counts records in and out,
and makes `flush()` wait until every record put before the call has been handed to the Kafka producer; the driver's
own flush then waits for their delivery. If the sending task has died or the buffer is stopping with records left,
`flush()` raises instead of returning, so the offsets are not committed and the events are processed again.
Written here rather than waiting for upstream because nothing else in the stack protects table writes.

## The warning (upstream: faust-streaming issue #173, "Warning - producer buffer full", open)

Faust logs a WARNING each time a stream waits for the buffer to drain, which under load is hundreds a minute (a busy
worker's log was nothing else); it is normal backpressure, logged at DEBUG here.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any, cast

from faust.transport.producer import ProducerBuffer
from faust.types import AppT
from faust.types.tuples import FutureMessage

__all__ = ["UnflushedTableWrites", "apply"]

log = logging.getLogger(__name__)

# How long flush() waits between checks of the sending task; not a limit on the flush itself.
_POLL_S = 0.5


class UnflushedTableWrites(RuntimeError):
    """Table changelog records could not be handed to the producer; committing now would lose them."""


_original_put = ProducerBuffer.put
_original_send_pending = ProducerBuffer._send_pending


def _counts(buffer: ProducerBuffer) -> dict[str, int]:
    counts = buffer.__dict__.get("_rs_counts")
    if counts is None:
        counts = buffer.__dict__["_rs_counts"] = {"put": 0, "sent": 0}
    return cast(dict[str, int], counts)


def _put(self: ProducerBuffer, fut: FutureMessage) -> None:
    _original_put(self, fut)
    if not cast(AppT, self.app).conf.producer_threaded:
        _counts(self)["put"] += 1


async def _send_pending(self: ProducerBuffer, fut: FutureMessage) -> None:
    try:
        await _original_send_pending(self, fut)
    finally:
        # Counted even when the send raised: the sending task dies with the error, and flush() notices that.
        _counts(self)["sent"] += 1


async def _flush(self: ProducerBuffer) -> None:
    counts = _counts(self)
    target = counts["put"]
    while counts["sent"] < target:
        if self.should_stop or self.state != "running":
            raise UnflushedTableWrites(f"{target - counts['sent']} table writes not sent: the producer is stopping")
        self.message_sent.clear()
        try:
            await asyncio.wait_for(self.message_sent.wait(), timeout=_POLL_S)
        except TimeoutError:
            if _sender_dead(self):
                raise UnflushedTableWrites(
                    f"{target - counts['sent']} table writes not sent: the producer buffer's task stopped") from None


def _sender_dead(buffer: ProducerBuffer) -> bool:
    # mode drops finished futures from the set, so "no live future" is how a dead sending task looks.
    futures: Any = getattr(buffer, "_futures", ())
    return not any(not f.done() for f in futures)


async def _on_stop(self: ProducerBuffer) -> None:
    # Whatever is left was written by events after the last commit (every commit flushed what came before it):
    # those events are processed again after the restart, so dropping their records loses nothing.
    counts = _counts(self)
    if counts["put"] > counts["sent"]:
        log.info("Stopping with %d table writes of uncommitted events unsent; those events will be processed again",
                 counts["put"] - counts["sent"])


async def _wait_until_ebb(self: ProducerBuffer) -> None:
    if self.size > self.max_messages:
        started = time.monotonic()
        size = self.size
        sent = await self.flush_atmost(self.max_messages)
        log.debug("producer buffer held %d records: waited %.3f s for %d to be sent", size, time.monotonic() - started,
                  sent)


def apply() -> None:
    """Patch `ProducerBuffer` (idempotent)."""
    ProducerBuffer.put = _put  # type: ignore[method-assign]
    ProducerBuffer._send_pending = _send_pending  # type: ignore[method-assign]
    ProducerBuffer.flush = _flush  # type: ignore[method-assign]
    ProducerBuffer.on_stop = _on_stop  # type: ignore[method-assign]
    ProducerBuffer.wait_until_ebb = _wait_until_ebb  # type: ignore[method-assign]
