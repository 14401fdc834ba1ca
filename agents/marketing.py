"""`<app>-marketing-triggers` → the message writer (LLM at marketing priority, else a template) → `marketing-messages`.

The profile agent decided who gets a message and why (opt-out, frequency cap and occasion already checked, in
tables); this agent only writes the text, many at once, acknowledged in offset order after the message is sent. The
message is keyed by `message_id`, which the occasion determines, so a replay rewrites the same record.
"""

from __future__ import annotations

import logging
from typing import Any

from faust.types import EventT, StreamT

from models.errors import InvalidEvent
from models.marketing import parse_marketing_trigger
from streams.app import app, bounds, dead_letters, marketing_topic, marketing_triggers_in_topic, metrics, settings
from streams.delivery.output import Output, publish
from streams.delivery.pipelined import PipelinedStream
from streams.delivery.poison import attempt
from streams.llm.analyzer import Analyzer
from streams.llm.factory import shared_analyzers
from streams.llm.gateway import LLMGateway
from streams.llm.marketing_writer import MessageWriter

__all__ = ["write_messages"]

log = logging.getLogger(__name__)


@app.agent(marketing_triggers_in_topic, name="marketing")
async def write_messages(stream: StreamT[Any]) -> None:
    async with shared_analyzers(settings, metrics) as (analyzer, _):
        await _write(stream, analyzer)


async def _write(stream: StreamT[Any], analyzer: Analyzer) -> None:
    gateway = analyzer if isinstance(analyzer, LLMGateway) else None
    writer = MessageWriter(gateway, metrics=metrics)
    log.info("marketing agent: writer=%s", "llm" if gateway else "template")

    async def handle(event: EventT[Any]) -> None:
        try:
            trigger = parse_marketing_trigger(event.message.value, bounds=bounds)
        except InvalidEvent as exc:
            await publish(dead_letters.output(event.message, exc.reason, exc.detail, exc, stage="marketing"),
                          metrics, dead_letters.instead(event.message, stage="marketing"))
            return
        instead = dead_letters.instead(event.message, stage="marketing")

        async def write() -> None:
            message = await writer.write(trigger)
            await publish(Output(marketing_topic, message.message_id, message), metrics, instead)
            metrics.marketing_messages.labels(message.kind, message.generated_by).inc()

        where = f"{event.message.topic}[{event.message.partition}]@{event.message.offset}"
        poisoned = await attempt(write, attempts=settings.poison_max_attempts, what=f"writing the message of {where}")
        if poisoned is not None:
            detail = f"{type(poisoned).__name__}: {str(poisoned)[:300]}"
            await publish(dead_letters.output(event.message, "marketing_failed", detail, poisoned, stage="marketing"),
                          metrics, instead)

    pipeline = PipelinedStream(capacity=settings.marketing_max_inflight, agent="marketing", metrics=metrics,
                               on_fatal=app.crash)
    await pipeline.run(stream, handle)
