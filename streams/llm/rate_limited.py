"""An analyzer wrapper that waits for the rate limiter before each call and settles it with the real usage."""

from __future__ import annotations

import asyncio
import time

from streams.llm.analyzer import Analyzer, AnalyzerReply, ReviewText
from streams.llm.prompt import estimate_tokens
from streams.llm.rate_limiter import RateLimiter

__all__ = ["RateLimitedAnalyzer"]

# Instructions, schema and the reply come on top of the review itself; measured on the simulator's usage figures.
_OVERHEAD_TOKENS = 700


class RateLimitedAnalyzer:
    def __init__(self, inner: Analyzer, limiter: RateLimiter) -> None:
        self.inner = inner
        self.limiter = limiter
        self.name = inner.name

    async def analyze(self, review: ReviewText) -> AnalyzerReply:
        estimate = estimate_tokens([{"role": "user", "content": review.text}]) + _OVERHEAD_TOKENS
        wait = self.limiter.reserve(estimate, time.monotonic())
        if wait > 0:
            await asyncio.sleep(wait)  # the rate limit itself, not synchronisation
        reply = await self.inner.analyze(review)
        used = reply.prompt_tokens + reply.completion_tokens
        if used:
            self.limiter.settle(estimate, used, time.monotonic())
        return reply

    async def aclose(self) -> None:
        await self.inner.aclose()
