"""The transport seam: one async method that sends a chat request and returns the reply, errors mapped to ours.

`OpenAITransport` talks to any OpenAI-compatible endpoint through the official `openai` client; tests and the
gateway swap transports and keep the logic (like httpx's transports).

The API key never appears in a log line, an exception message or a repr: error messages are rebuilt from the status
code and the provider's error type, anything key-like is scrubbed, and they are raised with no link to the SDK's
exception (neither `__cause__` nor `__context__`: its text could echo the key).
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final, Protocol, cast
from urllib.parse import urlsplit, urlunsplit

import openai
from openai.types.chat import ChatCompletion

from streams.llm.errors import (
    InvalidReply,
    LLMError,
    LLMRateLimited,
    LLMTimeout,
    PermanentLLMError,
    TransientLLMError,
)
from streams.llm.prompt import ChatMessage

__all__ = [
    "LOCAL_PLACEHOLDER_API_KEY",
    "ChatReply",
    "ChatTransport",
    "OpenAITransport",
    "safe_url",
]

# Local OpenAI-compatible servers (the simulator, llama.cpp, vLLM) ignore the key, but the client refuses to start
# without one.
LOCAL_PLACEHOLDER_API_KEY: Final = "not-needed"
OPENAI_DEFAULT_BASE_URL: Final = "https://api.openai.com/v1"
_LOCAL_HOSTS: Final = frozenset({"localhost", "127.0.0.1", "::1", "0.0.0.0"})  # noqa: S104 - a host name, not a bind
# What a key looks like in provider error bodies, including the masked form OpenAI echoes ("sk-abc***xyz").
_KEY_LIKE: Final = re.compile(r"\b(?:sk|pk|rk|key)-[A-Za-z0-9_*\-]{4,}", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class ChatReply:
    content: str | None
    model: str
    prompt_tokens: int = 0
    completion_tokens: int = 0
    headers: Mapping[str, str] = field(default_factory=dict)
    # True when the model stopped because of the length limit: the JSON is cut off.
    truncated: bool = False


class ChatTransport(Protocol):
    """Send one chat-completions request; raise an `streams.llm.errors.LLMError` on failure."""

    model: str

    async def complete(
        self, messages: Sequence[ChatMessage], response_format: Mapping[str, Any], *, timeout_s: float,
        max_tokens: int | None = None,
    ) -> ChatReply: ...

    async def aclose(self) -> None: ...


class OpenAITransport:
    """The official `openai` client against any OpenAI-compatible base URL.

    Retries are the caller's (the gateway shares one cool-down across all requests after a 429), so by default the
    client's own retries are off.
    """

    def __init__(
        self,
        *,
        base_url: str | None = None,
        api_key: str | None = None,
        model: str = "gpt-4o-mini",
        timeout_s: float = 30.0,
        max_retries: int = 0,
    ) -> None:
        # Both come from Settings (which reads OPENAI_BASE_URL and OPENAI_API_KEY); an empty one means "not set".
        resolved_url = base_url or None
        key = api_key or None
        if key is None and resolved_url is not None and urlsplit(resolved_url).hostname in _LOCAL_HOSTS:
            key = LOCAL_PLACEHOLDER_API_KEY
        if key is None:
            raise PermanentLLMError(
                "no API key for the OpenAI endpoint "
                f"{safe_url(resolved_url) if resolved_url else 'https://api.openai.com/v1'}: "
                "set OPENAI_API_KEY (a placeholder is used only for localhost base URLs)"
            )
        self.model = model
        self.timeout_s = timeout_s
        self.max_retries = max_retries
        self._client = openai.AsyncOpenAI(base_url=resolved_url or OPENAI_DEFAULT_BASE_URL, api_key=key,
                                          timeout=timeout_s, max_retries=max_retries)
        self.base_url = safe_url(str(self._client.base_url))

    def __repr__(self) -> str:
        # Spelled out so that no future attribute (the client, the key) ever leaks into a log through repr().
        return (f"OpenAITransport(model={self.model!r}, base_url={self.base_url!r}, timeout_s={self.timeout_s!r}, "
                f"max_retries={self.max_retries!r})")

    async def complete(
        self, messages: Sequence[ChatMessage], response_format: Mapping[str, Any], *, timeout_s: float | None = None,
        max_tokens: int | None = None,
    ) -> ChatReply:
        failure: LLMError | None = None
        timeout = timeout_s or self.timeout_s
        try:
            # The client's timeout bounds each read, not the whole reply: a server that sends a few bytes every
            # second would hold the attempt forever. This bounds the attempt.
            async with asyncio.timeout(timeout):
                raw = await self._client.chat.completions.with_raw_response.create(
                    model=self.model,
                    # Our plain dicts are a subset of the SDK's TypedDict unions, which mypy cannot see through.
                    messages=cast(Any, list(messages)),
                    response_format=cast(Any, dict(response_format)),
                    temperature=0,
                    # A bound on every answer: small local models can run on until the context is full (minutes).
                    max_tokens=max_tokens if max_tokens else openai.omit,
                    timeout=timeout,
                )
                response = raw.parse()
            headers = {k.lower(): v for k, v in raw.headers.items() if k.lower().startswith("x-ratelimit")}
        except TimeoutError:
            failure = LLMTimeout(f"LLM request timed out after {timeout:g}s ({self.base_url})")
        except openai.OpenAIError as exc:
            failure = self._map_error(exc, timeout)
        if failure is not None:
            # Raised outside the except block: no __context__ pointing at the SDK error, whose text may hold the key.
            raise failure
        if not isinstance(response, ChatCompletion):
            # The SDK hands back the body as text when the content type is not JSON (a proxy's HTML error page).
            raise InvalidReply(
                f"LLM response is not a chat completion: content-type {raw.headers.get('content-type')!r}, body "
                f"starts with {self._scrub(str(response)[:80])!r}"
            )
        usage = response.usage
        if not response.choices:
            raise InvalidReply("reply has no choices")
        choice = response.choices[0]
        message = choice.message
        if message.content is None and getattr(message, "refusal", None):
            raise InvalidReply(f"model refused: {str(message.refusal)[:200]}")
        return ChatReply(
            content=message.content,
            model=response.model or self.model,
            prompt_tokens=usage.prompt_tokens if usage else 0,
            completion_tokens=usage.completion_tokens if usage else 0,
            headers=headers,
            truncated=choice.finish_reason == "length",
        )

    async def aclose(self) -> None:
        await self._client.close()

    def _map_error(self, exc: openai.OpenAIError, timeout_s: float) -> LLMError:
        """Our error for an openai exception, with a message that cannot carry the API key."""
        detail = self._scrub(_describe(exc))
        if isinstance(exc, openai.APITimeoutError):
            return LLMTimeout(f"LLM request timed out after {timeout_s:g}s ({self.base_url})")
        if isinstance(exc, openai.APIConnectionError):
            return TransientLLMError(f"cannot connect to LLM endpoint {self.base_url}: {detail}")
        if isinstance(exc, openai.RateLimitError):
            return LLMRateLimited(f"LLM rate limit (HTTP 429): {detail}", _retry_after_s(exc))
        if isinstance(exc, openai.InternalServerError | openai.ConflictError):
            return TransientLLMError(f"LLM server error: {detail}")
        if isinstance(exc, openai.APIStatusError) and exc.status_code == 408:
            return LLMTimeout(f"LLM request timeout: {detail}")
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


def safe_url(url: str | None) -> str:
    """The URL without user info, query or fragment: fit for logs and reprs."""
    if not url:
        return ""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    netloc = f"{host}:{parts.port}" if parts.port else host
    return urlunsplit((parts.scheme, netloc, parts.path, "", "")).rstrip("/")
