"""mode's flow control: resuming flow that already runs no longer empties the stream queues.

Upstream: faust-streaming PR #253 ("when the app flow_control resumes it clears all queues") and issues #221 and
#236 describe the same clearing; 0.15.3 with mode-streaming 0.7.1 still does it.

`FlowControlEvent.resume()` (mode) empties every stream queue each time it is called. After a rebalance Faust resumes
the stream partitions, awaits a seek to the committed offsets — while the fetcher already delivers messages into the
queues and records them as read — and then calls `resume()` again, although flow is already running: the messages
delivered meanwhile are thrown away. Nothing fetches them again (the fetch position is past them) and nothing
acknowledges them, so the worker sits idle with lag and commits nothing until the next restart (seen in CI: a worker
restarted after a SIGKILL handled 10 of 190 pending reviews and then nothing). The fix clears the queues only when
flow really was suspended, which is what the clearing is for: dropping what was fetched before a rebalance.
"""

from __future__ import annotations

import logging

from mode.utils.queues import FlowControlEvent

__all__ = ["apply"]

log = logging.getLogger(__name__)


def _resume_flow(self: FlowControlEvent) -> None:
    was_suspended = self._suspend.is_set()
    self._suspend.clear()
    self._resume.set()
    if was_suspended:
        self.clear()
        return
    kept = sum(queue.qsize() for queue in self._queues)
    if kept:
        log.info("flow resumed while running: kept %d queued events that the original resume() would drop", kept)


def apply() -> None:
    """Patch `FlowControlEvent.resume` (idempotent)."""
    FlowControlEvent.resume = _resume_flow  # type: ignore[method-assign]
