"""A forwarding agent whose send fails for good stops the worker (app.crash) instead of being restarted in place by
Faust with its queued events never acknowledged."""

from __future__ import annotations

import asyncio
from typing import Any, cast

import pytest
from aiokafka.errors import KafkaConnectionError

from streams.delivery.dead_letters import DeadLetters
from streams.delivery.forwarding import forward_in_order
from streams.delivery.output import Output
from streams.metrics import Metrics
from tests.unit.test_fold_loop import DEADLINE_S, P0, FakeStream, Letters, read_back


class NoLetters(Letters):
    def instead(self, message: Any, *, stage: str) -> Any:
        return lambda rejection: None


class BrokenTopic:
    def get_topic_name(self) -> str:
        return "out"

    async def send(self, **_: Any) -> Any:
        raise KafkaConnectionError("broker gone")


async def test_a_failed_send_crashes_the_app_and_acks_nothing() -> None:
    stream = FakeStream()
    stream.deliver(P0, 0, 1)
    task = asyncio.create_task(forward_in_order(
        stream, lambda event: [Output(BrokenTopic(), "k", b"v")],  # type: ignore[arg-type]
        metrics=Metrics(), agent="clickstream", dead_letters=cast(DeadLetters, NoLetters()), reader=read_back))
    with pytest.raises(KafkaConnectionError):
        await asyncio.wait_for(task, DEADLINE_S)
    assert stream.acked == []
    assert [type(reason) for reason in stream.app.crashed] == [KafkaConnectionError]
