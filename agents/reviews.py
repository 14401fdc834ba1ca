"""`reviews` → validate → redact → analyse → `review-insights` (keyed by review_id), bad input → `dead-letters`."""

from __future__ import annotations

import logging
from typing import Any

from faust.types import EventT, StreamT

from streams.app import app, dead_letters_topic, insights_topic, lag, metrics, reviews_topic, settings
from streams.llm.factory import worker_analyzers
from streams.pipelined import PipelinedStream
from streams.publish import publish
from streams.review_processor import ReviewProcessor, SourceMessage
from streams.skipped_reader import reader_for

__all__ = ["analyse_reviews"]

log = logging.getLogger(__name__)


@app.agent(reviews_topic, name="reviews")
async def analyse_reviews(stream: StreamT[Any]) -> None:
    analyzer, fallback = worker_analyzers(settings, metrics)
    processor = ReviewProcessor(analyzer, fallback=fallback, metrics=metrics, max_text_chars=settings.max_text_chars,
                                allow_concessions=settings.reply_allow_concessions, competitors=settings.competitors)
    log.info("review agent: analyzer=%s fallback=%s in-flight=%d", analyzer.name,
             fallback.name if fallback else None, settings.llm_max_inflight)

    async def handle(event: EventT) -> None:
        # Only these fields: a review read back after the consumer skipped it is not a Faust event (pipelined.py).
        message = event.message
        source = SourceMessage(
            value=message.value, key=message.key, topic=message.topic, partition=message.partition,
            offset=message.offset, timestamp=message.timestamp,
        )
        result = await processor.process(source)
        if result.insight is not None:
            await publish(insights_topic, key=result.insight.review_id, value=result.insight, metrics=metrics)
            metrics.insights_by_sentiment.labels(result.insight.sentiment).inc()
            if message.timestamp:
                latency = max(0.0, result.insight.analyzed_at - message.timestamp)
                metrics.end_to_end_latency.labels("reviews").observe(latency)
        elif result.dead_letter is not None:
            dl = result.dead_letter
            await publish(dead_letters_topic, key=f"{dl.source_topic}:{dl.partition}:{dl.offset}", value=dl,
                          metrics=metrics)

    try:
        # Offsets the consumer skipped are read back from the brokers Faust consumes from (streams/skipped_reader.py).
        pipeline = PipelinedStream(capacity=settings.llm_max_inflight, agent="reviews", metrics=metrics,
                                   on_finished=lag.note_finished, on_fatal=app.crash,
                                   reread=reader_for(app))
        await pipeline.run(stream, handle)
    finally:
        await analyzer.aclose()
        if fallback is not None:
            await fallback.aclose()
