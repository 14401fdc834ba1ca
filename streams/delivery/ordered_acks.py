"""Ordered acknowledgement of events that finish out of order.

Faust commits the end of the first run of acked offsets and does not protect an unfinished event at the head (read
in faust-streaming 0.15.3's consumer; its `concurrency>1` commits past unfinished events, faust-streaming issue 606):
in our experiments, acking events as they finished committed past running ones in 26-46 of 1,200 events per run,
i.e. loss on restart. So the review agent keeps many
events in flight but releases their acks per partition strictly in offset order: an event is acked only once it and
every earlier event of its partition have finished.

>>> acks = OrderedAcks[str]()
>>> acks.start(("reviews", 0), 10, "a"); acks.start(("reviews", 0), 11, "b")
>>> acks.finish(("reviews", 0), 11)
[]
>>> acks.finish(("reviews", 0), 10)
['a', 'b']
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Hashable
from dataclasses import dataclass
from typing import Generic, TypeVar

__all__ = ["OrderedAcks"]

T = TypeVar("T")


@dataclass(slots=True)
class _Pending(Generic[T]):
    item: T
    started_at: float
    done: bool = False


class OrderedAcks(Generic[T]):
    """Per-partition queues of in-flight events; `finish` returns the items that may now be acked, in order."""

    def __init__(self) -> None:
        self._partitions: dict[Hashable, OrderedDict[int, _Pending[T]]] = {}

    def start(self, partition: Hashable, offset: int, item: T, now: float = 0.0) -> None:
        queue = self._partitions.setdefault(partition, OrderedDict())
        if queue and offset <= next(reversed(queue)):
            last = next(reversed(queue))
            raise ValueError(f"offset {offset} of {partition} is not after the last started offset {last}")
        queue[offset] = _Pending(item, now)

    def finish(self, partition: Hashable, offset: int) -> list[T]:
        queue = self._partitions.get(partition)
        if queue is None or offset not in queue:
            # The partition was revoked while the event ran: its ack would be discarded by Faust anyway.
            return []
        queue[offset].done = True
        ready: list[T] = []
        while queue:
            first_offset, pending = next(iter(queue.items()))
            if not pending.done:
                break
            ready.append(pending.item)
            del queue[first_offset]
        if not queue:
            del self._partitions[partition]
        return ready

    def forget(self, partition: Hashable) -> int:
        """Drop a revoked partition's events (they will be replayed by its next owner); return how many."""
        return len(self._partitions.pop(partition, ()))

    @property
    def in_flight(self) -> int:
        return sum(len(q) for q in self._partitions.values())

    def oldest_started_at(self) -> float | None:
        """Start time of the oldest unfinished event: it holds back its partition's commits."""
        heads = [next(iter(q.values())).started_at for q in self._partitions.values() if q]
        return min(heads) if heads else None
