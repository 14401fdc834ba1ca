"""Make an event Faust's current event while a batch of its partition writes table rows.

>>> with current_event(event):          # doctest: +SKIP
...     profiles["u1"] = row            # written to the RocksDB partition and changelog partition of `event`

Faust decides where a table write goes from the event the stream is on (`faust.streams.compat.current_event()`): its
partition picks the RocksDB database and the changelog partition, and a write with no current event raises. An agent
that folds a batch of events from several partitions must therefore make an event of the right partition current
before it writes that partition's rows. Faust keeps the current event in a context variable that its stream sets on
every event (`faust.streams._current_event`, holding a weak reference); this sets it the same way and restores the
previous value afterwards. The name is Faust's, not public API: faust-streaming is pinned to the exact version this
was written for (pyproject.toml, streams/compat/versions.py), and tests/unit/test_fold_loop.py checks that Faust's own
`current_event()` sees the event.
"""

from __future__ import annotations

import contextlib
import weakref
from collections.abc import Iterator
from typing import Any

from faust import streams as faust_streams

__all__ = ["current_event"]


@contextlib.contextmanager
def current_event(event: Any) -> Iterator[None]:
    token = faust_streams._current_event.set(weakref.ref(event))
    try:
        yield
    finally:
        faust_streams._current_event.reset(token)
