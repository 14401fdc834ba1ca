"""From the raw bytes of one `reviews` message to exactly one result: a `ReviewInsight` or a `DeadLetter`.

No Kafka here: the review agent and `reviewstream analyze` both use it, and unit tests drive it directly.
Steps: parse and validate → redact personal data → analyse (LLM or offline) → check what the model wrote (the
output guard: whichever analyzer answered) → build the insight → reply policy. When the LLM keeps failing, the
offline analyzer answers and the insight says `degraded: true`; nothing is dropped.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from models.dead_letter import DeadLetter
from models.errors import InvalidEvent
from models.insight import ReviewInsight
from models.review import MAX_TEXT_CHARS, Review, parse_review
from streams.llm.analyzer import Analyzer, AnalyzerReply, ReviewText
from streams.llm.errors import InvalidReply, LLMError, PermanentLLMError, TransientLLMError
from streams.llm.output_guard import OutputGuard, parse_competitors
from streams.llm.redaction import redact
from streams.llm.reply_policy import enforce_reply_policy
from streams.metrics import Metrics

__all__ = ["Processed", "ReviewProcessor", "SourceMessage"]

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class SourceMessage:
    """Where an input came from, so a dead letter can point back at it."""

    value: bytes | None
    key: bytes | None
    topic: str
    partition: int = 0
    offset: int = 0
    timestamp: float | None = None


@dataclass(frozen=True, slots=True)
class Processed:
    insight: ReviewInsight | None = None
    dead_letter: DeadLetter | None = None


def _outcome(exc: LLMError) -> str:
    if isinstance(exc, InvalidReply):
        return "invalid_reply"
    if isinstance(exc, TransientLLMError):
        return "transient_error"
    if isinstance(exc, PermanentLLMError):
        return "permanent_error"
    return "error"


class ReviewProcessor:
    def __init__(
        self,
        analyzer: Analyzer,
        *,
        fallback: Analyzer | None = None,
        metrics: Metrics | None = None,
        max_text_chars: int = MAX_TEXT_CHARS,
        clock: Callable[[], float] = time.time,
        allow_concessions: bool = False,
        competitors: Sequence[str] = (),
    ) -> None:
        self.analyzer = analyzer
        self.output_guard = OutputGuard(parse_competitors(competitors))
        self.allow_concessions = allow_concessions
        self.fallback = fallback
        self.metrics = metrics or Metrics()
        self.max_text_chars = max_text_chars
        self._clock = clock

    async def process(self, message: SourceMessage) -> Processed:
        try:
            review = parse_review(message.value, max_text_chars=self.max_text_chars)
        except InvalidEvent as exc:
            return Processed(dead_letter=self._dead_letter(message, exc.reason, exc.detail, exc, "parse"))
        try:
            insight = await self.analyse(review)
        except LLMError as exc:
            # Only reachable without a fallback analyzer: the review is kept, with the reason, for a later replay.
            return Processed(dead_letter=self._dead_letter(message, "analysis_failed", str(exc)[:500], exc, "analyze"))
        except Exception as exc:  # a bug on one review must not stop the others: dead-lettered with the cause
            log.exception("analysing %s[%s]@%s failed", message.topic, message.partition, message.offset)
            detail = f"{type(exc).__name__}: {str(exc)[:300]}"
            return Processed(dead_letter=self._dead_letter(message, "internal_error", detail, exc, "analyze"))
        return Processed(insight=insight)

    async def analyse(self, review: Review) -> ReviewInsight:
        redacted = redact(review.text)
        for kind in redacted.kinds:
            self.metrics.redactions.labels(kind).inc()
        text = ReviewText(text=redacted.text, lang_hint=review.lang, rating=review.rating)
        reply, degraded = await self._analyse_text(text)
        checked = self.output_guard.check(reply.analysis, review_text=redacted.text, lang_hint=review.lang)
        for rejection in checked.rejections:
            self.metrics.model_output_rejections.labels(rejection.field, rejection.reason).inc()
        if checked.rejections:
            # Fields and reasons only: the rejected text may hold exactly what must not reach a log.
            log.info("review %s: %s output rejected: %s", review.review_id, reply.model,
                     ", ".join(f"{r.field}/{r.reason}" for r in checked.rejections))
        insight = ReviewInsight.build(
            review_id=review.review_id,
            user_id=review.user_id,
            product_id=review.product_id,
            analysis=checked.analysis,
            model=reply.model,
            degraded=degraded or reply.degraded,
            redacted=list(redacted.kinds),
            rating=review.rating,
            review_created_at=review.created_at,
            analyzed_at=self._clock(),
        )
        insight, action = enforce_reply_policy(insight, allow_concessions=self.allow_concessions)
        self.metrics.reply_drafts.labels(action).inc()
        return insight

    async def _analyse_text(self, text: ReviewText) -> tuple[AnalyzerReply, bool]:
        started = time.perf_counter()
        try:
            reply = await self.analyzer.analyze(text)
        except LLMError as exc:
            self.metrics.analyzer_requests.labels(self.analyzer.name, _outcome(exc)).inc()
            if self.fallback is None:
                raise
            log.warning("analyzer %s failed (%s: %s); answering with %s", self.analyzer.name,
                        type(exc).__name__, str(exc)[:200], self.fallback.name)
            reply = await self.fallback.analyze(text)
            self.metrics.analyzer_requests.labels(self.fallback.name, "fallback").inc()
            self.metrics.degraded_insights.inc()
            return reply, True
        finally:
            self.metrics.analyzer_duration.labels(self.analyzer.name).observe(time.perf_counter() - started)
        self.metrics.analyzer_requests.labels(self.analyzer.name, "ok").inc()
        return reply, False

    def _dead_letter(
        self, message: SourceMessage, reason: str, detail: str, exc: BaseException, stage: str
    ) -> DeadLetter:
        self.metrics.dead_letters.labels(message.topic, reason).inc()
        return DeadLetter.for_message(
            value=message.value,
            key=message.key,
            topic=message.topic,
            partition=message.partition,
            offset=message.offset,
            reason=reason,
            detail=detail,
            exception=exc,
            stage=stage,
            now=self._clock(),
        )
