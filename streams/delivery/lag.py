"""Consumer lag per input partition, in messages and in seconds, from what the worker already knows.

Faust has no lag metric (its Prometheus sensor, faust-streaming 0.15.3, exports none): the end offset comes from the
consumer's highwater, the committed offset from its last commit, and "how far behind in time" from the Kafka
timestamp of the newest event this worker finished.
Pure bookkeeping with explicit time; the app's timer feeds it and copies the figures into gauges.
"""

from __future__ import annotations

from collections.abc import Hashable
from dataclasses import dataclass

__all__ = ["LagSample", "LagTracker"]


@dataclass(frozen=True, slots=True)
class LagSample:
    messages: int
    seconds: float
    seconds_since_commit: float


class LagTracker:
    def __init__(self) -> None:
        self._finished_ts: dict[Hashable, float] = {}
        self._committed: dict[Hashable, int] = {}
        self._committed_at: dict[Hashable, float] = {}

    def note_finished(self, partition: Hashable, message_timestamp: float | None) -> None:
        """An event of `partition` is done (acked in order); remember its Kafka timestamp (seconds)."""
        if message_timestamp:
            previous = self._finished_ts.get(partition, 0.0)
            self._finished_ts[partition] = max(previous, message_timestamp)

    def sample(self, partition: Hashable, *, committed: int | None, end_offset: int | None, now: float) -> LagSample:
        if committed is not None and committed != self._committed.get(partition):
            self._committed[partition] = committed
            self._committed_at[partition] = now
        self._committed_at.setdefault(partition, now)
        waiting = max(0, (end_offset or 0) - (committed or 0)) if end_offset is not None else 0
        if waiting == 0:
            return LagSample(0, 0.0, 0.0)
        newest = self._finished_ts.get(partition)
        seconds = max(0.0, now - newest) if newest else 0.0
        return LagSample(waiting, seconds, now - self._committed_at[partition])

    def forget(self, partition: Hashable) -> None:
        for table in (self._finished_ts, self._committed, self._committed_at):
            table.pop(partition, None)
