"""The integrity stages' messages on the internal topics, and the account pseudonym that keeps user ids out of the
product and band state.

What each forwarded kind carries (`models.forwarded_event`, kind → payload):

| kind           | topic, key                          | payload                                              |
|----------------|-------------------------------------|------------------------------------------------------|
| `review`       | product events, product_id          | {"insight": <insight>, "evidence": AccountEvidence}  |
| `text_match`   | product events, product_id          | TextMatch                                            |
| `taint`        | product events, product_id          | ReviewTaint                                          |
| `account_flag` | profile events, the author's partition | AccountFlag                                       |
| `band_probe`   | integrity bands, "band:bucket"      | {"band_key": "band:bucket", "probe": BandProbe}      |

Inside the integrity stages an account is named by its pseudonym, never its user id:

>>> key = account_key("alice", b"salt", 3)
>>> key.endswith(".p3"), account_partition(key), len(key)
(True, 3, 35)

an HMAC of the user id (a distinct derivation from the erasure markers' key, models/privacy.py) with the
profile-events partition of the user appended: a flagged review's `AccountFlag` carries only the pseudonym and must
reach the partition where the account's row lives, and a hash cannot be routed back to its user id.

Payloads are parsed as strictly as any input: exactly the record's fields, each of its type, ids within bounds,
signatures of the right size. Anything else raises `InvalidEvent` and is dead-lettered, never folded.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Mapping
from typing import Any, Final, TypeVar

import faust
import msgspec

from models.bounds import DEFAULT_BOUNDS, FieldBounds
from models.errors import InvalidEvent
from models.insight import parse_insight
from models.integrity.account import AccountEvidence, AccountFlag, ReviewTaint
from models.integrity.bands import BandProbe, TextMatch
from models.integrity.text import signature_bytes
from models.wire import required_id

__all__ = ["INTEGRITY_KINDS", "account_key", "account_partition", "parse_integrity_payload", "record_from_payload"]

INTEGRITY_KINDS: Final = ("review", "text_match", "taint", "account_flag", "band_probe")
_KEY = re.compile(r"[0-9a-f]{32}\.p(\d{1,7})")
_BAND_KEY = re.compile(r"\d{1,2}:[0-9a-f]{1,8}")
# Fields of the records below that hold ids (checked with the id rules) or pseudonyms (checked as one).
_ID_FIELDS: Final = frozenset({"review_id", "product_id", "other_review_id", "other_product_id", "flagged_review_id",
                               "flagged_product_id"})
_ACCOUNT_FIELDS: Final = frozenset({"user_id", "other_user_id"})
_SIGNATURE_FIELDS: Final = frozenset({"signature"})

R = TypeVar("R", bound=faust.Record)


def account_key(user_id: str, salt: bytes, partition: int) -> str:
    """The pseudonym of `user_id` in the integrity tables and outputs, routable to its profile-events `partition`."""
    digest = hmac.new(salt + b"/review-integrity", user_id.encode("utf-8"), hashlib.sha256).hexdigest()[:32]
    return f"{digest}.p{partition}"


def account_partition(key: str) -> int:
    """The profile-events partition a pseudonym names; ValueError for anything that is not one."""
    found = _KEY.fullmatch(key)
    if found is None:
        raise ValueError(f"{key[:80]!r} is not an account pseudonym (32 hex digits, '.p', a partition)")
    return int(found.group(1))


def record_from_payload(cls: type[R], payload: Any, what: str, bounds: FieldBounds = DEFAULT_BOUNDS) -> R:
    """`cls` from a plain dict with exactly its fields, each of its declared type (an integer for a float is fine)."""
    if not isinstance(payload, Mapping):
        raise InvalidEvent("invalid_internal_event", f"{what} must be an object, got {type(payload).__name__}")
    fields: Mapping[str, Any] = cls._options.fields
    if set(payload) != set(fields):
        missing, extra = sorted(set(fields) - set(payload)), sorted(set(payload) - set(fields))
        raise InvalidEvent("invalid_internal_event", f"{what}: missing fields {missing}, unknown fields {extra[:10]}")
    values: dict[str, Any] = {}
    for name, kind in fields.items():
        try:
            values[name] = msgspec.convert(payload[name], kind)
        except msgspec.ValidationError as exc:
            raise InvalidEvent("invalid_internal_event", f"{what}: field {name!r}: {exc}") from exc
        if name in _ID_FIELDS:
            required_id(values, name, bounds)
        elif name in _ACCOUNT_FIELDS:
            _check_account(values[name], what)
        elif name in _SIGNATURE_FIELDS:
            try:
                signature_bytes(values[name])
            except ValueError as exc:  # binascii.Error is a ValueError
                raise InvalidEvent("invalid_internal_event", f"{what}: field 'signature': {exc}") from exc
    return cls(**values)


def parse_integrity_payload(kind: str, payload: Mapping[str, Any], *, bounds: FieldBounds = DEFAULT_BOUNDS,
                            now: float | None = None) -> dict[str, Any]:
    """The payload of a forwarded integrity event, checked, as the plain dict the agents read."""
    if kind == "review":
        _exact(payload, {"insight", "evidence"}, "a review's payload")
        insight = parse_insight(payload["insight"], bounds=bounds, now=now)
        evidence = record_from_payload(AccountEvidence, payload["evidence"], "a review's evidence", bounds)
        return {"insight": insight, "evidence": evidence.asdict()}
    if kind == "band_probe":
        _exact(payload, {"band_key", "probe"}, "a band probe's payload")
        band_key = payload["band_key"]
        if not isinstance(band_key, str) or _BAND_KEY.fullmatch(band_key) is None:
            raise InvalidEvent("invalid_internal_event", f"a band key is 'band:bucket' (hex), got {band_key!r:.60}")
        probe = record_from_payload(BandProbe, payload["probe"], "a band probe", bounds)
        return {"band_key": band_key, "probe": probe.asdict()}
    records: dict[str, type[faust.Record]] = {"text_match": TextMatch, "taint": ReviewTaint,
                                              "account_flag": AccountFlag}
    return record_from_payload(records[kind], payload, f"a {kind}", bounds).asdict()


def _exact(payload: Mapping[str, Any], names: set[str], what: str) -> None:
    if set(payload) != names:
        raise InvalidEvent("invalid_internal_event", f"{what} has fields {sorted(payload)[:10]}, not {sorted(names)}")


def _check_account(value: str, what: str) -> None:
    try:
        account_partition(value)
    except ValueError as exc:
        raise InvalidEvent("invalid_internal_event", f"{what}: {exc}") from exc
