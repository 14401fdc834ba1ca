"""Groups reviews into micro-batches: several reviews share one instruction block in one request.

A batch closes when it has `max_items` reviews, when the next review would take it past `max_tokens`, or when its
oldest review has waited `max_wait_s` (so a quiet stream is not held back). Time is passed in; no I/O.

>>> b = MicroBatcher[str](max_items=2, max_tokens=1000, max_wait_s=0.05)
>>> b.add("a", tokens=10, now=0.0)
[]
>>> b.add("b", tokens=10, now=0.01)
[['a', 'b']]
>>> b.add("c", tokens=10, now=0.02); b.flush_due(now=0.08)
[]
['c']
"""

from __future__ import annotations

from typing import Generic, TypeVar

__all__ = ["MicroBatcher"]

T = TypeVar("T")


class MicroBatcher(Generic[T]):
    def __init__(self, *, max_items: int = 8, max_tokens: int = 4000, max_wait_s: float = 0.05) -> None:
        if max_items < 1:
            raise ValueError(f"max_items must be at least 1, got {max_items}")
        self.max_items = max_items
        self.max_tokens = max_tokens
        self.max_wait_s = max_wait_s
        self._items: list[T] = []
        self._tokens = 0
        self._opened_at = 0.0

    def add(self, item: T, tokens: int, now: float) -> list[list[T]]:
        """Add one item; return the batches that are complete now (zero, one, or two)."""
        ready: list[list[T]] = []
        if self._items and self._tokens + tokens > self.max_tokens:
            ready.append(self._take())
        if not self._items:
            self._opened_at = now
        self._items.append(item)
        self._tokens += tokens
        if len(self._items) >= self.max_items or self._tokens >= self.max_tokens:
            ready.append(self._take())
        return ready

    def flush_due(self, now: float) -> list[T]:
        """The open batch if its oldest item has waited long enough, else []."""
        # The same expression as deadline(): a caller that saw the deadline pass must get the batch (with
        # `now - opened >= wait` float rounding could disagree, and a flush loop would spin without yielding).
        if self._items and now >= self._opened_at + self.max_wait_s:
            return self._take()
        return []

    def deadline(self) -> float | None:
        """When the open batch must be sent at the latest (None when nothing waits)."""
        return self._opened_at + self.max_wait_s if self._items else None

    def __len__(self) -> int:
        return len(self._items)

    def _take(self) -> list[T]:
        items, self._items, self._tokens = self._items, [], 0
        return items
