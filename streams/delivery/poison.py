"""Poison pills: an event whose handling raises an unexpected exception again and again is dead-lettered (with the
exception's class and message) so that its partition moves on, instead of crashing the worker at that event at every
start.

>>> async def always_fails() -> None:
...     raise ZeroDivisionError("a bug")
>>> poisoned = asyncio.run(attempt(always_fails, attempts=3, what="reviews[0]@7"))
>>> type(poisoned).__name__, str(poisoned)
('ZeroDivisionError', 'a bug')

Not everything is a poison pill. Failures of the infrastructure — Kafka away, a send that timed out, table writes
that could not be flushed, offsets that could not be read back — say nothing about the event: they propagate, the
worker stops, and the event is processed again after the restart, as before. Cancellation propagates too.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

from aiokafka.errors import KafkaError
from faust.exceptions import ProducerSendError

from streams.compat.producer_buffer import UnflushedTableWrites
from streams.delivery.skipped_reader import SkippedOffsetsUnreadable

__all__ = ["INFRASTRUCTURE_ERRORS", "attempt"]

log = logging.getLogger(__name__)

INFRASTRUCTURE_ERRORS: tuple[type[BaseException], ...] = (
    KafkaError, ProducerSendError, UnflushedTableWrites, SkippedOffsetsUnreadable, ConnectionError, TimeoutError)


async def attempt(action: Callable[[], Awaitable[object]], *, attempts: int, what: str,
                  expected: tuple[type[BaseException], ...] = ()) -> BaseException | None:
    """Run `action` until it succeeds, at most `attempts` times while it raises an unexpected exception; None when
    it succeeded, else the last exception (the event is a poison pill). `expected` exceptions, which the caller
    handles, propagate at once like the infrastructure's."""
    for n in range(1, attempts + 1):
        try:
            await action()
            return None
        except (*INFRASTRUCTURE_ERRORS, *expected):
            raise
        except Exception as exc:
            if n == attempts:
                log.error("%s failed %d times (%s: %s); dead-lettering it", what, n, type(exc).__name__, exc,
                          exc_info=True)
                return exc
            log.warning("%s failed (%s: %s); attempt %d of %d", what, type(exc).__name__, exc, n + 1, attempts)
    raise AssertionError("attempts must be at least 1")
