"""Dead letters for events an agent cannot process: the reason, the source position, the original sealed (or only a
redacted preview), always small enough to send (models/dead_letter.py). Bad input never crashes a worker.

>>> letters = DeadLetters(metrics=Metrics(), sealer=None)
>>> letters.letter(SourceMessage(b"{", None, "reviews", 0, 3), "invalid_json", "unexpected end").original_kept
'none'
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from faust.types import EventT, TopicT

from models.dead_letter import DeadLetter, Sealer
from streams.delivery.output import Output, OutputRejected, send_output
from streams.llm.redaction import redact
from streams.metrics import Metrics

__all__ = ["DeadLetters", "MessageLike", "SourceMessage"]

log = logging.getLogger(__name__)


class MessageLike(Protocol):
    """What a letter needs of the message it stands for (a Faust message, a read-back one, a file row)."""

    @property
    def value(self) -> bytes | None: ...
    @property
    def key(self) -> bytes | None: ...
    @property
    def topic(self) -> str: ...
    @property
    def partition(self) -> int: ...
    @property
    def offset(self) -> int: ...


@dataclass(frozen=True, slots=True)
class SourceMessage:
    """An input message and where it came from, so that a dead letter can point back at it (also a row of a file
    `reviewstream analyze` reads, with the file as its topic)."""

    value: bytes | None
    key: bytes | None
    topic: str
    partition: int = 0
    offset: int = 0
    timestamp: float | None = None


def _redact_preview(text: str) -> str:
    return redact(text).text


class DeadLetters:
    """Builds, counts and sends one worker's dead letters (its sealing key, its topic)."""

    def __init__(self, *, metrics: Metrics, sealer: Sealer | None, topic: TopicT | None = None,
                 clock: Callable[[], float] = time.time) -> None:
        self.metrics = metrics
        self.sealer = sealer
        self.topic = topic
        self._clock = clock

    def letter(self, message: MessageLike, reason: str, detail: str, exc: BaseException | None = None, *,
               stage: str = "parse") -> DeadLetter:
        self.metrics.dead_letters.labels(message.topic, reason).inc()
        return DeadLetter.for_message(
            value=message.value, key=message.key, topic=message.topic, partition=message.partition,
            offset=message.offset, reason=reason, detail=detail, exception=exc, stage=stage, now=self._clock(),
            redact=_redact_preview, sealer=self.sealer)

    def output(self, message: MessageLike, reason: str, detail: str, exc: BaseException | None = None, *,
               stage: str = "parse") -> Output:
        """The letter as an output, keyed by the source position (a replay rewrites the same key)."""
        return self.as_output(self.letter(message, reason, detail, exc, stage=stage))

    def as_output(self, letter: DeadLetter) -> Output:
        if self.topic is None:
            raise RuntimeError("these dead letters have no topic to go to (built for an offline run)")
        return Output(self.topic, f"{letter.source_topic}:{letter.partition}:{letter.offset}", letter)

    def instead(self, message: MessageLike, *, stage: str = "publish") -> Callable[[OutputRejected], Output | None]:
        """For `publish`: what to send when Kafka refuses an output of `message` — the message's dead letter
        (`output_rejected`); when the letter itself is refused, the letter without its preview and sealed original;
        after that, nothing (the refusal is raised)."""

        def replacement(rejection: OutputRejected) -> Output | None:
            refused = rejection.output.value
            if isinstance(refused, DeadLetter):
                if refused.original_kept == "none" and not refused.original_preview:
                    return None
                return self.as_output(refused.stripped())
            detail = f"{rejection.output.topic_name} refused the output: {type(rejection.cause).__name__}: " \
                     f"{str(rejection.cause)[:300]}"
            return self.output(message, "output_rejected", detail, rejection.cause, stage=stage)

        return replacement

    async def send(self, event: EventT[Any], exc: BaseException, *, stage: str) -> None:
        """Send the letter of an event a table agent could not fold (reason `<stage>_failed`), without waiting:
        Faust flushes the producer before it commits the event."""
        message = event.message
        log.warning("dead-lettering %s[%s]@%s: %s", message.topic, message.partition, message.offset, exc)
        reason = "output_rejected" if isinstance(exc, OutputRejected) else f"{stage}_failed"
        output = self.output(message, reason, f"{type(exc).__name__}: {str(exc)[:300]}", exc, stage=stage)
        try:
            await send_output(output, self.metrics)
        except OutputRejected as rejection:
            stripped = self.instead(message, stage=stage)(rejection)
            if stripped is None:
                raise
            await send_output(stripped, self.metrics)
