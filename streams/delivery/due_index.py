"""What comes due when, per table partition, kept in memory so that a timer tick does not scan a whole table.

Sessions close after an inactivity gap, carts are reminded after a wait, alert incidents end after a quiet cooldown:
each is a table row with a due time. Scanning the table on every tick costs O(rows) every few seconds (a million
profiles: the worker does nothing else). Instead, a min-heap of (due_at, key) per partition:

- built from the table the first time a tick of the partition arrives after a rebalance (one scan per rebalance),
- kept up to date by `push` whenever a row gets a (new) due time,
- dropped on every rebalance, since another worker may have changed the partition's rows meanwhile.

Entries are hints, not truth: the caller re-reads the row of every key `pop_due` returns and decides from it, so an
entry left behind by a row that changed costs one lookup, never a wrong action.
"""

from __future__ import annotations

import asyncio
import heapq
import weakref
from collections.abc import Callable, Collection, Iterable
from typing import Any

__all__ = ["DueIndex", "clear_all"]

# Rows read between two yields to the event loop while an index is rebuilt (a million rows must not stall it).
_SCAN_CHUNK = 2000
_INDEXES: weakref.WeakSet[DueIndex] = weakref.WeakSet()


def clear_all() -> None:
    """Forget every index (on a rebalance); each is rebuilt from its table at its partitions' next tick."""
    for index in list(_INDEXES):
        index.clear()


class DueIndex:
    def __init__(self) -> None:
        self._heaps: dict[int, list[tuple[float, str]]] = {}
        _INDEXES.add(self)

    def is_loaded(self, partition: int) -> bool:
        return partition in self._heaps

    def load(self, partition: int, entries: Iterable[tuple[float, str]]) -> None:
        heap = list(entries)
        heapq.heapify(heap)
        self._heaps[partition] = heap

    async def rebuild(self, rows: Iterable[tuple[str, Any]], due_of: Callable[[Any], float | None],
                      partition_of: Callable[[str, Any], int | None], partitions: Collection[int]) -> int:
        """Load `partitions` from one pass over a table's (key, row) pairs; returns the rows read."""
        found: dict[int, list[tuple[float, str]]] = {}
        read = 0
        for key, row in rows:
            due, partition = due_of(row), partition_of(key, row)
            if due is not None and partition is not None:
                found.setdefault(partition, []).append((due, key))
            read += 1
            if read % _SCAN_CHUNK == 0:
                await asyncio.sleep(0)
        for partition in partitions:
            self.load(partition, found.get(partition, []))
        return read

    def push(self, partition: int, due_at: float | None, key: str) -> None:
        """Record a due time (None: nothing due); ignored for a partition not loaded yet (its load reads the row)."""
        heap = self._heaps.get(partition)
        if heap is not None and due_at is not None:
            heapq.heappush(heap, (due_at, key))

    def pop_due(self, partition: int, now: float) -> list[str]:
        """Keys due at or before `now`, each once, in due order; they leave the index."""
        heap = self._heaps.get(partition)
        keys: dict[str, None] = {}
        while heap and heap[0][0] <= now:
            keys[heapq.heappop(heap)[1]] = None
        return list(keys)

    def clear(self) -> None:
        self._heaps.clear()

    def size(self, partition: int) -> int:
        return len(self._heaps.get(partition, ()))
