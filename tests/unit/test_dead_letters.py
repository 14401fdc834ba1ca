"""Dead letters: bounded so the producer always takes them, the original only sealed, and every agent's letter sent
and counted like any other output."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any

import jsonschema
import orjson
import pytest
from faust.types import TP

from models.bounds import DEAD_LETTER_HEAD_BYTES, DEAD_LETTER_MAX_BYTES
from models.dead_letter import DeadLetter, source_aad, unframe_original
from models.schemas import load_schema
from streams.delivery.dead_letters import DeadLetters, SourceMessage
from streams.delivery.skipped_reader import RereadMessage
from streams.metrics import Metrics
from streams.security.sealing import Keyring, SealingError, new_key_spec
from tests.unit.test_pipelined_skips import FakeEvent

SPEC = new_key_spec("k1")
RING = Keyring.parse(SPEC)


@dataclass
class RecordingTopic:
    name: str
    sent: list[tuple[bytes | None, Any]] = field(default_factory=list)

    def get_topic_name(self) -> str:
        return self.name

    async def send(self, *, key: bytes | None, value: Any, partition: int | None, force: bool) -> Any:
        assert force, "a dead letter must not wait for the event's ack"
        self.sent.append((key, value))
        return None


def letter_for(value: bytes, *, sealer: Keyring | None = RING, key: bytes | None = b"r-1") -> DeadLetter:
    letters = DeadLetters(metrics=Metrics(), sealer=sealer, clock=lambda: 5.0)
    return letters.letter(SourceMessage(value, key, "reviews", 2, 7), "text_too_long", "too long",
                          ValueError("boom"))


def opened(letter: DeadLetter, ring: Keyring = RING) -> tuple[bytes | None, bytes]:
    assert letter.sealed is not None and letter.key_id is not None
    return unframe_original(ring.open(letter.key_id, letter.sealed,
                                      aad=source_aad(letter.source_topic, letter.partition, letter.offset)))


def test_a_letter_matches_its_schema_and_keeps_the_original_only_sealed() -> None:
    letter = letter_for(b'{"text": "mail jo@example.com"}')
    wire = orjson.loads(letter.dumps())
    jsonschema.validate(wire, load_schema("dead_letter"))
    assert b"jo@example.com" not in letter.dumps(), "no plaintext of the original anywhere in the letter"
    assert wire["original_preview"] == '{"text": "mail [EMAIL]"}'
    assert opened(DeadLetter.loads(letter.dumps())) == (b"r-1", b'{"text": "mail jo@example.com"}')
    assert (wire["original_kept"], wire["original_size"]) == ("all", 31)
    assert wire["original_sha256"] == hashlib.sha256(b'{"text": "mail jo@example.com"}').hexdigest()
    assert wire["exception_type"] == "ValueError: boom"


def test_without_a_key_only_the_redacted_preview_size_and_hash_remain() -> None:
    letter = letter_for(b"\xff{call 13812345678", sealer=None)
    jsonschema.validate(orjson.loads(letter.dumps()), load_schema("dead_letter"))
    assert (letter.sealed, letter.key_id, letter.original_kept) == (None, None, "none")
    assert "13812345678" not in letter.original_preview
    assert letter.original_size == 18


@pytest.mark.parametrize("size", [760_000, 990_000, 5_000_000])
def test_an_oversized_original_keeps_its_head_and_the_letter_fits_the_producer(size: int) -> None:
    # A 760 kB review is under the broker's 1 MB limit; its letter with the whole original in base64 is not.
    raw = orjson.dumps({"review_id": "big", "text": "é" * (size // 2)})
    letter = letter_for(raw)
    assert len(letter.dumps()) <= DEAD_LETTER_MAX_BYTES
    assert letter.original_kept == "head"
    assert opened(letter) == (b"r-1", raw[:DEAD_LETTER_HEAD_BYTES])
    assert (letter.original_size, letter.original_sha256) == (len(raw), hashlib.sha256(raw).hexdigest())


def test_the_largest_original_kept_whole_still_fits() -> None:
    letter = letter_for(b"x" * 700_000, key=b"k" * 200)
    assert letter.original_kept == "all"
    assert len(letter.dumps()) <= DEAD_LETTER_MAX_BYTES


def test_a_sealed_original_opens_only_in_its_own_letter_and_with_a_configured_key() -> None:
    letter = letter_for(b"secret")
    assert letter.sealed is not None and letter.key_id is not None
    with pytest.raises(SealingError, match="does not open"):
        RING.open(letter.key_id, letter.sealed, aad=source_aad("reviews", 2, 8))
    with pytest.raises(SealingError, match="not configured"):
        Keyring.parse(new_key_spec("k2")).open(letter.key_id, letter.sealed, aad=b"reviews:2:7")


def test_rotation_seals_with_the_first_key_and_opens_with_the_old_ones() -> None:
    old = letter_for(b"sealed before the rotation")
    rotated = Keyring.parse(new_key_spec("k2") + "," + SPEC)
    assert rotated.current == "k2"
    assert opened(old, rotated)[1] == b"sealed before the rotation"
    assert letter_for(b"after", sealer=rotated).key_id == "k2"


@pytest.mark.parametrize("spec, message", [
    ("k1", "no ':'"), ("k1:not base64!", "not valid base64"), ("k1:" + "QUJD", "needs 32"),
    ("bad id!:" + "A" * 43 + "=", "key id"),
])
def test_a_bad_key_spec_says_what_is_wrong_without_showing_the_key(spec: str, message: str) -> None:
    with pytest.raises(SealingError, match=message) as raised:
        Keyring.parse(spec)
    assert "QUJD" not in str(raised.value) and "not base64!" not in str(raised.value)


def _sample(metrics: Metrics, name: str, **labels: str) -> float:
    value = metrics.registry.get_sample_value(name, labels)
    return 0.0 if value is None else value


async def test_a_fold_failure_is_dead_lettered_with_its_reason_and_counted_as_produced() -> None:
    metrics = Metrics()
    topic = RecordingTopic("dead-letters")
    letters = DeadLetters(metrics=metrics, sealer=None, topic=topic)  # type: ignore[arg-type]
    event = FakeEvent(RereadMessage(tp=TP("clicks", 2), offset=41, key=b"u1", value=b'{"user_id": "u1"}',
                                    timestamp=0.0))

    await letters.send(event, ValueError("price is not a number"), stage="fold")  # type: ignore[arg-type]

    [(key, letter)] = topic.sent
    assert key == b"clicks:2:41"
    assert (letter.reason, letter.stage, letter.source_topic, letter.offset) == ("fold_failed", "fold", "clicks", 41)
    assert "ValueError: price is not a number" in letter.detail
    assert _sample(metrics, "reviewstream_events_produced_total", topic="dead-letters") == 1
    assert _sample(metrics, "reviewstream_dead_letters_total", topic="clicks", reason="fold_failed") == 1
