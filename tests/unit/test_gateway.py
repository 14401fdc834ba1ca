"""The LLM gateway's logic through an in-process `MockTransport`: no HTTP, no simulator process."""

from __future__ import annotations

import asyncio
import dataclasses
import json
from collections.abc import Callable
from typing import Any

import pytest

from models.insight import ReviewAnalysis
from streams.llm.analyzer import ReviewText
from streams.llm.batch_format import (
    BATCH_ANSWERS,
    BATCH_SYSTEM_PROMPTS,
    DEFAULT_BATCH_ANSWER,
    BatchAnswer,
    batch_response_format,
    compact_item,
    parse_batch_reviews,
)
from streams.llm.errors import InvalidReply, TransientLLMError
from streams.llm.gateway import GatewayConfig, LLMGateway
from streams.llm.mock_transport import ChatRequest, MockTransport
from streams.llm.prompt import SYSTEM_PROMPT, parse_review_blocks
from streams.llm.simulator import simulate_analysis
from streams.llm.transport import ChatReply
from streams.settings import Settings
from tests.factories import MIXED_REVIEW_TEXTS

TEXTS = MIXED_REVIEW_TEXTS

answers = pytest.mark.parametrize("answer", BATCH_ANSWERS)


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


# ------------------------------------------------------------------------------- batches and their fallback
def scripted(batch_answer: Callable[[list[Any]], str], cut_batches_at: int | None = None) -> MockTransport:
    """Answers batches with `batch_answer(lines)` (cut after `cut_batches_at` characters, like a max_tokens limit)
    and single requests like the simulator; 100 prompt and 50 completion tokens a reply, whatever it holds."""

    def answer(request: ChatRequest) -> ChatReply:
        user = request.messages[-1]["content"]
        lines = parse_batch_reviews(user)
        truncated = False
        if lines:
            content = batch_answer(lines)
            if cut_batches_at is not None and len(content) > cut_batches_at:
                content, truncated = content[:cut_batches_at], True
        else:
            block = parse_review_blocks(user)[0]
            content = json.dumps(simulate_analysis(block["text"]))
        return ChatReply(content=content, model="scripted", prompt_tokens=100, completion_tokens=50,
                         truncated=truncated)

    return MockTransport(answer, model="scripted")


def _items(lines: list[Any], answer: BatchAnswer) -> list[Any]:
    return [compact_item(int(b["id"]), simulate_analysis(b["text"]), answer) for b in lines]


async def _analyse(transport: MockTransport, texts: list[str], answer: BatchAnswer) -> list[ReviewAnalysis]:
    gateway = LLMGateway(transport, GatewayConfig(batch_max_items=len(texts), batch_max_wait_s=5.0,
                                                  batch_answer=answer))
    try:
        replies = await asyncio.gather(*(gateway.analyze(ReviewText(t)) for t in texts))
    finally:
        await gateway.aclose()
    return [r.analysis for r in replies]


async def test_gateway_learns_the_output_of_a_batch_item_apart_from_a_single_answer() -> None:
    # The scripted replies report 50 output tokens whatever they hold: 12.5 per item in a batch of 4.
    transport = scripted(lambda lines: json.dumps({"items": _items(lines, DEFAULT_BATCH_ANSWER)}))
    gateway = LLMGateway(transport, GatewayConfig(batch_max_items=4, batch_max_wait_s=5.0, min_output_tokens=1,
                                                  completion_tokens_per_review=200,
                                                  completion_tokens_per_batch_item=60))
    try:
        for texts in (TEXTS[:4], [f"Review number {i}: works as described." for i in range(4)]):
            await asyncio.gather(*(gateway.analyze(ReviewText(t)) for t in texts))
        gateway.config = dataclasses.replace(gateway.config, batch_max_items=1)
        await gateway.analyze(ReviewText("one more review, alone"))
    finally:
        await gateway.aclose()
    # max_tokens is twice the expected output: the batch prior (60/item), then the first reply's 12.5/item; a single
    # request still expects a single answer's 200, not what batch items taught.
    assert [r.max_tokens for r in transport.requests] == [2 * 60 * 4, 2 * 50, 2 * 200]


