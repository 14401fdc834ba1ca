"""The analyzer seam: one async method that turns a review's text into a `ReviewAnalysis`.

Implementations: `streams.llm.local.LocalAnalyzer` (offline, no network) and `streams.llm.gateway.LLMGateway` (any
OpenAI-compatible endpoint, through a `streams.llm.transport.ChatTransport`). The review agent and `reviewstream
analyze` only see this protocol; tests swap the implementation and keep the logic.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

from models.insight import ReviewAnalysis

__all__ = ["Analyzer", "AnalyzerReply", "ReviewText"]


@dataclass(frozen=True, slots=True)
class ReviewText:
    """What an analyzer may see of a review: its text (already PII-redacted) and harmless hints."""

    text: str
    lang_hint: str | None = None
    rating: int | None = None


@dataclass(frozen=True, slots=True)
class AnalyzerReply:
    analysis: ReviewAnalysis
    model: str
    degraded: bool = False
    prompt_tokens: int = 0
    completion_tokens: int = 0
    extra: dict[str, float] = field(default_factory=dict)


@runtime_checkable
class Analyzer(Protocol):
    """Anything that can analyse a review. `name` labels metrics (bounded: a provider name, never user data)."""

    name: str

    async def analyze(self, review: ReviewText) -> AnalyzerReply: ...

    async def aclose(self) -> None: ...
