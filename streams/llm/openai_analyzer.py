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
import os
import re
import time
from typing import Any, Final, cast
from urllib.parse import urlsplit, urlunsplit

import openai
import orjson

from streams.llm.analyzer import AnalyzerReply, ReviewText
from streams.llm.errors import InvalidReply, LLMError, PermanentLLMError, TransientLLMError
from streams.llm.prompt import ChatMessage, build_messages, repair_message, response_format_for_schema
from streams.llm.validation import validate_analysis

__all__ = ["LOCAL_PLACEHOLDER_API_KEY", "LLMRateLimited", "OpenAIAnalyzer"]

log = logging.getLogger(__name__)

# Local OpenAI-compatible servers (the simulator, llama.cpp, vLLM) ignore the key, but the client refuses to start
# without one.
LOCAL_PLACEHOLDER_API_KEY: Final = "not-needed"
_LOCAL_HOSTS: Final = frozenset({"localhost", "127.0.0.1", "::1", "0.0.0.0"})  # noqa: S104 - a host name, not a bind
# What a key looks like in provider error bodies, including the masked form OpenAI echoes ("sk-abc***xyz").
_KEY_LIKE: Final = re.compile(r"\b(?:sk|pk|rk|key)-[A-Za-z0-9_*\-]{4,}", re.IGNORECASE)
# How much of an invalid reply goes back to the model in the repair request: enough to see the mistake.
_REPAIR_ECHO_CHARS: Final = 2000


class LLMRateLimited(TransientLLMError):
    """The provider answered 429 after the client's own retries; `retry_after_s` is its hint, if it gave one."""

    def __init__(self, message: str, retry_after_s: float | None = None) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s


