"""A semaphore whose waiters are served by priority, then by arrival: review analysis before marketing text.

>>> import asyncio
>>> async def demo():
...     slots = PrioritySlots(1)
...     await slots.acquire(priority=1)
...     order = []
...     async def take(p, name):
...         await slots.acquire(priority=p); order.append(name); slots.release()
...     tasks = [asyncio.create_task(take(1, "marketing")), asyncio.create_task(take(0, "analysis"))]
...     await asyncio.sleep(0); slots.release(); await asyncio.gather(*tasks)
...     return order
>>> asyncio.run(demo())
['analysis', 'marketing']
"""

from __future__ import annotations

import asyncio
import heapq
import itertools

__all__ = ["PrioritySlots"]


class PrioritySlots:
    def __init__(self, capacity: int) -> None:
        if capacity < 1:
            raise ValueError(f"capacity must be at least 1, got {capacity}")
        self.capacity = capacity
        self._free = capacity
        self._waiters: list[tuple[int, int, asyncio.Future[None]]] = []
        self._seq = itertools.count()

    @property
    def in_use(self) -> int:
        return self.capacity - self._free

    @property
    def waiting(self) -> int:
        return sum(1 for *_, fut in self._waiters if not fut.done())

    async def acquire(self, priority: int = 0) -> None:
        if self._free > 0 and not self.waiting:
            self._free -= 1
            return
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        heapq.heappush(self._waiters, (priority, next(self._seq), future))
        try:
            await future
        except asyncio.CancelledError:
            if future.done() and not future.cancelled():
                # The slot was handed to us just as we were cancelled: pass it on.
                self.release()
            raise

    def release(self) -> None:
        while self._waiters:
            _, _, future = heapq.heappop(self._waiters)
            if not future.done():
                future.set_result(None)
                return
        self._free = min(self.capacity, self._free + 1)
