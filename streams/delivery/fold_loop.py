"""The loop of a table agent that folds its events in micro-batches: take what the stream has ready, fold it
partition by partition, acknowledge it in offset order; an event that keeps failing is dead-lettered alone.

    await run_fold_loop(stream, fold, app=app, metrics=metrics, reader=reread, dead_letters=dead_letters,
                        agent="profiles", max_batch=1000, poison_attempts=3)

`fold(partition, events)` gets each partition's share of a batch, in offset order, with one of those events made Faust's
current event (Faust picks a table row's RocksDB partition and changelog partition from it, see
streams/compat/current_event.py). It folds them however it likes — a profile fold reads each touched row once, folds all
its events in memory and writes it once — and returns once every output is sent and every row written.

Guarantees, the same as an agent that handles one event at a time:

- **Offset order.** A batch is a run of consecutive events of each partition, handed to `fold` in the order they
  were read; read-back offsets the consumer skipped (streams/delivery/forwarding.py `with_skipped`) come before the
  event that revealed them, in the same batch.
- **Nothing acknowledged before its outputs are sent.** Events are acknowledged (noack stream, `stream.ack`) only after
  `fold` returned for their batch, i.e. after every output was handed to the producer and every table write to
  Faust's changelog buffer; Faust commits only acknowledged offsets, and flushes the producer (and, with
  streams/compat/producer_buffer.py, its changelog buffer) before it commits. A crash before the commit replays the
  batch; the folds skip what they already folded (the offset rule), so the replay changes nothing.
- **No waiting on held events.** The loop never waits for the next event while it holds unacknowledged ones: a
  separate task reads the stream into a bounded queue, and a batch is what that queue holds when the loop comes back
  for more. A rebalance (Faust waits for every held event before it revokes a partition) therefore waits for one
  batch at most.
- **Poison pills alone.** When `fold` raises an unexpected error for a batch, the partition's events are folded again
  one at a time, each up to `poison_attempts` times; the one that still fails is dead-lettered (`fold_failed`) and
  the others are folded. Errors of the infrastructure (streams/delivery/poison.py) propagate: the loop crashes the
  app (`app.crash`), so the worker stops and the batch is replayed after a restart — never an agent restarted in
  place with events held.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import time
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from typing import Any, Final, cast

from faust.streams import Stream
from faust.types import EventT, StreamT

from streams.compat.current_event import current_event
from streams.delivery.dead_letters import DeadLetters
from streams.delivery.forwarding import with_skipped
from streams.delivery.poison import INFRASTRUCTURE_ERRORS, attempt
from streams.delivery.skipped_reader import RereadEvent, SkippedReader
from streams.metrics import Metrics

__all__ = ["FoldPartition", "run_fold_loop"]

log = logging.getLogger(__name__)

# An event, or a read-back one (typed as the event it stands for: folds read only its `message` and `value`).
FoldPartition = Callable[[int, Sequence[EventT[Any]]], Awaitable[None]]


class _End:
    """What the reading task puts in the queue when the stream ends or fails."""

    def __init__(self, error: BaseException | None) -> None:
        self.error = error


_STOPPED: Final = _End(None)
# A batch is complete after this many turns of the event loop without a new event (see `_take_batch`), or after
# this long: a backlog keeps events coming every turn; live traffic leaves gaps, and its batches are small.
_IDLE_TURNS: Final = 4
_GATHER_S: Final = 0.25


async def run_fold_loop(
    stream: StreamT[Any],
    fold: FoldPartition,
    *,
    app: Any,
    metrics: Metrics,
    reader: SkippedReader,
    dead_letters: DeadLetters,
    agent: str,
    max_batch: int,
    poison_attempts: int,
    on_finished: Callable[[Any, float | None], None] | None = None,
) -> None:
    """Fold the stream's events in micro-batches of at most `max_batch` (see the module docs); `on_finished(tp,
    timestamp)` is called for each event once it is acknowledged."""
    if max_batch < 1:
        raise ValueError(f"max_batch must be at least 1, got {max_batch}")
    manual = cast(Stream[Any], stream).noack()
    ready: asyncio.Queue[EventT[Any] | RereadEvent | _End] = asyncio.Queue(maxsize=max_batch)
    holding: list[EventT[Any] | RereadEvent] = []
    metrics.in_flight_capacity.labels(agent).set(max_batch)
    metrics.in_flight.labels(agent).set_function(lambda: len(holding) + ready.qsize())

    async def read() -> None:
        events: AsyncIterator[EventT[Any]] = with_skipped(manual.events(), app, metrics, reader)
        try:
            async for event in events:
                await ready.put(event)
        except Exception as exc:
            await ready.put(_End(exc))  # the loop raises it
            raise
        await ready.put(_STOPPED)

    reading = asyncio.create_task(read(), name=f"{agent}-reader")
    delivered = _pending_in(manual)
    try:
        while True:
            end = await _take_batch(ready, holding, max_batch, delivered)
            if holding:
                await _finish(holding, manual, fold, metrics=metrics, dead_letters=dead_letters,
                              poison_attempts=poison_attempts, agent=agent, on_finished=on_finished)
                holding.clear()
            if end is not None:
                if end.error is not None:
                    raise end.error
                return
    except Exception as exc:
        # Left to itself, Faust's supervisor restarts the agent in place: the events this loop holds would stay
        # unacknowledged in this process, stalling their partitions' commits, and a later rebalance could commit
        # past them. Stopping the worker replays them after the restart instead (chaos tests found a review lost).
        log.critical("%s: folding stopped on %s: %s; stopping the worker so that the %d events held are replayed "
                     "after a restart", agent, type(exc).__name__, exc, len(holding), exc_info=True)
        await app.crash(exc)
        raise
    finally:
        reading.cancel()
        await asyncio.gather(reading, return_exceptions=True)


async def _take_batch(ready: asyncio.Queue[EventT[Any] | RereadEvent | _End], holding: list[EventT[Any] | RereadEvent],
                      max_batch: int, delivered: Callable[[], int]) -> _End | None:
    """Wait for the next event, then take into `holding` what keeps coming without a pause: Faust hands a fetched
    backlog to the stream about one event per turn of the event loop (the consumer, the stream and the reading task
    each take a turn per event), so the loop gives up its turn while events keep arriving and stops after
    `_IDLE_TURNS` turns without one, at `max_batch` events or after `_GATHER_S`. Returns the end of the stream when
    it comes."""
    item = await ready.get()
    deadline = time.monotonic() + _GATHER_S
    while True:
        if isinstance(item, _End):
            return item
        holding.append(item)
        idle = 0
        while True:
            if isinstance(holding[-1], RereadEvent):
                # Read-back events are followed at once by the event that revealed them: keep them together.
                item = await ready.get()
                break
            if len(holding) >= max_batch:
                return None
            if not ready.empty():
                item = ready.get_nowait()
                break
            if idle >= _IDLE_TURNS and not delivered():
                return None
            if idle and time.monotonic() > deadline:
                return None
            idle += 1
            await asyncio.sleep(0)


def _pending_in(stream: Any) -> Callable[[], int]:
    """How many events Faust has delivered to the stream's queue and the stream has not yielded yet."""
    queue = getattr(getattr(stream, "channel", None), "queue", None)
    if queue is None or not hasattr(queue, "qsize"):
        return lambda: 0
    return cast(Callable[[], int], queue.qsize)


async def _finish(batch: Sequence[EventT[Any] | RereadEvent], manual: StreamT[Any], fold: FoldPartition, *,
                  metrics: Metrics, dead_letters: DeadLetters, poison_attempts: int, agent: str,
                  on_finished: Callable[[Any, float | None], None] | None) -> None:
    """Fold a batch, then acknowledge its events in the order they were read."""
    started = time.perf_counter()
    await _fold_batch(batch, fold, dead_letters=dead_letters, poison_attempts=poison_attempts, agent=agent)
    for event in batch:
        if not isinstance(event, RereadEvent):  # Faust never delivered those: nothing to ack there
            await manual.ack(event)
        if on_finished is not None:
            on_finished(event.message.tp, event.message.timestamp)
    for topic, count in Counter(event.message.topic for event in batch).items():
        metrics.events_consumed.labels(topic).inc(count)
    # Every event of the batch waited at most this long between being read and its outputs being sent.
    metrics.processing_duration.labels(agent).observe(time.perf_counter() - started)


async def _fold_batch(batch: Sequence[EventT[Any] | RereadEvent], fold: FoldPartition, *, dead_letters: DeadLetters,
                      poison_attempts: int, agent: str) -> None:
    by_partition: dict[int, list[EventT[Any] | RereadEvent]] = {}
    for event in batch:
        by_partition.setdefault(event.message.partition, []).append(event)
    for partition, events in by_partition.items():
        # A read-back event is never last: the event that revealed it follows (see the loop).
        anchor = cast(EventT[Any], next(e for e in reversed(events) if not isinstance(e, RereadEvent)))
        typed = cast(list[EventT[Any]], events)
        with current_event(anchor):
            try:
                await fold(partition, typed)
                continue
            except INFRASTRUCTURE_ERRORS:
                raise
            except Exception as exc:
                log.warning("%s: folding %d events of partition %d failed (%s: %s); folding them one at a time",
                            agent, len(typed), partition, type(exc).__name__, exc, exc_info=True)
                # A batch of one event was that event's first attempt.
                first_failure = exc if len(typed) == 1 else None
            await _one_at_a_time(partition, typed, fold, first_failure, dead_letters=dead_letters,
                                 poison_attempts=poison_attempts)


async def _one_at_a_time(partition: int, events: Sequence[EventT[Any]], fold: FoldPartition,
                         first_failure: BaseException | None, *, dead_letters: DeadLetters,
                         poison_attempts: int) -> None:
    """Each event folded alone, up to `poison_attempts` times (counting `first_failure`, the failure of a batch of
    this one event); the ones that still fail are dead-lettered. Runs with the partition's anchor event current."""
    attempts = poison_attempts - (1 if first_failure is not None else 0)
    for event in events:
        message = event.message
        what = f"folding {message.topic}[{message.partition}]@{message.offset}"
        poisoned = first_failure if attempts < 1 else await attempt(
            functools.partial(fold, partition, [event]), attempts=attempts, what=what)
        if poisoned is not None:
            await dead_letters.send(event, poisoned, stage="fold")
