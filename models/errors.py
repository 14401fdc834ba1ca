"""Errors raised while reading events from the wire.

    ValueError
     └── InvalidEvent          an input event that can never be processed; goes to `dead-letters` with its reason
"""

from __future__ import annotations

__all__ = ["InvalidEvent"]


class InvalidEvent(ValueError):
    """An input event that can never be processed, with a machine-readable `reason` and a message for people.

    >>> raise InvalidEvent("empty_text", "field 'text' is empty; a review needs some text")
    Traceback (most recent call last):
    models.errors.InvalidEvent: empty_text: field 'text' is empty; a review needs some text
    """

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail
