"""What comes due when, per table partition, kept in memory so that a timer tick does not scan a whole table.

Sessions close after an inactivity gap, carts are reminded after a wait, alert incidents end after a quiet cooldown:
each is a table row with a due time. Scanning the table on every tick costs O(rows) every few seconds (a million
profiles: the worker does nothing else). Instead, a min-heap of (due_at, key) per partition:

- built from the table the first time a tick of the partition arrives after a rebalance (one scan per rebalance),
  either at once (`rebuild`) or in the background (`rebuild_in_background`: the index takes pushes and answers
  pops from the moment the scan starts, and the scan adds rows as it reads them, a chunk at a time, so a table of a
  million rows never stops the agent; a row not read yet comes due a tick or two later),
- kept up to date by `push` whenever a row gets a (new) due time,
- dropped on every rebalance, since another worker may have changed the partition's rows meanwhile (a scan still
  running is cancelled).

Entries are hints, not truth: the caller re-reads the row of every key `pop_due` returns and decides from it, so an
entry left behind by a row that changed costs one lookup, never a wrong action.
"""

from __future__ import annotations

import asyncio
import heapq
import logging
import weakref
from collections.abc import Callable, Collection, Iterable
from typing import Any

__all__ = ["DueIndex", "clear_all"]

log = logging.getLogger(__name__)

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
        self._scans: set[asyncio.Task[int]] = set()
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

    def rebuild_in_background(self, rows: Iterable[tuple[str, Any]], due_of: Callable[[Any], float | None],
                              partition_of: Callable[[str, Any], int | None],
                              partitions: Collection[int]) -> asyncio.Task[int]:
        """Load `partitions` from a pass over `rows` that runs in a task, `_SCAN_CHUNK` rows between two yields to
        the event loop; the partitions count as loaded at once (pushes are kept, pops answer from what is known). The
        task returns the rows read; if the scan fails, the index is cleared and the next tick starts again."""
        wanted = set(partitions)
        for partition in wanted:
            self._heaps[partition] = []

        async def scan() -> int:
            read = 0
            try:
                for key, row in rows:
                    partition = partition_of(key, row)
                    heap = self._heaps.get(partition) if partition is not None and partition in wanted else None
                    due = due_of(row) if heap is not None else None
                    if heap is not None and due is not None:
                        heapq.heappush(heap, (due, key))
                    read += 1
                    if read % _SCAN_CHUNK == 0:
                        await asyncio.sleep(0)
            except asyncio.CancelledError:
                raise
            except Exception:  # a table closed by a rebalance, most likely: rebuilt at a later tick
                log.warning("due-time scan stopped after %d rows; the index is rebuilt at a later tick", read,
                            exc_info=True)
                for partition in wanted:
                    self._heaps.pop(partition, None)
            return read

        task = asyncio.create_task(scan())
        self._scans.add(task)
        task.add_done_callback(self._scans.discard)
        return task

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
        for scan in self._scans:
            scan.cancel()
        self._heaps.clear()

    def size(self, partition: int) -> int:
        return len(self._heaps.get(partition, ()))
