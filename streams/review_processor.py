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

from models.bounds import DEFAULT_BOUNDS, FieldBounds
from models.dead_letter import DeadLetter
from models.errors import InvalidEvent
from models.insight import ReviewInsight
from models.integrity.text import text_signature
from models.review import Review, parse_review
from streams.delivery.dead_letters import DeadLetters, SourceMessage
from streams.delivery.poison import attempt
from streams.llm.analyzer import Analyzer, AnalyzerReply, ReviewText
from streams.llm.errors import LLMError, outcome_of
from streams.llm.output_guard import OutputGuard, parse_competitors
from streams.llm.redaction import redact
from streams.llm.reply_policy import enforce_reply_policy
from streams.metrics import Metrics

__all__ = ["Processed", "ReviewProcessor", "SourceMessage"]

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Processed:
    insight: ReviewInsight | None = None
    dead_letter: DeadLetter | None = None


class ReviewProcessor:
    def __init__(
        self,
        analyzer: Analyzer,
        *,
        fallback: Analyzer | None = None,
        metrics: Metrics | None = None,
        bounds: FieldBounds = DEFAULT_BOUNDS,
        clock: Callable[[], float] = time.time,
        allow_concessions: bool = False,
        dead_letters: DeadLetters | None = None,
        max_attempts: int = 3,
        competitors: Sequence[str] = (),
    ) -> None:
        self.analyzer = analyzer
        self.output_guard = OutputGuard(parse_competitors(competitors))
        self.allow_concessions = allow_concessions
        self.fallback = fallback
        self.metrics = metrics or Metrics()
        self.bounds = bounds
        self.max_attempts = max_attempts
        self._clock = clock
        # Offline (`reviewstream analyze`) there is no key: letters keep only a redacted preview of the row.
        self.dead_letters = dead_letters or DeadLetters(metrics=self.metrics, sealer=None, clock=clock)

    async def process(self, message: SourceMessage) -> Processed:
        try:
            review = parse_review(message.value, bounds=self.bounds, now=self._clock())
        except InvalidEvent as exc:
            return Processed(dead_letter=self._dead_letter(message, exc.reason, exc.detail, exc, "parse"))
        insights: list[ReviewInsight] = []

        async def analyse() -> None:
            insights.append(await self.analyse(review))

        try:
            poisoned = await attempt(analyse, attempts=self.max_attempts, expected=(LLMError,),
                                     what=f"analysing {message.topic}[{message.partition}]@{message.offset}")
        except LLMError as exc:
            # Only reachable without a fallback analyzer: the review is kept, with the reason, for a later replay.
            return Processed(dead_letter=self._dead_letter(message, "analysis_failed", str(exc)[:500], exc, "analyze"))
        if poisoned is not None:  # a bug on one review must not stop the others: dead-lettered with the cause
            detail = f"{type(poisoned).__name__}: {str(poisoned)[:300]} ({self.max_attempts} attempts)"
            return Processed(dead_letter=self._dead_letter(message, "internal_error", detail, poisoned, "analyze"))
        return Processed(insight=insights[0])

    async def analyse(self, review: Review) -> ReviewInsight:
        redacted = redact(review.text)
        for kind in redacted.kinds:
            self.metrics.redactions.labels(kind).inc()
        text = ReviewText(text=redacted.text, lang_hint=review.lang, rating=review.rating)
        signature = text_signature(redacted.text)
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
            # On the redacted text: the signature travels on, and must not be a fingerprint of removed personal data.
            text_signature=signature.to_wire(),
            text_shingles=signature.shingles,
        )
        insight, action = enforce_reply_policy(insight, allow_concessions=self.allow_concessions)
        self.metrics.reply_drafts.labels(action).inc()
        return insight

    async def _analyse_text(self, text: ReviewText) -> tuple[AnalyzerReply, bool]:
        started = time.perf_counter()
        try:
            reply = await self.analyzer.analyze(text)
        except LLMError as exc:
            self.metrics.analyzer_requests.labels(self.analyzer.name, outcome_of(exc)).inc()
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
        return self.dead_letters.letter(message, reason, detail, exc, stage=stage)
