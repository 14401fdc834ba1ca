"""The LSH index across products: a table partitioned by band key, each row a bucket of recent texts.

A product's partition cannot look into other products' rows, so near-duplicates across products are found by a
second hop. For each new review (of at least `min_shingles` shingles) the product stage returns one `BandProbe` and
its band keys, "band:bucket" (`text.band_keys`); the agent sends the probe once under each key, and the band agent,
partitioned by that key, calls

>>> outcome = probe_band(bands.get(key), key, probe)             # doctest: +SKIP
>>> bands[key] = outcome.bucket                                  # doctest: +SKIP
>>> for match in outcome.matches:                                # doctest: +SKIP
...     forward(match, key=match.product_id); forward(match.mirrored(), key=match.other_product_id)

and each product applies the matches of its own reviews (`product.apply_text_match`). A bucket keeps at most
`band_members` texts of the last `band_span_s`; its members carry their signatures, so a candidate is confirmed
by the full similarity before it becomes a match (a shared bucket alone proves nothing). The table has at most
`bands` x `band_buckets` rows of at most `band_members` members (~300 bytes each).

Replays: a probe whose review is already in the bucket changes nothing and matches nothing. Texts of one account
never match each other (the signal is about copies across accounts).
"""

from __future__ import annotations

from typing import NamedTuple

import faust
import numpy as np

from models.integrity.config import DEFAULT_INTEGRITY_CONFIG, IntegrityConfig
from models.integrity.text import NUM_PERM, signature_bytes

__all__ = ["BandBucket", "BandMember", "BandOutcome", "BandProbe", "TextMatch", "probe_band"]


class BandMember(faust.Record, include_metadata=False, serializer="json"):
    review_id: str
    product_id: str
    user_id: str
    at: float
    signature: str
    shingles: int


class BandBucket(faust.Record, include_metadata=False, serializer="json"):
    """Table `integrity_bands`, key "band:bucket": the latest texts whose signatures fall in this bucket."""

    key: str
    # Oldest first.
    members: list[BandMember]


class BandProbe(faust.Record, include_metadata=False, serializer="json"):
    """A new review's text, on its way to the partition of each of its band keys (the message key)."""

    review_id: str
    product_id: str
    user_id: str
    at: float
    signature: str
    shingles: int


class TextMatch(faust.Record, include_metadata=False, serializer="json"):
    """Review `review_id` (the newer) is a near-duplicate of `other_review_id`, by another account."""

    review_id: str
    product_id: str
    user_id: str
    other_review_id: str
    other_product_id: str
    other_user_id: str
    similarity: float
    # When the newer review was written: the event time of this evidence.
    at: float

    def mirrored(self) -> TextMatch:
        """The same match seen from the other review (for the other review's product)."""
        return TextMatch(review_id=self.other_review_id, product_id=self.other_product_id,
                         user_id=self.other_user_id, other_review_id=self.review_id, other_product_id=self.product_id,
                         other_user_id=self.user_id, similarity=self.similarity, at=self.at)


class BandOutcome(NamedTuple):
    bucket: BandBucket
    matches: list[TextMatch]


def probe_band(bucket: BandBucket | None, key: str, probe: BandProbe,
               cfg: IntegrityConfig = DEFAULT_INTEGRITY_CONFIG) -> BandOutcome:
    """Match the probe against the texts of bucket `key` (the message's key), then keep it there; the input bucket
    is not modified."""
    members = list(bucket.members) if bucket is not None else []
    if any(m.review_id == probe.review_id for m in members):
        return BandOutcome(bucket if bucket is not None else BandBucket(key=key, members=members), [])
    values = np.frombuffer(signature_bytes(probe.signature), dtype="<u2")
    matches = []
    for member in members:
        if member.user_id == probe.user_id or probe.at - member.at > cfg.band_span_s:
            continue
        other = np.frombuffer(signature_bytes(member.signature), dtype="<u2")
        similarity = float(np.count_nonzero(values == other)) / NUM_PERM
        if similarity >= cfg.similarity_threshold:
            matches.append(TextMatch(review_id=probe.review_id, product_id=probe.product_id, user_id=probe.user_id,
                                     other_review_id=member.review_id, other_product_id=member.product_id,
                                     other_user_id=member.user_id, similarity=similarity, at=probe.at))
    # Members stay in event-time order (a late probe is inserted where it belongs); the oldest leave first.
    position = len(members)
    while position and members[position - 1].at > probe.at:
        position -= 1
    members.insert(position, BandMember(review_id=probe.review_id, product_id=probe.product_id,
                                        user_id=probe.user_id, at=probe.at, signature=probe.signature,
                                        shingles=probe.shingles))
    newest = members[-1].at
    kept = [m for m in members if newest - m.at <= cfg.band_span_s][-cfg.band_members:]
    return BandOutcome(BandBucket(key=key, members=kept), matches)
