"""The operator's way back from a dead letter: list letters, open a sealed original with the key, and send the
original — or a fixed version of it — back to the topic it came from (`reviewstream dead-letters show|redrive`).

    reviewstream dead-letters show --reason invalid_json
    reviewstream dead-letters redrive --letter reviews:3:1042 --value-file fixed.json
    reviewstream dead-letters redrive --reason analysis_failed          # every such letter, original as it was

Opening needs the key that sealed the letter (`REVIEWSTREAM_DEAD_LETTER_KEYS`, where the old keys stay after a
rotation). A letter that kept only the head of its original (`original_kept: head`) can be redriven only with a
fixed value; one that kept nothing (no key was configured) too.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import orjson
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

from models.dead_letter import source_aad, unframe_original
from streams.kafka.client import KafkaConnection, partitions_of
from streams.security.sealing import Keyring, SealingError

__all__ = ["LetterFilter", "RedriveSummary", "open_original", "read_letters", "redrive"]


@dataclass(frozen=True, slots=True)
class LetterFilter:
    reason: str | None = None
    source_topic: str | None = None
    # "topic:partition:offset" of the original messages (the letters' keys).
    positions: frozenset[str] = frozenset()

    def __call__(self, letter: dict[str, Any]) -> bool:
        position = f"{letter.get('source_topic')}:{letter.get('partition')}:{letter.get('offset')}"
        return ((self.reason is None or letter.get("reason") == self.reason)
                and (self.source_topic is None or letter.get("source_topic") == self.source_topic)
                and (not self.positions or position in self.positions))


@dataclass
class RedriveSummary:
    sent: list[str] = field(default_factory=list)
    # position → why it was not sent
    skipped: dict[str, str] = field(default_factory=dict)


async def read_letters(connection: KafkaConnection, topic: str, match: Callable[[dict[str, Any]], bool],
                       *, timeout_s: float = 30.0) -> list[dict[str, Any]]:
    """The letters of `topic` that `match`, from the oldest kept to the newest at the time of the call; the last
    letter of each source position when a replay wrote it twice."""
    consumer = AIOKafkaConsumer(**connection.client_kwargs(), group_id=None, enable_auto_commit=False,
                                auto_offset_reset="earliest")
    await consumer.start()
    try:
        partitions = [TopicPartition(topic, p) for p in sorted(await partitions_of(consumer, topic))]
        consumer.assign(partitions)
        ends = await consumer.end_offsets(partitions)
        await consumer.seek_to_beginning(*partitions)
        found: dict[str, dict[str, Any]] = {}
        deadline = time.monotonic() + timeout_s
        while await _behind(consumer, ends) and time.monotonic() < deadline:
            for records in (await consumer.getmany(timeout_ms=500)).values():
                for record in records:
                    try:
                        letter = orjson.loads(record.value or b"")
                    except orjson.JSONDecodeError:
                        continue
                    if isinstance(letter, dict) and match(letter):
                        found[f"{letter['source_topic']}:{letter['partition']}:{letter['offset']}"] = letter
        return list(found.values())
    finally:
        await consumer.stop()


async def _behind(consumer: AIOKafkaConsumer, ends: dict[TopicPartition, int]) -> bool:
    for tp, end in ends.items():
        if await consumer.position(tp) < end:
            return True
    return False


def open_original(letter: dict[str, Any], keys: Keyring) -> tuple[bytes | None, bytes]:
    """(message key, message value) sealed in `letter`; raises `SealingError` when it holds none or cannot be opened."""
    if not letter.get("sealed") or not letter.get("key_id"):
        raise SealingError("this letter keeps no original (no dead-letter key was configured when it was written)")
    aad = source_aad(letter["source_topic"], letter["partition"], letter["offset"])
    return unframe_original(keys.open(letter["key_id"], letter["sealed"], aad=aad))


async def redrive(connection: KafkaConnection, letters: Sequence[dict[str, Any]], keys: Keyring | None,
                  *, replacement: bytes | None = None, dry_run: bool = False) -> RedriveSummary:
    """Send each letter's original (or `replacement`, the fixed value) back to its source topic with its original
    key. Letters whose original cannot be had are skipped, with the reason."""
    summary = RedriveSummary()
    outgoing: list[tuple[str, bytes | None, bytes, str]] = []
    for letter in letters:
        position = f"{letter['source_topic']}:{letter['partition']}:{letter['offset']}"
        key: bytes | None = None
        value: bytes | None = replacement
        try:
            if keys is not None and letter.get("sealed"):
                key, original = open_original(letter, keys)
                if replacement is None and letter.get("original_kept") == "all":
                    value = original
            elif replacement is None:
                raise SealingError("no dead-letter key is configured to open it (REVIEWSTREAM_DEAD_LETTER_KEYS)")
        except SealingError as exc:
            summary.skipped[position] = str(exc)
            continue
        if value is None:
            summary.skipped[position] = "only the head of the original was kept; redrive it with --value-file"
            continue
        outgoing.append((letter["source_topic"], key, value, position))
    if dry_run or not outgoing:
        summary.sent = [position for *_, position in outgoing] if dry_run else []
        return summary
    producer = AIOKafkaProducer(**connection.client_kwargs(), acks="all")
    await producer.start()
    try:
        for topic, key, value, position in outgoing:
            await (await producer.send(topic, value=value, key=key))
            summary.sent.append(position)
    finally:
        await producer.stop()
    return summary
