"""The LLM gateway's logic through an in-process `MockTransport`: no HTTP, no simulator process."""

from __future__ import annotations

import pytest

from streams.llm.analyzer import ReviewText
from streams.llm.errors import InvalidReply
from streams.llm.gateway import GatewayConfig, LLMGateway
from streams.llm.mock_transport import ChatRequest, MockTransport
from streams.llm.transport import ChatReply


@pytest.mark.parametrize(("max_attempts", "requests"), [(1, 2), (3, 4), (5, 6)])
async def test_a_review_whose_replies_stay_invalid_gives_up_after_its_attempts(max_attempts: int,
                                                                               requests: int) -> None:
    # Each round is a request and its repair; an invalid repair costs two attempts.
    transport = MockTransport(lambda request: ChatReply(content="Sure! It is positive.", model="mock"))
    gateway = LLMGateway(transport, GatewayConfig(max_attempts=max_attempts, batch_max_items=1, deadline_s=30))
    with pytest.raises(InvalidReply, match="no valid analysis after a repair request: the reply is not JSON"):
        await gateway.analyze(ReviewText("The kettle leaks"))
    await gateway.aclose()
    assert len(transport.requests) == requests
    assert [len(r.messages) for r in transport.requests] == [2, 4] * (requests // 2), "request, repair, ..."


async def test_a_failed_repair_request_counts_one_attempt() -> None:
    def answer(request: ChatRequest) -> ChatReply:
        if len(request.messages) > 2:
            raise InvalidReply("reply has no choices")  # the repair request itself fails
        return ChatReply(content="not json", model="mock")

    transport = MockTransport(answer)
    gateway = LLMGateway(transport, GatewayConfig(max_attempts=2, batch_max_items=1, backoff_base_s=0.001,
                                                  deadline_s=30))
    with pytest.raises(InvalidReply):
        await gateway.analyze(ReviewText("The kettle leaks"))
    await gateway.aclose()
    # request, failed repair (1 attempt), request, failed repair (2: used up)
    assert [len(r.messages) for r in transport.requests] == [2, 4, 2, 4]
