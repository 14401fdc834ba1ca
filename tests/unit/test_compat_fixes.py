"""The Faust fixes: a flush before a commit waits until every table write has gone to the producer; resuming flow
that already runs does not throw the queued events away."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from types import SimpleNamespace
from typing import Any

import pytest
from faust.transport.producer import ProducerBuffer
from mode.utils.queues import FlowControlEvent, FlowControlQueue

from streams import compat
from streams.compat.producer_buffer import UnflushedTableWrites

compat.apply()


class GatedChannel:
    """A topic whose sends block until the test opens the gate, like a producer whose accumulator is full."""

    def __init__(self) -> None:
        self.gate = asyncio.Event()
        self.published: list[int] = []
        self.fail = False

    async def publish_message(self, fut: Any, wait: bool = False) -> None:
        await self.gate.wait()
        if self.fail:
            raise RuntimeError("broker gone")
        self.published.append(fut.message.key)


def record(channel: GatedChannel, key: int) -> Any:
    return SimpleNamespace(message=SimpleNamespace(channel=channel, key=key))


@pytest.fixture
async def buffer() -> AsyncIterator[ProducerBuffer]:
    buf = ProducerBuffer()
    buf.app = SimpleNamespace(conf=SimpleNamespace(producer_threaded=False))  # type: ignore[assignment]
    await buf.start()
    yield buf
    await buf.stop()


async def test_flush_waits_for_every_record_put_before_it(buffer: ProducerBuffer) -> None:
    channel = GatedChannel()
    for key in range(5):
        buffer.put(record(channel, key))
    flushing = asyncio.ensure_future(buffer.flush())
    # Faust's own flush gives up after 0.1 s without a send and lets the commit go ahead; this one must not.
    done, _ = await asyncio.wait({flushing}, timeout=0.5)
    assert not done
    channel.gate.set()
    await flushing
    assert channel.published == [0, 1, 2, 3, 4]  # in order: one sending task


async def test_flush_does_not_wait_for_records_put_after_it(buffer: ProducerBuffer) -> None:
    before, after = GatedChannel(), GatedChannel()
    before.gate.set()
    buffer.put(record(before, 1))
    flushing = asyncio.ensure_future(buffer.flush())
    await asyncio.sleep(0)
    buffer.put(record(after, 2))  # its send blocks for good: a flush that waited for it would never return
    await asyncio.wait_for(flushing, timeout=30)
    assert before.published == [1] and after.published == []


async def test_flush_raises_when_the_sending_task_died(buffer: ProducerBuffer) -> None:
    channel = GatedChannel()
    channel.fail = True
    channel.gate.set()
    buffer.put(record(channel, 1))
    buffer.put(record(channel, 2))
    # The failed send kills the task; the second record can then never go out, and a commit must not happen.
    with pytest.raises(UnflushedTableWrites):
        await buffer.flush()
    assert channel.published == []


async def test_flush_of_an_empty_buffer_returns_at_once(buffer: ProducerBuffer) -> None:
    await asyncio.wait_for(buffer.flush(), timeout=5)


async def test_waiting_for_a_full_buffer_to_drain_is_not_a_warning(
    buffer: ProducerBuffer, caplog: pytest.LogCaptureFixture
) -> None:
    channel = GatedChannel()
    channel.gate.set()
    for key in range(buffer.max_messages + 5):
        buffer.put(record(channel, key))
    with caplog.at_level(logging.DEBUG):
        await buffer.wait_until_ebb()
    assert buffer.size <= buffer.max_messages
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert any("producer buffer held" in r.getMessage() for r in caplog.records)


def test_resuming_flow_that_runs_keeps_the_queued_events() -> None:
    flow = FlowControlEvent(initially_suspended=False)
    queue: FlowControlQueue[int] = FlowControlQueue(maxsize=10, flow_control=flow, clear_on_resume=True)
    queue.put_nowait(1)
    flow.resume()  # Faust calls this again after its post-rebalance seek, with flow already running
    assert queue.qsize() == 1


def test_resuming_suspended_flow_still_drops_what_came_before_the_rebalance() -> None:
    flow = FlowControlEvent(initially_suspended=False)
    queue: FlowControlQueue[int] = FlowControlQueue(maxsize=10, flow_control=flow, clear_on_resume=True)
    queue.put_nowait(1)
    flow.suspend()
    flow.resume()
    assert queue.qsize() == 0 and flow.is_active()
