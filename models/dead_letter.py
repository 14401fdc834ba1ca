"""`DeadLetter`: an input event that could not be processed, with the reason, where it came from, and — sealed — the
original, so that an operator can look at it and send it back.

>>> letter = DeadLetter.for_message(value=b'{"text": "call 555"}', key=b"r1", topic="reviews", partition=0, offset=7,
...                                 reason="missing_field", detail="required field 'review_id' is missing",
...                                 redact=lambda s: s.replace("555", "[PHONE]"), sealer=None, now=0.0)
>>> letter.original_preview, letter.original_size, letter.original_kept
('{"text": "call [PHONE]"}', 20, 'none')

The original may hold personal data, so a letter never holds it in plain text: with a sealer (a key configured) it
keeps the message key and value sealed (AES-GCM, `streams/security/sealing.py`), without one only a redacted preview,
the size and the sha256. Every letter fits what the producer sends (`models/bounds.py`): an original too large to be
kept whole keeps its first `DEAD_LETTER_HEAD_BYTES` (`original_kept: "head"`) — a letter the producer refused would
stop the agent at that event at every start, and the whole partition behind it.
"""

from __future__ import annotations

import hashlib
import struct
import time
import traceback
from collections.abc import Callable
from typing import Literal, Protocol, cast

from models.bounds import DEAD_LETTER_HEAD_BYTES, DEAD_LETTER_MAX_BYTES
from models.records import WireRecord

__all__ = ["DeadLetter", "Kept", "Sealer", "frame_original", "source_aad", "unframe_original"]

# Enough to read what went wrong in a console.
_PREVIEW_CHARS = 500
_DETAIL_CHARS = 500
_EXCEPTION_CHARS = 300
# JSON of everything but the sealed original stays under this (preview and detail may escape to 6 bytes a char).
_FIELDS_BUDGET = 6 * (_PREVIEW_CHARS + _DETAIL_CHARS + _EXCEPTION_CHARS) + 2048
# Sealing adds a nonce and a tag; base64 makes 4 bytes of every 3.
_SEAL_OVERHEAD = 12 + 16

Kept = Literal["all", "head", "none"]


class Sealer(Protocol):
    def seal(self, plaintext: bytes, *, aad: bytes) -> tuple[str, str]:
        """(key id, sealed value as ASCII)."""
        ...


class DeadLetter(WireRecord):
    reason: str
    detail: str
    source_topic: str
    partition: int
    offset: int
    exception_type: str | None
    failed_at: float
    stage: str
    # The original message value: its size and sha256 always, a readable preview with personal data redacted, and —
    # when a key is configured — the message key and value (all of it, or its first bytes) sealed under `key_id`.
    original_size: int
    original_sha256: str
    original_preview: str
    original_kept: str
    sealed: str | None = None
    key_id: str | None = None

    @classmethod
    def for_message(
        cls,
        *,
        value: bytes | None,
        key: bytes | None,
        topic: str,
        partition: int,
        offset: int,
        reason: str,
        detail: str,
        redact: Callable[[str], str],
        sealer: Sealer | None,
        exception: BaseException | None = None,
        stage: str = "parse",
        now: float | None = None,
    ) -> DeadLetter:
        raw = value or b""
        kept: Kept = "none"
        sealed = key_id = None
        if sealer is not None:
            body = raw if _fits_whole(raw, key) else raw[:DEAD_LETTER_HEAD_BYTES]
            kept = "all" if body is raw else "head"
            key_id, sealed = sealer.seal(frame_original(key, body), aad=source_aad(topic, partition, offset))
        return cls(
            reason=reason,
            detail=detail[:_DETAIL_CHARS],
            source_topic=topic,
            partition=partition,
            offset=offset,
            exception_type=(
                "".join(traceback.format_exception_only(type(exception), exception)).strip()[:_EXCEPTION_CHARS]
                if exception is not None
                else None
            ),
            failed_at=time.time() if now is None else now,
            stage=stage,
            original_size=len(raw),
            original_sha256=hashlib.sha256(raw).hexdigest(),
            # Redacted after cutting: the cut may split personal data, but the redactor sees what is shown.
            original_preview=redact(raw[: _PREVIEW_CHARS * 4].decode("utf-8", errors="replace")[:_PREVIEW_CHARS]),
            original_kept=kept,
            sealed=sealed,
            key_id=key_id,
        )

    def stripped(self) -> DeadLetter:
        """This letter without preview or sealed original: what is left to send when a topic refused the letter."""
        return cast(DeadLetter, self.derive(original_preview="", original_kept="none", sealed=None, key_id=None))


def _fits_whole(raw: bytes, key: bytes | None) -> bool:
    framed = 4 + len(key or b"") + len(raw) + _SEAL_OVERHEAD
    return (framed + 2) // 3 * 4 + _FIELDS_BUDGET <= DEAD_LETTER_MAX_BYTES


def source_aad(topic: str, partition: int, offset: int) -> bytes:
    """What binds a sealed original to its letter: the position it was read from."""
    return f"{topic}:{partition}:{offset}".encode()


def frame_original(key: bytes | None, value: bytes) -> bytes:
    """Key and value in one plaintext: a 4-byte key length (-1: no key), the key, the value."""
    return struct.pack(">i", -1 if key is None else len(key)) + (key or b"") + value


def unframe_original(framed: bytes) -> tuple[bytes | None, bytes]:
    (length,) = struct.unpack(">i", framed[:4])
    if length < 0:
        return None, framed[4:]
    return framed[4:4 + length], framed[4 + length:]
