"""`ProfileEvent`: a click or an insight on its way to the user's partition, with where it originally came from.

The profile and window folds skip anything at or below the highest offset they folded from the ORIGINAL
topic-partition, so when a forwarder replays after a crash (at-least-once), the copies change nothing.
"""

from __future__ import annotations

from typing import Any, Literal

import faust

from models.profile import SourceRef

__all__ = ["ProfileEvent", "ProfileEventKind"]

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