@answers
async def test_gateway_expands_a_valid_batch_in_one_request(answer: BatchAnswer) -> None:
    transport = scripted(lambda lines: json.dumps({"items": _items(lines, answer)[::-1]}))  # any order
    analyses = await _analyse(transport, TEXTS[:4], answer)
    assert len(transport.requests) == 1
    request = transport.requests[0]
    assert request.messages[0]["content"] == BATCH_SYSTEM_PROMPTS[answer]
    assert request.response_format == batch_response_format(answer)
    assert analyses == [ReviewAnalysis.from_data(simulate_analysis(t)) for t in TEXTS[:4]]


def test_the_gateway_asks_for_tuple_answers_in_batches_of_32_by_default() -> None:
    assert GatewayConfig().batch_answer == "tuple"
    assert GatewayConfig().batch_max_items == Settings().llm_batch_max_items == 32


@answers
async def test_gateway_resends_broken_and_missing_items_singly(answer: BatchAnswer) -> None:
    def reply(lines: list[Any]) -> str:
        items = _items(lines, answer)
        items[1][1 if answer == "tuple" else "s"] = "very positive"  # broken code
        del items[2]  # missing
        return json.dumps({"items": items})

    transport = scripted(reply)
    analyses = await _analyse(transport, TEXTS[:4], answer)
    singles = [r.messages for r in transport.requests if r.messages[0]["content"] == SYSTEM_PROMPT]
    assert sorted(parse_review_blocks(m[-1]["content"])[0]["text"] for m in singles) == sorted(TEXTS[1:3])
    assert analyses == [ReviewAnalysis.from_data(simulate_analysis(t)) for t in TEXTS[:4]]


@answers
async def test_gateway_resends_every_review_of_an_unparsable_batch(answer: BatchAnswer) -> None:
    transport = scripted(lambda lines: "Sure! " + json.dumps({"items": _items(lines, answer)}))
    analyses = await _analyse(transport, TEXTS[:3], answer)
    assert len(transport.requests) == 4
    assert analyses == [ReviewAnalysis.from_data(simulate_analysis(t)) for t in TEXTS[:3]]


@answers
async def test_gateway_resends_every_item_of_the_other_shape(answer: BatchAnswer) -> None:
    other: BatchAnswer = "keyed" if answer == "tuple" else "tuple"
    transport = scripted(lambda lines: json.dumps({"items": _items(lines, other)}))
    analyses = await _analyse(transport, TEXTS[:3], answer)
    assert len(transport.requests) == 4
    assert analyses == [ReviewAnalysis.from_data(simulate_analysis(t)) for t in TEXTS[:3]]


@answers
async def test_gateway_resends_only_what_a_cut_off_batch_did_not_finish(answer: BatchAnswer) -> None:
    items = [compact_item(n, simulate_analysis(t), answer) for n, t in enumerate(TEXTS[:4])]
    full = json.dumps({"items": items})
    cut_at = full.index(json.dumps(items[2]))  # items 0 and 1 complete, 2 and 3 lost to the length limit
    transport = scripted(lambda lines: json.dumps({"items": _items(lines, answer)}),
                                  cut_batches_at=cut_at + 10)
    analyses = await _analyse(transport, TEXTS[:4], answer)
    singles = [r.messages for r in transport.requests if r.messages[0]["content"] == SYSTEM_PROMPT]
    assert sorted(parse_review_blocks(m[-1]["content"])[0]["text"] for m in singles) == sorted(TEXTS[2:4])
    assert analyses == [ReviewAnalysis.from_data(simulate_analysis(t)) for t in TEXTS[:4]]


async def test_a_bug_in_the_transport_fails_the_reviews_at_once_instead_of_leaving_them_waiting() -> None:
    def broken(request: ChatRequest) -> ChatReply:
        raise AttributeError("'str' object has no attribute 'usage'")

    gateway = LLMGateway(MockTransport(broken), GatewayConfig(batch_max_items=2, deadline_s=2))
    results = await asyncio.gather(gateway.analyze(ReviewText("one")), gateway.analyze(ReviewText("two")),
                                   return_exceptions=True)
    await gateway.aclose()
    for result in results:
        # Not the deadline's LLMTimeout: the request's own failure, named.
        assert isinstance(result, TransientLLMError) and "unexpected AttributeError" in str(result), result
