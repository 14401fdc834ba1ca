from __future__ import annotations

import hashlib

import jsonschema
import orjson
import pytest

from models.integrity import text_signature
from models.schemas import load_schema
from streams.llm.errors import PermanentLLMError
from streams.metrics import Metrics
from streams.review_processor import ReviewProcessor, SourceMessage
from tests.unit.fakes import FailingAnalyzer, FakeAnalyzer


def message(text: object = "The kettle boils fast", **extra: object) -> SourceMessage:
    value = orjson.dumps({"review_id": "r1", "user_id": "u1", "product_id": "p1", "text": text, **extra})
    return SourceMessage(value=value, key=b"r1", topic="reviews", partition=3, offset=42, timestamp=1.0)


async def test_valid_review_becomes_an_insight() -> None:
    processor = ReviewProcessor(FakeAnalyzer(), clock=lambda: 99.0)
    result = await processor.process(message(rating=4))
    assert result.dead_letter is None and result.insight is not None
    insight = result.insight
    assert (insight.review_id, insight.user_id, insight.product_id, insight.rating) == ("r1", "u1", "p1", 4)
    assert insight.model == "fake-model" and insight.degraded is False and insight.analyzed_at == 99.0


async def test_personal_data_is_redacted_before_the_analyzer_sees_it() -> None:
    analyzer = FakeAnalyzer()
    processor = ReviewProcessor(analyzer)
    result = await processor.process(message("Broken on arrival, call me on 13812345678 or mail jo@example.com"))
    assert result.insight is not None
    assert "13812345678" not in analyzer.seen[0] and "jo@example.com" not in analyzer.seen[0]
    assert result.insight.redacted == ["email", "phone"]


async def test_the_insight_carries_the_signature_of_the_redacted_text_for_the_integrity_step() -> None:
    analyzer = FakeAnalyzer()
    text = "Broken on arrival, call me on 13812345678 at once"
    result = await ReviewProcessor(analyzer).process(message(text))
    assert result.insight is not None
    signature = text_signature(analyzer.seen[0])
    assert (result.insight.text_signature, result.insight.text_shingles) == (signature.to_wire(), signature.shingles)
    assert result.insight.text_signature != text_signature(text).to_wire()
    jsonschema.validate(result.insight.to_dict(), load_schema("review_insight"))


async def test_bad_input_becomes_a_dead_letter_pointing_at_its_source() -> None:
    metrics = Metrics()
    processor = ReviewProcessor(FakeAnalyzer(), metrics=metrics)
    result = await processor.process(message(text=""))
    letter = result.dead_letter
    assert result.insight is None and letter is not None
    assert (letter.reason, letter.source_topic, letter.partition, letter.offset) == ("empty_text", "reviews", 3, 42)
    assert letter.original_sha256 == hashlib.sha256(message(text="").value or b"").hexdigest()
    assert metrics.registry.get_sample_value("reviewstream_dead_letters_total",
                                             {"topic": "reviews", "reason": "empty_text"}) == 1


async def test_failing_llm_falls_back_to_the_offline_analyzer_as_degraded() -> None:
    failing = FailingAnalyzer()
    processor = ReviewProcessor(failing, fallback=FakeAnalyzer(name="local"))
    result = await processor.process(message())
    assert result.insight is not None
    assert result.insight.degraded is True and result.insight.model == "local-model"
    assert failing.calls == 1


async def test_failing_llm_without_fallback_dead_letters_with_the_reason() -> None:
    processor = ReviewProcessor(FailingAnalyzer(PermanentLLMError("401 bad key")))
    result = await processor.process(message())
    assert result.dead_letter is not None
    assert (result.dead_letter.reason, result.dead_letter.stage) == ("analysis_failed", "analyze")


@pytest.mark.parametrize("text", ["好评", "Great!"])
async def test_short_reviews_are_fine(text: str) -> None:
    result = await ReviewProcessor(FakeAnalyzer()).process(message(text))
    assert result.insight is not None


class BrokenAnalyzer(FailingAnalyzer):
    async def analyze(self, review):  # type: ignore[no-untyped-def]
        raise ZeroDivisionError("bug in an analyzer")


async def test_a_bug_in_an_analyzer_dead_letters_the_review_instead_of_crashing() -> None:
    result = await ReviewProcessor(BrokenAnalyzer()).process(message())
    assert result.dead_letter is not None
    assert result.dead_letter.reason == "internal_error"
    assert "ZeroDivisionError" in result.dead_letter.detail


class PoisonedAnalyzer(FakeAnalyzer):
    """Raises an unexpected exception (a bug, not an LLM failure) for every review that says POISON."""

    def __init__(self) -> None:
        super().__init__()
        self.poison_calls = 0

    async def analyze(self, review):  # type: ignore[no-untyped-def]
        if "POISON" in review.text:
            self.poison_calls += 1
            raise ZeroDivisionError("a bug that only this review triggers")
        return await super().analyze(review)


async def test_a_review_that_keeps_raising_is_dead_lettered_after_its_attempts_and_the_rest_go_on() -> None:
    analyzer = PoisonedAnalyzer()
    processor = ReviewProcessor(analyzer, max_attempts=3)
    poisoned = await processor.process(message("POISON in a kettle review"))
    fine = await processor.process(message("A good kettle"))
    assert analyzer.poison_calls == 3
    letter = poisoned.dead_letter
    assert poisoned.insight is None and letter is not None
    assert (letter.reason, letter.stage) == ("internal_error", "analyze")
    assert letter.exception_type == "ZeroDivisionError: a bug that only this review triggers"
    assert "ZeroDivisionError: a bug that only this review triggers (3 attempts)" == letter.detail
    assert fine.insight is not None


async def test_a_failure_of_kafka_itself_is_no_poison_pill_and_propagates() -> None:
    from aiokafka.errors import KafkaConnectionError

    class BrokerAway(FakeAnalyzer):
        async def analyze(self, review):  # type: ignore[no-untyped-def]
            raise KafkaConnectionError("no broker")

    with pytest.raises(KafkaConnectionError):
        await ReviewProcessor(BrokerAway()).process(message())
