"""Builds the analyzers a worker uses from its settings: the primary one and the offline fallback."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass

from streams.llm.analyzer import Analyzer
from streams.llm.gateway import GatewayConfig, LLMGateway
from streams.llm.local import LocalAnalyzer
from streams.llm.transport import OpenAITransport
from streams.metrics import Metrics
from streams.settings import Settings

__all__ = ["build_analyzers", "build_gateway", "gateway_config", "openai_transport", "shared_analyzers"]


def gateway_config(settings: Settings) -> GatewayConfig:
    return GatewayConfig(
        rpm=settings.llm_rpm,
        tpm=settings.llm_tpm,
        max_in_flight=settings.llm_max_requests,
        batch_max_items=settings.llm_batch_max_items,
        batch_answer=settings.llm_batch_answer,
        attempt_timeout_s=settings.llm_timeout_s,
        deadline_s=settings.llm_deadline_s,
        max_attempts=settings.llm_max_retries + 1,
        max_output_tokens=settings.llm_max_output_tokens,
        response_format=settings.llm_response_format,
        price_input_per_mtok=settings.llm_price_input_per_mtok,
        price_output_per_mtok=settings.llm_price_output_per_mtok,
    )


def openai_transport(settings: Settings) -> OpenAITransport:
    """The official openai client with its own retries off: the gateway retries, under one policy."""
    return OpenAITransport(
        base_url=settings.openai_base_url or None,
        api_key=settings.openai_api_key.get_secret_value() if settings.openai_api_key else None,
        model=settings.llm_model,
        timeout_s=settings.llm_timeout_s,
    )


def build_gateway(settings: Settings, metrics: Metrics | None = None, *,
                  config: GatewayConfig | None = None) -> LLMGateway:
    """The worker's LLM gateway; `config` replaces the one made from `settings` (tests shorten the breaker's
    cool-off this way)."""
    return LLMGateway(openai_transport(settings), config or gateway_config(settings), metrics=metrics)


def build_analyzers(settings: Settings, metrics: Metrics | None = None) -> tuple[Analyzer, Analyzer | None]:
    """Return (primary, fallback). With the `local` provider there is nothing to fall back to."""
    local = LocalAnalyzer.from_model_dir(settings.local_model_dir)
    if settings.llm_provider == "local":
        return local, None
    return build_gateway(settings, metrics), local


@dataclass
class _Shared:
    analyzers: tuple[Analyzer, Analyzer | None]
    users: int = 0


_shared: dict[int, _Shared] = {}


@contextlib.asynccontextmanager
async def shared_analyzers(settings: Settings, metrics: Metrics | None = None,
                           ) -> AsyncIterator[tuple[Analyzer, Analyzer | None]]:
    """The analyzers of this worker process, built once and shared: the review and marketing agents use one gateway,
    so one rate limit and one set of request slots (where analysis goes first) cover both. The last agent to leave
    closes them: one agent stopping must not close what another still uses.

    >>> async with shared_analyzers(settings, metrics) as (analyzer, fallback):   # doctest: +SKIP
    ...     ...
    """
    key = id(settings)
    entry = _shared.get(key)
    if entry is None:
        entry = _shared[key] = _Shared(build_analyzers(settings, metrics))
    entry.users += 1
    try:
        yield entry.analyzers
    finally:
        entry.users -= 1
        if entry.users == 0:
            del _shared[key]
            analyzer, fallback = entry.analyzers
            await analyzer.aclose()
            if fallback is not None:
                await fallback.aclose()
