"""A worker whose consumer passes over some fetched messages, as faust-streaming 0.15.3 does when a batch is cut short
(flow control, generation change): run with `python -m tests.integration.skip_injection worker ...` and
`RS_TEST_DROP_OFFSETS=topic:partition:first-last[,...]`. The listed offsets are taken out of the fetched batch once,
so Faust's fetch loop sees a gap, records it as done and moves on, exactly as with the real bug."""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import AsyncIterator
from typing import Any

from faust.transport.consumer import Consumer

from streams.commands.cli import main

log = logging.getLogger(__name__)


def _drop_once(specs: str) -> None:
    pending: set[tuple[str, int, int]] = set()
    for spec in specs.split(","):
        topic, partition, span = spec.rsplit(":", 2)
        first, last = (int(part) for part in span.split("-"))
        pending.update((topic, int(partition), offset) for offset in range(first, last + 1))
    original = Consumer.getmany

    async def getmany(self: Consumer, timeout: float) -> AsyncIterator[tuple[Any, Any]]:
        async for tp, message in original(self, timeout):
            if (tp.topic, tp.partition, message.offset) in pending:
                pending.discard((tp.topic, tp.partition, message.offset))
                log.warning("skip injection: dropped %s[%s]@%d", tp.topic, tp.partition, message.offset)
                continue
            yield tp, message

    Consumer.getmany = getmany  # type: ignore[method-assign]


if __name__ == "__main__":
    _drop_once(os.environ["RS_TEST_DROP_OFFSETS"])
    sys.exit(main())
