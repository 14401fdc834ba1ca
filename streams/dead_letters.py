"""Dead letters for events an agent cannot process: kept with the reason and the original bytes, never crashing."""

from __future__ import annotations

import logging

from faust.types import EventT

from models.dead_letter import DeadLetter
from streams.app import dead_letters_topic, metrics
from streams.forwarding import Output, send_output

__all__ = ["dead_letter", "dead_letter_output"]

log = logging.getLogger(__name__)


def dead_letter_output(event: EventT, reason: str, detail: str, exc: BaseException, *, stage: str = "parse") -> Output:
    """The dead letter of `event` as an output for `forward_in_order` (keyed by the source position)."""
    message = event.message
    metrics.dead_letters.labels(message.topic, reason).inc()
    letter = DeadLetter.for_message(value=message.value, key=message.key, topic=message.topic,
                                    partition=message.partition, offset=message.offset, reason=reason,
                                    detail=detail, exception=exc, stage=stage)
    return Output(dead_letters_topic, f"{message.topic}:{message.partition}:{message.offset}", letter)


async def dead_letter(event: EventT, exc: BaseException, *, stage: str) -> None:
    """Send the dead letter of an event a table agent could not fold (reason `<stage>_failed`)."""
    message = event.message
    log.warning("dead-lettering %s[%s]@%s: %s", message.topic, message.partition, message.offset, exc)
    output = dead_letter_output(event, f"{stage}_failed", f"{type(exc).__name__}: {str(exc)[:300]}", exc,
                                stage=stage)
    await send_output(output, metrics)
