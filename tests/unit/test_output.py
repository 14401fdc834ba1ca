"""The one send path: a record Kafka will never take is replaced (never retried forever, never crashing the agent);
anything else is retried until it passes."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

import pytest
from aiokafka.errors import KafkaConnectionError, MessageSizeTooLargeError
from faust.exceptions import ProducerSendError

from models.dead_letter import DeadLetter
from streams.delivery import output as output_module
from streams.delivery.dead_letters import DeadLetters, SourceMessage
from streams.delivery.output import Output, OutputRejected, publish, send_output
from streams.metrics import Metrics
from streams.security.sealing import Keyring, new_key_spec


@dataclass
class ScriptedTopic:
    """A Faust topic whose sends fail as scripted (an exception per call, None: accepted)."""

    name: str
    failures: list[BaseException | None] = field(default_factory=list)
    sent: list[tuple[bytes | None, Any]] = field(default_factory=list)
    largest: int | None = None  # refuse values whose letter form is larger than this (bytes of .dumps())

    def get_topic_name(self) -> str:
        return self.name

    async def send(self, *, key: bytes | None, value: Any, partition: int | None, force: bool) -> Any:
        failure = self.failures.pop(0) if self.failures else None
        if failure is None and self.largest is not None and len(value.dumps()) > self.largest:
            failure = _too_large()
        if failure is not None:
            raise failure
        self.sent.append((key, value))
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        done.set_result(None)
        return done


def _too_large() -> ProducerSendError:
    # What Faust raises when aiokafka refuses a record over max_request_size.
    try:
        raise MessageSizeTooLargeError("The message is 1013334 bytes when serialized")
    except MessageSizeTooLargeError as cause:
        try:
            raise ProducerSendError(f"Error while sending: {cause!r}") from cause
        except ProducerSendError as wrapped:
            return wrapped


SOURCE = SourceMessage(b'{"review_id": "r1", "text": "call 13812345678"}', b"r1", "reviews", 1, 9)


def letters_to(topic: ScriptedTopic, metrics: Metrics) -> DeadLetters:
    return DeadLetters(metrics=metrics, sealer=Keyring.parse(new_key_spec("k")), topic=topic)  # type: ignore[arg-type]


async def test_an_output_kafka_refuses_is_replaced_by_the_inputs_dead_letter() -> None:
    metrics = Metrics()
    insights, letters_topic = ScriptedTopic("review-insights", [_too_large()]), ScriptedTopic("dead-letters")
    letters = letters_to(letters_topic, metrics)
    await publish(Output(insights, "r1", {"huge": True}), metrics, letters.instead(SOURCE))  # type: ignore[arg-type]
    assert insights.sent == []
    [(key, letter)] = letters_topic.sent
    assert key == b"reviews:1:9"
    assert (letter.reason, letter.stage) == ("output_rejected", "publish")
    assert "review-insights refused the output: MessageSizeTooLargeError" in letter.detail
    assert metrics.registry.get_sample_value("reviewstream_produce_errors_total",
                                             {"topic": "review-insights", "error": "MessageSizeTooLargeError"}) == 1


async def test_a_refused_letter_is_sent_without_its_original_and_then_given_up_loudly() -> None:
    metrics = Metrics()
    letter = letters_to(ScriptedTopic("unused"), metrics).letter(SOURCE, "invalid_json", "detail " * 40)
    # A topic that takes the letter's bare facts but not its preview and sealed original.
    letters_topic = ScriptedTopic("dead-letters", largest=len(letter.stripped().dumps()))
    letters = letters_to(letters_topic, metrics)
    await publish(letters.as_output(letter), metrics, letters.instead(SOURCE))
    [(_, sent)] = letters_topic.sent
    assert isinstance(sent, DeadLetter)
    assert (sent.original_kept, sent.sealed, sent.original_preview) == ("none", None, "")
    assert (sent.reason, sent.original_sha256) == ("invalid_json", letter.original_sha256)

    refusing = ScriptedTopic("dead-letters", largest=10)
    with pytest.raises(OutputRejected):
        await publish(letters_to(refusing, metrics).as_output(letter), metrics,
                      letters_to(refusing, metrics).instead(SOURCE))


async def test_a_value_the_codec_cannot_encode_is_rejected_not_retried() -> None:
    topic = ScriptedTopic("alerts", [TypeError("Integer exceeds 64-bit range")])
    with pytest.raises(OutputRejected, match="Integer exceeds 64-bit range"):
        await send_output(Output(topic, "a1", {}), Metrics())  # type: ignore[arg-type]


async def test_a_broker_that_is_away_is_waited_for(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(output_module, "_RETRY_DELAYS_S", (0.0,))
    metrics = Metrics()
    away = ProducerSendError("Error while sending")
    away.__cause__ = KafkaConnectionError("no broker")
    topic = ScriptedTopic("review-insights", [away, KafkaConnectionError("still none"), None])
    await publish(Output(topic, "r1", {"ok": 1}), metrics)  # type: ignore[arg-type]
    assert topic.sent == [(b"r1", {"ok": 1})]
    assert metrics.registry.get_sample_value("reviewstream_produce_errors_total",
                                             {"topic": "review-insights", "error": "KafkaConnectionError"}) == 1
