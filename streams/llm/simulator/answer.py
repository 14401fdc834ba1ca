"""What the simulated model answers to a chat request, before any fault: the content and the tokens it costs.

For a structured-output request (`response_format` json_schema or json_object) it finds the review blocks of the last
user message that has any (the format of `streams.llm.prompt`) and answers with `simulate_analysis`. Without review
blocks, the last user message is analysed as the text. A marketing request (schema `marketing_message`) gets the
writer's template (`simulate_marketing_reply`).

Batch contract (micro-batching in the gateway, the compact format of `streams.llm.batch_format`):
- Request: one user message with a `<reviews id="NONCE">` element holding a line per review, `[n,"text"]` or
  `[n,"text",rating,lang_hint]` (`build_batch_messages`), and `response_format` json_schema named
  `review_analysis_batch_keyed` or `review_analysis_batch_compact` (`batch_response_format(answer)`). The element
  alone also selects batch mode, whatever the response_format (llama.cpp-style `json_object` requests carry no schema
  name: the attached schema, if it is one of the two, tells the shape; otherwise the default, `DEFAULT_BATCH_ANSWER`).
- Reply: `{"items": [ITEM, ...]}`, one ITEM per line, same order, in the shape the request asked for (an object with
  short keys, or a positional array), each with the line's `n`: the very analysis a single request for that review
  gets (`simulate_analysis`), written with `compact_item`. Its completion tokens are counted from that content like
  any reply's, so the keyed shape's keys cost what they would.
- The caller expands and validates each item on its own (`expand_item`, then `validate_analysis(item, text)`) and
  resends the missing or invalid ones as single requests.

`usage`: prompt_tokens is the estimate of the request (`streams.llm.prompt.estimate_tokens`), completion_tokens the
estimate of the reply.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from streams.llm.batch_format import (
    BATCH_SCHEMA_NAMES,
    DEFAULT_BATCH_ANSWER,
    batch_answer_of,
    compact_item,
    parse_batch_reviews,
)
from streams.llm.marketing_writer import MARKETING_SCHEMA_NAME
from streams.llm.mock_transport import ChatRequest
from streams.llm.prompt import estimate_text_tokens, estimate_tokens, parse_review_blocks
from streams.llm.simulator.analysis import simulate_analysis
from streams.llm.simulator.hostile import HostileReply, make_hostile
from streams.llm.simulator.marketing import simulate_marketing_reply
from streams.llm.transport import ChatReply

__all__ = ["Answer", "answer_chat", "simulated_reply"]


@dataclass
class Answer:
    content: str
    # The decoded form of a valid `content` (what the faults break), None when there is nothing to break.
    valid: dict[str, Any] | None
    batch: bool
    items: int
    prompt_tokens: int
    completion_tokens: int


def answer_chat(messages: Sequence[Mapping[str, Any]], response_format: Any,
                hostile: HostileReply | None = None) -> Answer:
    """The simulated model's valid answer to a chat request (see the module docstring); with `hostile`, each
    analysis carries its parts (`hostile.make_hostile`)."""

    def analyse(text: str, lang_hint: str | None = None, rating: int | None = None) -> dict[str, Any]:
        analysis = simulate_analysis(text, lang_hint, rating)
        return analysis if hostile is None else make_hostile(analysis, text, hostile)

    blocks = []
    batch = False
    last_user = ""
    for message in reversed(messages):
        if message.get("role") != "user" or not isinstance(message.get("content"), str):
            continue
        last_user = last_user or message["content"]
        # A batch element (`<reviews id=…>`, a line per review) or single review blocks (`<review id=…>`).
        blocks = parse_batch_reviews(message["content"])
        batch = bool(blocks)
        blocks = blocks or parse_review_blocks(message["content"])
        if blocks:
            break
    response_format = response_format or {}
    rf_type = response_format.get("type") if isinstance(response_format, dict) else None
    schema_name = (response_format.get("json_schema") or {}).get("name") if rf_type == "json_schema" else None
    batch = batch or (schema_name in BATCH_SCHEMA_NAMES.values() and bool(blocks))
    valid: dict[str, Any]
    if schema_name == MARKETING_SCHEMA_NAME:
        valid = simulate_marketing_reply(last_user)
        content = json.dumps(valid, ensure_ascii=False)
        return Answer(content=content, valid=valid, batch=False, items=1,
                      prompt_tokens=estimate_tokens(messages), completion_tokens=estimate_text_tokens(content))
    if batch:
        # The same analysis as a single request would get, written in the batch shape the request asked for.
        answer = batch_answer_of(response_format if isinstance(response_format, dict) else {})
        valid = {
            "items": [
                compact_item(int(b["id"]) if b["id"].isdigit() else i,
                             analyse(b["text"], b["lang_hint"], b["rating"]),
                             answer or DEFAULT_BATCH_ANSWER)
                for i, b in enumerate(blocks)
            ]
        }
    elif blocks:
        valid = analyse(blocks[0]["text"], blocks[0]["lang_hint"], blocks[0]["rating"])
    else:
        valid = analyse(last_user)
    if rf_type in ("json_schema", "json_object"):
        content = json.dumps(valid, ensure_ascii=False)
    else:
        content = f"{valid['summary'] if 'summary' in valid else 'Batch analysed.'}"
    return Answer(
        content=content,
        valid=valid,
        batch=batch,
        items=len(blocks) if batch else 1,
        prompt_tokens=estimate_tokens(messages),
        completion_tokens=estimate_text_tokens(content),
    )


def simulated_reply(request: ChatRequest) -> ChatReply:
    """A `MockTransport` handler that answers in-process as the simulator's server would, without faults or limits.

        transport = MockTransport(simulated_reply)
    """
    answer = answer_chat(request.messages, request.response_format)
    return ChatReply(content=answer.content, model="reviewstream-sim", prompt_tokens=answer.prompt_tokens,
                     completion_tokens=answer.completion_tokens)
