"""A table agent's dead letter: sent to dead-letters with the reason, and counted like every other output."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pytest
from faust.types import TP

from streams import dead_letters
from streams.app import metrics, settings
from streams.skipped_reader import RereadMessage
from tests.unit.test_pipelined_skips import FakeEvent


@dataclass
class RecordingTopic:
    name: str
    sent: list[tuple[bytes, Any]] = field(default_factory=list)

    def get_topic_name(self) -> str:
        return self.name

    async def send(self, *, key: bytes, value: Any, force: bool) -> None:
        assert force, "a dead letter must not wait for the event's ack"
        self.sent.append((key, value))


def _sample(name: str, **labels: str) -> float:
    value = metrics.registry.get_sample_value(name, labels)
    return 0.0 if value is None else value


@pytest.mark.asyncio
async def test_a_fold_failure_is_dead_lettered_with_its_reason_and_counted_as_produced(
        monkeypatch: pytest.MonkeyPatch) -> None:
    topic = RecordingTopic(settings.dead_letters_topic)
    monkeypatch.setattr(dead_letters, "dead_letters_topic", topic)
    event = FakeEvent(RereadMessage(tp=TP("clicks", 2), offset=41, key=b"u1", value=b'{"user_id": "u1"}',
                                    timestamp=0.0))
    produced = _sample("reviewstream_events_produced_total", topic=topic.name)
    counted = _sample("reviewstream_dead_letters_total", topic="clicks", reason="fold_failed")

    await dead_letters.dead_letter(event, ValueError("price is not a number"), stage="fold")  # type: ignore[arg-type]

    [(key, letter)] = topic.sent
    assert key == b"clicks:2:41"
    assert (letter.reason, letter.stage, letter.source_topic, letter.offset) == ("fold_failed", "fold", "clicks", 41)
    assert "ValueError: price is not a number" in letter.detail
    assert _sample("reviewstream_events_produced_total", topic=topic.name) == produced + 1
    assert _sample("reviewstream_dead_letters_total", topic="clicks", reason="fold_failed") == counted + 1
