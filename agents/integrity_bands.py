"""`<app>-integrity-bands` → the cross-product near-duplicate index (table `integrity_bands`, "band:bucket" →
`BandBucket`) → text matches, to the product of each side on `<app>-product-events`.

Each new review's text signature arrives once under each of its LSH band keys (models/integrity/bands.py); texts of
other accounts in the same bucket that are near-duplicates of it become a `TextMatch`, sent keyed by its product and
mirrored keyed by the other review's product, so that both reviews are scored again where they live.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from faust.types import EventT, StreamT

from models.errors import InvalidEvent
from models.forwarded_event import ForwardedEvent
from models.integrity import BandBucket, BandProbe, probe_band
from streams.app import (
    app,
    fold_forwarded_each,
    fold_in_batches,
    integrity_bands_in_topic,
    metrics,
    product_events_topic,
    settings,
)
from streams.delivery.output import Output, send_output
from streams.rule_configs import integrity_config
from streams.tables.options import table_options

__all__ = ["fold_integrity_bands", "integrity_bands"]

integrity_bands = app.Table("integrity_bands", value_type=BandBucket, partitions=settings.topic_partitions,
                            help="band:bucket → recent review texts (signatures) of that LSH bucket",
                            options=table_options(settings))
INTEGRITY_CONFIG = integrity_config(settings)


@app.agent(integrity_bands_in_topic, name="integrity_bands")
async def fold_integrity_bands(stream: StreamT[Any]) -> None:
    # The shared fold loop (streams/delivery/fold_loop.py), as the other table agents.
    await fold_in_batches(stream, _fold_partition, agent="integrity_bands")


async def _fold_partition(partition: int, events: Sequence[EventT[Any]]) -> None:
    await fold_forwarded_each(events, _probe)


async def _probe(forwarded: ForwardedEvent, event: EventT[Any]) -> None:
    message = event.message
    if forwarded.kind != "band_probe":
        raise InvalidEvent("invalid_internal_event", f"a forwarded {forwarded.kind} has no place on the band topic")
    key = str(forwarded.payload["band_key"])
    if message.key is not None and bytes(message.key) != key.encode():
        # The row would land on a partition its key does not hash to: never found again.
        raise InvalidEvent("invalid_internal_event", f"a band probe for {key!r} sent under key {message.key!r:.60}")
    bucket = integrity_bands.get(key)
    outcome = probe_band(bucket, key, BandProbe(**forwarded.payload["probe"]), INTEGRITY_CONFIG)
    if outcome.bucket is not bucket:
        integrity_bands[key] = outcome.bucket
    for match in outcome.matches:
        for side in (match, match.mirrored()):
            forwarded_match = ForwardedEvent(kind="text_match", source_topic=message.topic,
                                             source_partition=message.partition, source_offset=message.offset,
                                             payload=side.asdict())
            await send_output(Output(product_events_topic, side.product_id, forwarded_match), metrics)
