"""`DeadLetter`: an input event that could not be processed, kept with everything needed to replay or debug it."""

from __future__ import annotations

import base64
import time
import traceback
from typing import Any

import faust

__all__ = ["DeadLetter"]

# Enough to read what went wrong in a console; the exact bytes are always in `original_b64`.
_PREVIEW_CHARS = 500


class DeadLetter(faust.Record, include_metadata=False, serializer="json"):
    reason: str
    detail: str
    source_topic: str
    partition: int
    offset: int
    # The original message value, byte for byte (base64), and a readable preview of it.
    original_b64: str
    original_preview: str
    key_b64: str | None
    exception_type: str | None
    failed_at: float
    stage: str = "parse"

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
        exception: BaseException | None = None,
        stage: str = "parse",
        now: float | None = None,
    ) -> DeadLetter:
        raw = value or b""
        return cls(
            reason=reason,
            detail=detail,
            source_topic=topic,
            partition=partition,
            offset=offset,
            original_b64=base64.b64encode(raw).decode("ascii"),
            original_preview=raw[: _PREVIEW_CHARS * 4].decode("utf-8", errors="replace")[:_PREVIEW_CHARS],
            key_b64=base64.b64encode(key).decode("ascii") if key is not None else None,
            exception_type=(
                "".join(traceback.format_exception_only(type(exception), exception)).strip()[:300]
                if exception is not None
                else None
            ),
            failed_at=time.time() if now is None else now,
            stage=stage,
        )

    def original(self) -> bytes:
        return base64.b64decode(self.original_b64)

    def to_dict(self) -> dict[str, Any]:
        return {f: getattr(self, f) for f in self._options.fields}
