"""`ProfileEvent`: a click or an insight on its way to the user's partition, with where it originally came from.

The profile and window folds skip anything at or below the highest offset they folded from the ORIGINAL
topic-partition, so when a forwarder replays after a crash (at-least-once), the copies change nothing.
"""

from __future__ import annotations

from typing import Any, Literal

import faust
import orjson

from models.profile import SourceRef

__all__ = ["ProfileEvent", "ProfileEventKind", "decode_profile_event"]

ProfileEventKind = Literal["click", "insight"]


class ProfileEvent(faust.Record, include_metadata=False, serializer="json"):
    kind: str
    source_topic: str
    source_partition: int
    source_offset: int
    payload: dict[str, Any]

    @property
    def source(self) -> SourceRef:
        return SourceRef(self.source_topic, self.source_partition, self.source_offset)


def decode_profile_event(raw: bytes | None) -> ProfileEvent:
    """A ProfileEvent from the bytes the topic holds (for messages read outside Faust)."""
    if raw is None:
        raise ValueError("a profile event without a value")
    return ProfileEvent.from_data(orjson.loads(raw))
