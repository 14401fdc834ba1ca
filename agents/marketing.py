"""`<app>-marketing-triggers` → the message writer (LLM at marketing priority, else a template) → `marketing-messages`.

The profile agent decided who gets a message and why (opt-out, frequency cap and occasion already checked, in
tables); this agent only writes the text, many at once, acknowledged in offset order after the message is sent. The
message is keyed by `message_id`, which the occasion determines, so a replay rewrites the same record.
"""

from __future__ import annotations

import logging
from typing import Any

from faust.types import EventT, StreamT

from models.marketing import MarketingTrigger
from streams.app import app, marketing_topic, marketing_triggers_topic, metrics, settings
from streams.dead_letters import dead_letter
from streams.llm.factory import worker_analyzers
from streams.llm.gateway import LLMGateway
from streams.llm.marketing_writer import MessageWriter
from streams.pipelined import PipelinedStream
from streams.publish import publish

__all__ = ["write_messages"]

log = logging.getLogger(__name__)


@app.agent(marketing_triggers_topic, name="marketing")
async def write_messages(stream: StreamT[Any]) -> None:
    analyzer, _ = worker_analyzers(settings, metrics)
    gateway = analyzer if isinstance(analyzer, LLMGateway) else None
    writer = MessageWriter(gateway, metrics=metrics)
    log.info("marketing agent: writer=%s", "llm" if gateway else "template")

    async def handle(event: EventT) -> None:
        trigger = event.value
        if not isinstance(trigger, MarketingTrigger):
            await dead_letter(event, TypeError(f"not a marketing trigger: {type(trigger).__name__}"), stage="marketing")
            return
        message = await writer.write(trigger)
        await publish(marketing_topic, key=message.message_id, value=message, metrics=metrics)
        metrics.marketing_messages.labels(message.kind, message.generated_by).inc()

    pipeline = PipelinedStream(capacity=settings.marketing_max_inflight, agent="marketing", metrics=metrics,
                               on_fatal=app.crash)
    await pipeline.run(stream, handle)
