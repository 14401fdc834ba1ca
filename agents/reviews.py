"""`reviews` → validate → redact → analyse → `review-insights` (keyed by review_id), bad input → `dead-letters`."""

from __future__ import annotations

import logging
from typing import Any

from faust.types import EventT, StreamT

from streams.app import app, dead_letters, insights_topic, lag, metrics, reread, reviews_topic, settings
from streams.delivery.output import Output, publish
from streams.delivery.pipelined import PipelinedStream
from streams.llm.analyzer import Analyzer
from streams.llm.factory import shared_analyzers
from streams.review_processor import ReviewProcessor, SourceMessage

__all__ = ["analyse_reviews"]

log = logging.getLogger(__name__)


@app.agent(reviews_topic, name="reviews")
async def analyse_reviews(stream: StreamT[Any]) -> None:
    async with shared_analyzers(settings, metrics) as (analyzer, fallback):
        await _analyse(stream, analyzer, fallback)


async def _analyse(stream: StreamT[Any], analyzer: Analyzer, fallback: Analyzer | None) -> None:
    processor = ReviewProcessor(analyzer, fallback=fallback, metrics=metrics, bounds=settings.field_bounds(),
                                max_attempts=settings.poison_max_attempts,
                                allow_concessions=settings.reply_allow_concessions, dead_letters=dead_letters,
                                competitors=settings.competitors)
    log.info("review agent: analyzer=%s fallback=%s in-flight=%d", analyzer.name,
             fallback.name if fallback else None, settings.llm_max_inflight)

    async def handle(event: EventT[Any]) -> None:
        # Only these fields: a review read back after the consumer skipped it is not a Faust event (pipelined.py).
        message = event.message
        source = SourceMessage(
            value=message.value, key=message.key, topic=message.topic, partition=message.partition,
            offset=message.offset, timestamp=message.timestamp,
        )
        result = await processor.process(source)
        # An output Kafka refuses (it can only be the letter of an oversized input, unless the topic was configured
        # smaller than our producer) is replaced by the review's letter, then by the letter without its original.
        instead = dead_letters.instead(source)
        if result.insight is not None:
            await publish(Output(insights_topic, result.insight.review_id, result.insight), metrics, instead)
            metrics.insights_by_sentiment.labels(result.insight.sentiment).inc()
            if message.timestamp:
                latency = max(0.0, result.insight.analyzed_at - message.timestamp)
                metrics.end_to_end_latency.labels("reviews").observe(latency)
        elif result.dead_letter is not None:
            await publish(dead_letters.as_output(result.dead_letter), metrics, instead)

    # Offsets the consumer skipped are read back from the brokers Faust consumes from
    # (streams/delivery/skipped_reader.py).
    pipeline = PipelinedStream(capacity=settings.llm_max_inflight, agent="reviews", metrics=metrics,
                               on_finished=lag.note_finished, on_fatal=app.crash, reread=reread)
    await pipeline.run(stream, handle)
