"""`MockTransport`: a `ChatTransport` answered in-process by a function, for tests of the gateway without HTTP.

    def handler(request: ChatRequest) -> ChatReply:
        return ChatReply(content='{"subject": "Hi", "body": "Thanks"}', model="mock")

    gateway = LLMGateway(MockTransport(handler))
    ...
    assert transport.requests[0].max_tokens == 512

The idea is httpx's `MockTransport`: the code under test keeps all its logic (batching, retries, the breaker,
validation) and only the one I/O method is swapped. The handler may be a coroutine function, and may raise any
`streams.llm.errors.LLMError` to play a failing provider. Every request is recorded, in order, in `requests`.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from streams.llm.prompt import ChatMessage
from streams.llm.transport import ChatReply

__all__ = ["ChatRequest", "Handler", "MockTransport"]


@dataclass(frozen=True, slots=True)
class ChatRequest:
    """What the gateway asked the transport for, as the handler sees it."""

    messages: list[ChatMessage]
    response_format: dict[str, Any]
    timeout_s: float
    max_tokens: int | None


Handler = Callable[[ChatRequest], ChatReply | Awaitable[ChatReply]]


class MockTransport:
    def __init__(self, handler: Handler, *, model: str = "mock") -> None:
        self.handler = handler
        self.model = model
        self.requests: list[ChatRequest] = []
        self.closed = False

    async def complete(
        self, messages: Sequence[ChatMessage], response_format: Mapping[str, Any], *, timeout_s: float,
        max_tokens: int | None = None,
    ) -> ChatReply:
        request = ChatRequest(list(messages), dict(response_format), timeout_s, max_tokens)
        self.requests.append(request)
        reply = self.handler(request)
        return reply if isinstance(reply, ChatReply) else await reply

    async def aclose(self) -> None:
        self.closed = True