class OpenAIAnalyzer:
    """Analyse reviews with an OpenAI-compatible model using strict JSON-schema structured output."""

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
        resolved_url = base_url or os.environ.get("OPENAI_BASE_URL") or None
        key = api_key or os.environ.get("OPENAI_API_KEY") or None
        if key is None and resolved_url is not None and urlsplit(resolved_url).hostname in _LOCAL_HOSTS:
            key = LOCAL_PLACEHOLDER_API_KEY
        if key is None:
            raise PermanentLLMError(
                "no API key for the OpenAI endpoint "
                f"{_safe_url(resolved_url) if resolved_url else 'https://api.openai.com/v1'}: "
                "set OPENAI_API_KEY (a placeholder is used only for localhost base URLs)"
            )
        self.model = model
        self.timeout_s = timeout_s
        self.max_retries = max_retries
        self._client = openai.AsyncOpenAI(
            base_url=resolved_url, api_key=key, timeout=timeout_s, max_retries=max_retries
        )
        self.base_url = _safe_url(str(self._client.base_url))

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
            content, model, usage = await self._complete(messages)
            prompt_tokens += usage[0]
            completion_tokens += usage[1]
            try:
                analysis = _decode_and_validate(content, review.text)
            except InvalidReply as exc:
                error = exc
                log.info("invalid reply from %s (attempt %d): %s", model, attempt, exc)
                messages = [
                    *messages,
                    {"role": "assistant", "content": (content or "")[:_REPAIR_ECHO_CHARS]},
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
        await self._client.close()

    async def _complete(self, messages: list[ChatMessage]) -> tuple[str | None, str, tuple[int, int]]:
        """One chat completion: (content, model, (prompt_tokens, completion_tokens)), errors mapped to ours."""
        failure: LLMError | None = None
        try:
            response = await self._client.chat.completions.create(
                model=self.model,
                # Our plain dicts are a subset of the SDK's TypedDict unions, which mypy cannot see through.
                messages=cast(Any, messages),
                response_format=cast(Any, response_format_for_schema()),
                temperature=0,
            )
        except openai.OpenAIError as exc:
            failure = self._map_error(exc)
        if failure is not None:
            # Raised outside the except block: no __context__ pointing at the SDK error, whose text may hold the key.
            raise failure
        usage = response.usage
        tokens = (usage.prompt_tokens, usage.completion_tokens) if usage is not None else (0, 0)
        if not response.choices:
            raise InvalidReply("reply has no choices")
        choice = response.choices[0]
        if choice.finish_reason == "length":
            # A truncated JSON object cannot be valid; say so plainly to the repair request.
            return None, response.model or self.model, tokens
        message = choice.message
        if message.content is None and getattr(message, "refusal", None):
            raise InvalidReply(f"model refused: {str(message.refusal)[:200]}")
        return message.content, response.model or self.model, tokens

    def _map_error(self, exc: openai.OpenAIError) -> LLMError:
        """Our error for an openai exception, with a message that cannot carry the API key."""
        detail = self._scrub(_describe(exc))
        if isinstance(exc, openai.APITimeoutError):
            return TransientLLMError(f"LLM request timed out after {self.timeout_s:g}s ({self.base_url})")
        if isinstance(exc, openai.APIConnectionError):
            return TransientLLMError(f"cannot connect to LLM endpoint {self.base_url}: {detail}")
        if isinstance(exc, openai.RateLimitError):
            return LLMRateLimited(f"LLM rate limit (HTTP 429): {detail}", _retry_after_s(exc))
        if isinstance(exc, openai.InternalServerError | openai.ConflictError):
            return TransientLLMError(f"LLM server error: {detail}")
        if isinstance(exc, openai.APIStatusError) and exc.status_code == 408:
            return TransientLLMError(f"LLM request timeout: {detail}")
        if isinstance(
            exc,
            openai.AuthenticationError
            | openai.PermissionDeniedError
            | openai.BadRequestError
            | openai.NotFoundError
            | openai.UnprocessableEntityError,
        ):
            return PermanentLLMError(f"LLM request rejected: {detail}")
        if isinstance(exc, openai.APIResponseValidationError):
            return InvalidReply(f"LLM response is not a chat completion: {detail}")
        if isinstance(exc, openai.APIStatusError):
            return PermanentLLMError(f"LLM request failed: {detail}")
        return PermanentLLMError(f"LLM client error ({type(exc).__name__}): {detail}")

    def _scrub(self, text: str) -> str:
        secret = self._client.api_key
        if secret and secret != LOCAL_PLACEHOLDER_API_KEY:
            text = text.replace(secret, "***")
        return _KEY_LIKE.sub("***", text)


def _decode_and_validate(content: str | None, text: str) -> Any:
    if content is None:
        raise InvalidReply("the reply was empty or cut off before the JSON object ended")
    try:
        data = orjson.loads(content)
    except orjson.JSONDecodeError as exc:
        raise InvalidReply(f"the reply is not JSON ({exc}); it starts with {content[:60]!r}") from None
    return validate_analysis(data, text)


def _describe(exc: openai.OpenAIError) -> str:
    """Status, provider error type/code and message, request id: what an operator needs, from structured fields."""
    if isinstance(exc, openai.APIStatusError):
        body = exc.body if isinstance(exc.body, dict) else {}
        parts = [f"HTTP {exc.status_code}"]
        for key in ("type", "code"):
            if body.get(key):
                parts.append(f"{key}={str(body[key])[:60]}")
        message = body.get("message") if isinstance(body.get("message"), str) else None
        if message:
            parts.append(repr(message[:200]))
        if exc.request_id:
            parts.append(f"request_id={exc.request_id[:80]}")
        return " ".join(parts)
    if isinstance(exc, openai.APIConnectionError):
        cause = exc.__cause__
        return type(cause).__name__ if cause is not None else "connection error"
    return str(exc)[:200]


def _retry_after_s(exc: openai.APIStatusError) -> float | None:
    headers = exc.response.headers
    for name, scale in (("retry-after-ms", 0.001), ("retry-after", 1.0)):
        value = headers.get(name)
        if value is None:
            continue
        try:
            return float(value) * scale
        except ValueError:
            continue
    return None


def _safe_url(url: str | None) -> str:
    """The URL without user info, query or fragment: fit for logs and reprs."""
    if not url:
        return ""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    netloc = f"{host}:{parts.port}" if parts.port else host
    return urlunsplit((parts.scheme, netloc, parts.path, "", "")).rstrip("/")
