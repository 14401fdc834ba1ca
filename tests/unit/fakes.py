"""Test doubles for the analyzer seam."""

from __future__ import annotations

import asyncio
import random

from models.insight import ReviewAnalysis
from streams.llm.analyzer import AnalyzerReply, ReviewText
from streams.llm.errors import LLMError, TransientLLMError


def analysis_for(text: str, sentiment: str = "positive") -> ReviewAnalysis:
    return ReviewAnalysis.from_data({
        "sentiment": sentiment, "sentiment_score": 0.8 if sentiment == "positive" else -0.8,
        "aspects": [{"name": "overall", "sentiment": "positive" if sentiment == "positive" else "negative",
                     "evidence": text[:20]}],
        "intent": "praise", "urgency": "low", "issues": [], "competitors": [], "summary": "ok",
        "suggested_reply": None, "language": "en",
    })


class FakeAnalyzer:
    """Answers every review; optionally after a random short delay so that answers finish out of order."""

    def __init__(self, name: str = "fake", jitter_s: float = 0.0, seed: int = 1) -> None:
        self.name = name
        self.seen: list[str] = []
        self.jitter_s = jitter_s
        self._random = random.Random(seed)
        self.in_flight = 0
        self.max_in_flight = 0

    async def analyze(self, review: ReviewText) -> AnalyzerReply:
        self.seen.append(review.text)
        self.in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            if self.jitter_s:
                await asyncio.sleep(self._random.random() * self.jitter_s)
            return AnalyzerReply(analysis=analysis_for(review.text), model=f"{self.name}-model",
                                 prompt_tokens=10, completion_tokens=5)
        finally:
            self.in_flight -= 1

    async def aclose(self) -> None:
        pass


class FailingAnalyzer:
    name = "failing"

    def __init__(self, error: LLMError | None = None) -> None:
        self.error = error or TransientLLMError("503 from upstream")
        self.calls = 0

    async def analyze(self, review: ReviewText) -> AnalyzerReply:
        self.calls += 1
        raise self.error

    async def aclose(self) -> None:
        pass
