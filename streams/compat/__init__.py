"""Fixes of third-party behaviour, applied explicitly when a worker starts (`streams.compat.apply()`), never on import.

Each fix replaces methods of a library's internals, so each is written for exact versions, checked first
(`versions.py`; pyproject.toml pins the same ones):

- `producer_buffer.py` — faust-streaming's producer buffer: a flush before a commit that returned with table writes
  still queued (flush-before-commit of faust-streaming PR #273), and a WARNING for normal backpressure (issue #173).
- `flow_control.py` — mode's `FlowControlEvent.resume()` emptying the stream queues although flow was running
  (faust-streaming PR #253, issues #221, #236): a restarted worker sat idle with lag.
- `faust_internals.py` — two private attributes the worker reads (the consumer's committed offsets, a RocksDB table's
  databases), behind one accessor each, so an upgrade has one place to look.
"""

from __future__ import annotations

from streams.compat import flow_control, producer_buffer
from streams.compat.versions import check_versions

__all__ = ["apply"]


def apply() -> None:
    """Check the library versions, then apply every fix (idempotent)."""
    check_versions()
    producer_buffer.apply()
    flow_control.apply()
