"""`OpenAIAnalyzer`: the `Analyzer` that asks any OpenAI-compatible chat-completions endpoint for a `ReviewAnalysis`.

>>> analyzer = OpenAIAnalyzer(base_url="http://127.0.0.1:8000/v1", api_key=None, model="gpt-4o-mini")
>>> analyzer
OpenAIAnalyzer(model='gpt-4o-mini', base_url='http://127.0.0.1:8000/v1', timeout_s=30.0, max_retries=2)

Contract with the caller:
- The text in `ReviewText` is ALREADY redacted: the review agent calls `streams.llm.redaction.redact()` before any
  analyzer and records the redacted kinds on the insight itself. This class never sees raw personal data and does
  not redact again (the local analyzer gets the same text, so both produce the same insight shape).
- One `analyze()` is one logical analysis: up to two chat completions (the answer, and one repair request when the
  answer is not a valid `ReviewAnalysis`). Transport retries (429, 5xx, timeouts, connection errors) are left to the
  openai client's own `max_retries`, which honours `retry-after-ms` / `retry-after`.
- Errors come out as `streams.llm.errors`: `TransientLLMError` (retry later; `LLMRateLimited` carries the server's
  retry-after), `PermanentLLMError` (configuration or request is wrong), `InvalidReply` (the model would not produce a
  valid analysis even after a repair request).
- The API key never appears in a log line, an exception message or a repr: error messages are rebuilt from the
  status code and the provider's error type, with anything key-like scrubbed, and raised with no link to the
  original exception (neither `__cause__` nor `__context__`: its text could echo the key).
"""

from __future__ import annotations

import logging
import time
from typing import Any, Final

import orjson

from streams.llm.analyzer import AnalyzerReply, ReviewText
from streams.llm.errors import InvalidReply, LLMRateLimited
from streams.llm.prompt import ChatMessage, build_messages, repair_message, response_format_for_schema
from streams.llm.transport import LOCAL_PLACEHOLDER_API_KEY, OpenAITransport
from streams.llm.validation import validate_analysis

__all__ = ["LOCAL_PLACEHOLDER_API_KEY", "LLMRateLimited", "OpenAIAnalyzer"]

log = logging.getLogger(__name__)

# How much of an invalid reply goes back to the model in the repair request: enough to see the mistake.
_REPAIR_ECHO_CHARS: Final = 2000


class OpenAIAnalyzer:
    """Analyse reviews one request each with an OpenAI-compatible model using strict JSON-schema structured output.

    The gateway (`streams.llm.gateway`) adds rate limiting, batching, caching and a breaker on top of the same
    transport; this class is the plain path.
    """

    name = "openai"

    def __init__(
        self,
        *,
        base_url: str | None = None,
        api_key: str | None = None,
        model: str = "gpt-4o-mini",
        timeout_s: float = 30.0,
        max_retries: int = 2,
    ) -> None:
        self._transport = OpenAITransport(base_url=base_url, api_key=api_key, model=model, timeout_s=timeout_s,
                                          max_retries=max_retries)
        self.model = model
        self.timeout_s = timeout_s
        self.max_retries = max_retries
        self.base_url = self._transport.base_url

    def __repr__(self) -> str:
        # Spelled out so that no future attribute (the client, the key) ever leaks into a log through repr().
        return (
            f"OpenAIAnalyzer(model={self.model!r}, base_url={self.base_url!r}, timeout_s={self.timeout_s!r}, "
            f"max_retries={self.max_retries!r})"
        )

    async def analyze(self, review: ReviewText) -> AnalyzerReply:
        """Analyse one already-redacted review; one repair request if the first answer is invalid."""
        started = time.perf_counter()
        messages: list[ChatMessage] = build_messages(review)
        prompt_tokens = completion_tokens = 0
        model = self.model
        error: InvalidReply | None = None
        for attempt in (1, 2):
            reply = await self._transport.complete(messages, response_format_for_schema(), timeout_s=self.timeout_s,
                                                   max_tokens=1024)
            model = reply.model
            prompt_tokens += reply.prompt_tokens
            completion_tokens += reply.completion_tokens
            try:
                analysis = decode_and_validate(None if reply.truncated else reply.content, review.text)
            except InvalidReply as exc:
                error = exc
                log.info("invalid reply from %s (attempt %d): %s", model, attempt, exc)
                messages = [
                    *messages,
                    {"role": "assistant", "content": (reply.content or "")[:_REPAIR_ECHO_CHARS]},
                    repair_message(str(exc)),
                ]
                continue
            return AnalyzerReply(
                analysis=analysis,
                model=model,
                prompt_tokens=prompt_tokens,
                completion_tokens=completion_tokens,
                extra={
                    "llm_calls": float(attempt),
                    "repaired": float(attempt > 1),
                    "latency_s": time.perf_counter() - started,
                },
            )
        assert error is not None
        raise InvalidReply(f"{model} gave no valid analysis after a repair request: {error}")

    async def aclose(self) -> None:
        await self._transport.aclose()


def decode_and_validate(content: str | None, text: str) -> Any:
    """Decode a model's JSON reply and validate it as the analysis of `text`; raise `InvalidReply` if unusable."""
    if content is None:
        raise InvalidReply("the reply was empty or cut off before the JSON object ended")
    try:
        data = orjson.loads(content)
    except orjson.JSONDecodeError as exc:
        raise InvalidReply(f"the reply is not JSON ({exc}); it starts with {content[:60]!r}") from None
    return validate_analysis(data, text)
