"""Embedding texts for many concurrent `analyze` calls in batches, off the event loop.

    >>> queue = EmbedQueue(embedder)
    >>> vector = await queue.embed("the lid leaks")      # None if the embedder failed: score without it

Why a queue: one embedding call takes 10-50 ms, too long to run on the worker's event loop (the loop would stop
fetching, acking and committing meanwhile), and a call of 64 texts costs far less than 64 calls of one (the model's
weights are read once per call). So every `embed` adds its text to a queue and awaits a future; one drain task takes
up to `max_batch` queued texts at a time and embeds them in a single worker thread (`ThreadPoolExecutor` of one:
the engine uses its own OpenMP threads, and a second concurrent batch would only fight it for the same cores).
Texts that arrive while a batch runs form the next batch, so an idle queue adds no wait at all and a busy one
batches by itself: no timer, nothing to tune.
"""

from __future__ import annotations

import asyncio
import logging
from concurrent.futures import ThreadPoolExecutor
from typing import Final

import numpy as np
import numpy.typing as npt

from streams.llm.local.embeddings import Embedder

__all__ = ["EmbedQueue"]

log = logging.getLogger(__name__)

MAX_BATCH: Final = 64  # the engine's throughput is flat from ~32 texts a call; bigger only delays the first result


class EmbedQueue:
    """Batches concurrent embedding requests of one event loop into calls of `embedder` in one worker thread."""

    def __init__(self, embedder: Embedder, *, max_batch: int = MAX_BATCH) -> None:
        if max_batch < 1:
            raise ValueError(f"max_batch must be at least 1, got {max_batch}")
        self.embedder = embedder
        self._max_batch = max_batch
        self._waiting: list[tuple[str, asyncio.Future[npt.NDArray[np.float32] | None]]] = []
        self._drain: asyncio.Task[None] | None = None
        self._executor: ThreadPoolExecutor | None = None
        # Counters for benchmarks and tests: calls made, texts sent, calls that failed.
        self.batches = self.texts = self.failures = 0

    async def embed(self, text: str) -> npt.NDArray[np.float32] | None:
        """`text`'s vector, or None when the embedder raised (logged): the caller scores without it."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[npt.NDArray[np.float32] | None] = loop.create_future()
        self._waiting.append((text, future))
        # A drain task of another loop (an analyzer shared by tests, each with its own loop) never runs again here.
        if self._drain is None or self._drain.done() or self._drain.get_loop() is not loop:
            self._drain = loop.create_task(self._run())
        return await future

    async def _run(self) -> None:
        # One pass through the loop first, so that the requests made in the same iteration share the first batch.
        await asyncio.sleep(0)
        loop = asyncio.get_running_loop()
        if self._executor is None:
            self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="embed")
        while self._waiting:
            # Done already: its caller was cancelled. Another loop's: that loop is gone, nobody awaits it.
            batch = [(t, f) for t, f in self._waiting[:self._max_batch] if not f.done() and f.get_loop() is loop]
            del self._waiting[:self._max_batch]
            if not batch:
                continue
            try:
                vectors = await loop.run_in_executor(self._executor, self.embedder.embed, [t for t, _ in batch])
            except Exception:  # any failure of the engine: those reviews are scored without it, never lost
                self.failures += 1
                log.exception("embedding a batch of %d texts failed; they are scored by TF-IDF alone", len(batch))
                vectors = None
            self.batches += 1
            self.texts += len(batch)
            for i, (_, future) in enumerate(batch):
                if not future.done():
                    future.set_result(None if vectors is None else vectors[i])

    async def aclose(self) -> None:
        """Finish the batch in progress, then stop the worker thread."""
        if self._drain is not None and not self._drain.done():
            await self._drain
        if self._executor is not None:
            self._executor.shutdown(wait=True)
            self._executor = None
