"""When a changed profile goes out to `user-profiles`: at once when it changed in a way downstream acts on, and at
most once per `interest_every_s` of the user's own event time when only the favourite interests moved.

>>> from models.profile import UserProfile
>>> row = UserRow(profile=UserProfile.empty("u1", 1000.0), published_at=1000.0)
>>> should_publish(row, ("interest_change",), PublishPolicy(interest_every_s=600.0)), row.unpublished
(False, True)
>>> row.profile.last_seen = 1700.0
>>> should_publish(row, (), PublishPolicy(interest_every_s=600.0)), row.unpublished
(True, False)

First sighting, orders, carts opened or closed, segment, price band, reviews and consent are published at once: a
CRM or a marketing job acts on them. The top-3 categories and brands of a browsing user can change every few clicks
while they look around; publishing each change costs a record per click for news that is stale a minute later.
Such a change waits until `interest_every_s` has passed since the last publication (in the user's event time, so a
replay decides the same), and goes out with the next change of the row, or when the session closes (the worker
publishes a pending change then), whichever comes first. `interest_every_s=0` publishes every change at once.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from models.user_row import UserRow

__all__ = ["DEBOUNCED_REASONS", "PublishPolicy", "publish_pending", "should_publish"]

# The reasons that may wait (models/profile.py `reasons` lists them all).
DEBOUNCED_REASONS: Final = frozenset({"interest_change"})


@dataclass(frozen=True)
class PublishPolicy:
    interest_every_s: float = 600.0

    def __post_init__(self) -> None:
        if self.interest_every_s < 0:
            raise ValueError(f"interest_every_s must be >= 0, got {self.interest_every_s}")


def should_publish(row: UserRow, found: tuple[str, ...], policy: PublishPolicy) -> bool:
    """Whether to publish the row's profile now, given the reasons its latest change is news (models/profile.py
    `reasons`); records the decision in the row (`published_at`, `unpublished`), which the caller then writes."""
    if not found and not row.unpublished:
        return False
    now = row.profile.last_seen
    due = row.published_at is None or now - row.published_at >= policy.interest_every_s
    if due or any(reason not in DEBOUNCED_REASONS for reason in found):
        row.published_at, row.unpublished = now, False
        return True
    row.unpublished = True
    return False



def publish_pending(row: UserRow) -> bool:
    """A session of the user closed: whether a change still waiting goes out now (recorded in the row)."""
    if not row.unpublished:
        return False
    row.published_at, row.unpublished = row.profile.last_seen, False
    return True
