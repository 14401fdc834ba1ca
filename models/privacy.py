"""Erasure of a user's personal data (GDPR art. 17, PIPL art. 47): the request, what it erases, the audit record, and
the marker that keeps a replay from bringing the user back.

>>> request = parse_erasure_request(b'{"request_id": "req-1", "user_id": "u42", "requested_at": 1760000000}',
...                                 now=1760000000.0)
>>> request.user_id, request.request_id
('u42', 'req-1')

An erasure is an event like any other: the shop's account system (or `reviewstream forget`) writes it to the
`privacy-requests` topic keyed by user_id, so it reaches the partition — and the worker — that holds the user's
rows, in the same consumer group as everything else. That worker deletes the user's rows from every table, writes
tombstones for every compacted output keyed by the user or by one of the user's sessions, messages or alerts, and
writes an audit record (`privacy-audit`, keyed by request id) that says what was erased and holds no personal data.

Folds are at-least-once: after a crash, clicks the user sent before the erasure may be read again. So the worker
keeps an `ErasedMarker` — the highest offsets it had folded for the user, under a salted hash of the user id, not the
id — and skips any event of the user at or below them. New events (above them) start a new profile, as they should.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterable, Mapping
from typing import Any

import faust

from models.bounds import DEFAULT_BOUNDS, FieldBounds
from models.errors import InvalidEvent
from models.profile import SourceRef, already_folded
from models.wire import decode_json_object, event_time, required_id

__all__ = ["ErasedMarker", "ErasureAudit", "ErasureRequest", "PublishedKeys", "erased_key", "merged_offsets",
           "parse_erasure_request", "remember_published"]

# Keys of one kind remembered per user for tombstones. A user with more sessions than this keeps the newest ones'
# keys; the oldest sessions' records then outlive an erasure until the topic compacts them away — raise it if users
# of the shop have that many sessions.
MAX_REMEMBERED_KEYS = 2000


class ErasureRequest(faust.Record, include_metadata=False, serializer="json"):
    request_id: str
    user_id: str
    requested_at: float


class ErasureAudit(faust.Record, include_metadata=False, serializer="json"):
    """What an erasure did, for the record: counts only, no personal data (not even the user id: the requester keeps
    the link between its request id and the user)."""

    request_id: str
    requested_at: float
    completed_at: float
    # "erased" (something was found) or "nothing_found" (an unknown user, or a repeated request).
    status: str
    # Table name → rows deleted; topic name → tombstones written.
    rows_deleted: dict[str, int]
    tombstones: dict[str, int]


class PublishedKeys(faust.Record, include_metadata=False, serializer="json"):
    """Keys of the compacted records published about one user that are not keyed by the user id."""

    sessions: list[str]
    messages: list[str]
    alerts: list[str]


class ErasedMarker(faust.Record, include_metadata=False, serializer="json"):
    erased_at: float
    # Source "topic:partition" → the highest offset folded for the user before the erasure.
    folded_offsets: dict[str, int]
    # The reviews the erased profile had folded: a review analysed again (a replay of the reviews topic) comes back
    # as a new insight record, at an offset no marker covers.
    review_ids: list[str]

    def covers(self, source: SourceRef, review_id: str | None = None) -> bool:
        """True for an event the erased profile had already folded (a replay), which must stay erased."""
        return already_folded(self.folded_offsets, source) or (review_id is not None and review_id in self.review_ids)


def erased_key(user_id: str, salt: bytes) -> str:
    """The marker's table key: a keyed hash, so the table that remembers erasures does not list who was erased."""
    return hmac.new(salt, user_id.encode("utf-8"), hashlib.sha256).hexdigest()


def merged_offsets(*offsets: Mapping[str, int] | None) -> dict[str, int]:
    merged: dict[str, int] = {}
    for each in offsets:
        for source, offset in (each or {}).items():
            merged[source] = max(offset, merged.get(source, -1))
    return merged


def remember_published(keys: PublishedKeys | None, *, sessions: Iterable[str] = (), messages: Iterable[str] = (),
                       alerts: Iterable[str] = ()) -> PublishedKeys:
    base = keys or PublishedKeys(sessions=[], messages=[], alerts=[])

    def add(old: list[str], new: Iterable[str]) -> list[str]:
        merged = old + [k for k in new if k not in old]
        return merged[-MAX_REMEMBERED_KEYS:]

    return PublishedKeys(sessions=add(base.sessions, sessions), messages=add(base.messages, messages),
                         alerts=add(base.alerts, alerts))


def parse_erasure_request(raw: bytes | str | None, *, bounds: FieldBounds = DEFAULT_BOUNDS,
                          now: float | None = None) -> ErasureRequest:
    data: dict[str, Any] = decode_json_object(raw)
    requested_at = event_time(data.get("requested_at"), "requested_at", bounds, now)
    if requested_at is None:
        raise InvalidEvent("missing_field", "required field 'requested_at' is missing")
    return ErasureRequest(request_id=required_id(data, "request_id", bounds),
                          user_id=required_id(data, "user_id", bounds), requested_at=requested_at)
