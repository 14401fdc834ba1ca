"""Builds the analyzers a worker uses from its settings: the primary one and the offline fallback."""

from __future__ import annotations

from streams.llm.analyzer import Analyzer
from streams.llm.local import LocalAnalyzer
from streams.llm.openai_analyzer import OpenAIAnalyzer
from streams.llm.rate_limited import RateLimitedAnalyzer
from streams.llm.rate_limiter import RateLimiter
from streams.settings import Settings

__all__ = ["build_analyzers"]


def build_analyzers(settings: Settings) -> tuple[Analyzer, Analyzer | None]:
    """Return (primary, fallback). With the `local` provider there is nothing to fall back to."""
    local = LocalAnalyzer.from_model_dir(settings.local_model_dir)
    if settings.llm_provider == "local":
        return local, None
    remote = OpenAIAnalyzer(
        base_url=settings.openai_base_url or None,
        api_key=settings.openai_api_key.get_secret_value() if settings.openai_api_key else None,
        model=settings.llm_model,
        timeout_s=settings.llm_timeout_s,
        max_retries=settings.llm_max_retries,
    )
    limiter = RateLimiter(rpm=settings.llm_rpm, tpm=settings.llm_tpm)
    return RateLimitedAnalyzer(remote, limiter), local
