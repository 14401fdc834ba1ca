"""The product stage of review integrity, run by the products agent (agents/products.py) on `<app>-product-events`:
table `integrity_products` (product_id → `ProductIntegrity`) → `review-integrity` (key review_id), `review_campaign`
alerts → `alerts`, probes → `<app>-integrity-bands`, account flags → `<app>-profile-events`.

What each message does (models/integrity/__init__.py draws the whole flow):
- `review` (from the author's partition, with `AccountEvidence`): `assess_review` — a verdict, maybe a campaign;
- `text_match` (from the band index): `apply_text_match` — a copy of one of the product's reviews turned up;
- `taint` (from the author's partition): `apply_taint` — another review of the account was flagged;
- `tick`: `expire_campaigns` for the products whose campaign has gone quiet (`campaign_due`).

Every call returns an `IntegrityOutcome`, published by one routine: the row stored, the records and alerts sent, the
probe sent once under each band key, each account flag sent to the partition of the account's row. The messages this
stage sends name its own input position as their source (the receivers check it exists).

No raw user id enters this table or the band table: accounts are named by their pseudonym (models/integrity/wire.py).
"""

from __future__ import annotations

from typing import Any, Final

import numpy as np
from faust.types import EventT

from models.forwarded_event import ForwardedEvent
from models.integrity import (
    CAMPAIGN,
    AccountEvidence,
    IntegrityOutcome,
    ProductIntegrity,
    ReviewTaint,
    TextMatch,
    TextSignature,
    apply_taint,
    apply_text_match,
    assess_review,
    campaign_due,
    expire_campaigns,
    review_facts,
)
from models.integrity.text import NUM_PERM
from models.integrity.wire import account_partition
from models.profile import SourceRef
from streams.alerting import publish_alerts
from streams.app import (
    app,
    integrity_bands_topic,
    metrics,
    profile_events_topic,
    review_integrity_topic,
    settings,
)
from streams.delivery.due_index import DueIndex
from streams.delivery.output import Output, send_output
from streams.rule_configs import integrity_config
from streams.tables.options import table_options

__all__ = ["assess_arrival", "expire_quiet_campaigns", "integrity_products", "revise_for_match", "revise_for_taint"]

integrity_products = app.Table("integrity_products", value_type=ProductIntegrity, partitions=settings.topic_partitions,
                               help="product_id → recent reviews, review counts and open campaign (review integrity)",
                               options=table_options(settings))
INTEGRITY_CONFIG = integrity_config(settings)
# When this worker's open campaigns go quiet, per partition; rebuilt after each rebalance.
CAMPAIGNS_DUE = DueIndex()
# A review whose producer computed no signature: too short to compare (no near-duplicate signal, no probe).
_NO_SIGNATURE: Final = TextSignature(np.zeros(NUM_PERM, dtype=np.uint16), 0)


async def assess_arrival(payload: dict[str, Any], source: SourceRef, event: EventT[Any]) -> bool:
    """Assess a review arriving with its author's evidence; True when it goes on into the product's windows (not
    flagged on arrival, or the exclusion is off)."""
    insight = payload["insight"]
    evidence = AccountEvidence(**payload["evidence"])
    facts = review_facts(insight)._replace(user_id=evidence.user_id)
    wire, shingles = insight.get("text_signature"), insight.get("text_shingles")
    signature = TextSignature.from_wire(wire, int(shingles or 0)) if wire else _NO_SIGNATURE
    state = integrity_products.get(facts.product_id)
    outcome = assess_review(state, facts, evidence, signature, source, INTEGRITY_CONFIG)
    await _publish(outcome, state, event)
    if not settings.integrity_exclude_flagged:
        return True
    # A replay decides as the first time did: flagged on arrival is revision 0 and flagged.
    entry = next((e for e in outcome.state.recent if e.review_id == facts.review_id), None)
    return entry is None or not (entry.flagged and entry.revision == 0)


async def revise_for_match(payload: dict[str, Any], event: EventT[Any]) -> None:
    match = TextMatch(**payload)
    state = integrity_products.get(match.product_id)
    if state is not None:
        await _publish(apply_text_match(state, match, INTEGRITY_CONFIG), state, event)


async def revise_for_taint(payload: dict[str, Any], event: EventT[Any]) -> None:
    taint = ReviewTaint(**payload)
    state = integrity_products.get(taint.product_id)
    if state is not None:
        await _publish(apply_taint(state, taint, INTEGRITY_CONFIG), state, event)


async def expire_quiet_campaigns(partition: int, now: float) -> None:
    """A tick: campaigns of this partition's products with no flagged review for the cooldown end now."""
    if not CAMPAIGNS_DUE.is_loaded(partition):
        actives = {tp.partition for tp in app.assignor.assigned_actives()
                   if tp.topic == settings.product_events_topic}
        await CAMPAIGNS_DUE.rebuild(integrity_products.items(), _due, lambda _key, state: state.partition, actives)
    for product_id in CAMPAIGNS_DUE.pop_due(partition, now):
        state = integrity_products.get(product_id)
        if state is None or not state.incidents:
            continue
        outcome = expire_campaigns(state, now, INTEGRITY_CONFIG)
        if outcome.alerts:
            integrity_products[product_id] = outcome.state
            await publish_alerts(outcome)
            _count_campaigns(outcome)
        CAMPAIGNS_DUE.push(partition, _due(outcome.state), product_id)


async def _publish(outcome: IntegrityOutcome, before: ProductIntegrity | None, event: EventT[Any]) -> None:
    """Store the row and send everything the step decided (nothing for a replay)."""
    if outcome.state is before:
        return
    message = event.message
    partition = message.partition
    state = outcome.state.derive(partition=partition)
    integrity_products[state.product_id] = state
    for record in outcome.records:
        await send_output(Output(review_integrity_topic, record.review_id, record), metrics)
        verdict = "passed" if not record.flagged else "flagged" if record.revision == 0 else "flagged_later"
        metrics.integrity_reviews.labels(verdict).inc()
        if record.flagged:
            for signal in record.signals:
                metrics.integrity_flags.labels(signal.name).inc()
    await publish_alerts(outcome)
    _count_campaigns(outcome)
    if outcome.alerts or outcome.suppressed:  # a campaign opened, or a review joined it: it ends later
        CAMPAIGNS_DUE.push(partition, _due(state), state.product_id)

    def forwarded(kind: str, payload: dict[str, Any]) -> ForwardedEvent:
        return ForwardedEvent(kind=kind, source_topic=message.topic, source_partition=partition,
                              source_offset=message.offset, payload=payload)

    if outcome.probe is not None:
        probe = outcome.probe.asdict()
        for key in outcome.band_keys:
            await send_output(Output(integrity_bands_topic, key, forwarded("band_probe",
                                                                           {"band_key": key, "probe": probe})),
                              metrics)
    for flag in outcome.account_flags:
        await send_output(Output(profile_events_topic, flag.user_id, forwarded("account_flag", flag.asdict()),
                                 partition=account_partition(flag.user_id)), metrics)


def _count_campaigns(outcome: IntegrityOutcome) -> None:
    for alert in outcome.alerts:
        if alert.kind == CAMPAIGN:
            metrics.integrity_open_campaigns.inc(1 if alert.status == "firing" else -1)


def _due(state: ProductIntegrity) -> float | None:
    return campaign_due(state, INTEGRITY_CONFIG)
