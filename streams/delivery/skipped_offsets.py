"""Noticing offsets the consumer skipped, so that the agent can read them back (streams/delivery/skipped_reader.py).

Faust (0.15.3) can pass over messages it has fetched without delivering them to the stream — a batch cut short by
its flow control or a generation change, after which its own gap bookkeeping treats the missing offsets as done, so
they are committed over and never processed (seen in CI: 8 consecutive clicks of one partition never forwarded,
mid-stream, while the worker took over partitions). Kafka offsets of a plain topic are consecutive, so an agent that
sees offset 504 right after 495 knows 496..503 went missing.

`SkipDetector` is pure bookkeeping: per partition, the last offset seen in the current consumer generation.
`observe` says whether the event continues the sequence, is a re-delivery, or comes after a hole (and the first
missing offset). A hole is reported once: if reading again yields the same hole, the offsets really are absent (a
transactional producer's control records, a compacted topic) and the event is accepted.

Across a rebalance: a partition this worker saw in generation G and sees again in G + 1 was its own throughout (Kafka
moves a partition to another member only in a new generation), so its first offset in G + 1 must follow the last one
seen in G. Seen in the two-worker test: a worker that kept its partitions while the other left saw offset 358 last in
generation 2 and 526 first in generation 3, and Faust committed over 359..525 — lost profile clicks. That gap is a
hole like any other. After a longer pause (G + 2 or more) the partition may have been another worker's meanwhile, and
the sequence starts over.
"""

from __future__ import annotations

from collections.abc import Hashable
from dataclasses import dataclass, field
from typing import Literal

__all__ = ["SkipDetector", "Verdict"]

Verdict = Literal["next", "again", "hole"]


@dataclass
class SkipDetector:
    _generation: object = None
    _last: dict[Hashable, int] = field(default_factory=dict)
    _reported: set[tuple[Hashable, int]] = field(default_factory=set)
    # The last offsets of the generation just before this one, for partitions not seen yet in this one.
    _previous: dict[Hashable, int] = field(default_factory=dict)

    def observe(self, generation: object, tp: Hashable, offset: int) -> tuple[Verdict, int]:
        """("next", offset) to process; ("again", offset) already seen; ("hole", first missing offset) to read back."""
        if generation != self._generation:
            # A rebalance moved partitions and positions: start over, remembering where the partitions kept from the
            # generation just before stopped.
            consecutive = (isinstance(generation, int) and isinstance(self._generation, int)
                           and generation == self._generation + 1)
            self._previous = self._last if consecutive else {}
            self._generation, self._last, self._reported = generation, {}, set()
        last = self._last.get(tp)
        if last is None:
            before = self._previous.pop(tp, None)
            if before is not None and offset > before + 1:
                self._reported.add((tp, before + 1))
                return "hole", before + 1
        if last is not None and offset <= last:
            return "again", offset
        if last is not None and offset > last + 1 and (tp, last + 1) not in self._reported:
            self._reported.add((tp, last + 1))
            return "hole", last + 1
        self._last[tp] = offset
        return "next", offset
