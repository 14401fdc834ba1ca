"""`<app>-product-events` → per-product sentiment windows (event time) → `product-sentiment`, and the product alert
rules (safety_issue, negative_spike, competitor_trend; models/alerts.py) → `alerts`; and the product stage of review
integrity (agents/product_integrity.py) → `review-integrity` and `review_campaign` alerts.

A review arrives from its author's partition with the account's evidence (kind `review`), is assessed first, and
then folded into the windows — unless it is flagged on arrival and `integrity_exclude_flagged` is on: then it counts
in no window and no rule (safety_issue included: it runs on this path; an urgent review still reached the support
queue), so a campaign can neither fake a negative spike or a competitor trend nor hide one. A
review flagged later (by a later copy of its text, a burst around it, its account caught elsewhere) stays where it
was counted: windows are published as they fold, and taking a review back out would need every window it touched.

Windows live in a plain table keyed `product_id:window_start` rather than a Faust windowed table, whose pitfalls are
listed in models/product_sentiment.py (message time instead of event time, hopping values, keys that never expire
after a restart).
`product_windows_index` keeps each product's recent window starts, bounded, for reading and for cleanup.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from faust.types import EventT, StreamT

from agents.product_integrity import (
    assess_arrival,
    expire_quiet_campaigns,
    integrity_products,
    revise_for_match,
    revise_for_taint,
)
from models.alerts import ProductAlertState, evaluate_product, expire_incidents, incidents_due
from models.errors import InvalidEvent
from models.forwarded_event import ForwardedEvent
from models.product_sentiment import ProductWindow, fold_insight_into_window, window_bounds, window_key
from models.profile import InsightFacts, SourceRef, insight_facts
from streams.alerting import publish_alerts
from streams.app import (
    app,
    fold_forwarded_each,
    fold_in_batches,
    guarded,
    metrics,
    product_events_in_topic,
    product_sentiment_topic,
    served_by_owner,
    settings,
)
from streams.delivery.due_index import DueIndex
from streams.delivery.output import Output, send_output
from streams.delivery.watermark import WATERMARK
from streams.rule_configs import alert_config

__all__ = ["fold_product_windows", "integrity_products", "product_alerts", "product_index", "product_windows"]

product_windows = app.Table("product_windows", value_type=ProductWindow, partitions=settings.topic_partitions,
                            help="product_id:window_start → ProductWindow")
product_index = app.Table("product_windows_index", partitions=settings.topic_partitions,
                          help="product_id → recent window starts")
product_alerts = app.Table("product_alerts", value_type=ProductAlertState, partitions=settings.topic_partitions,
                           help="product_id → alert baselines and open incidents")
ALERT_CONFIG = alert_config(settings)
# When this worker's open incidents go quiet, per partition; rebuilt after each rebalance.
INCIDENTS_DUE = DueIndex()


@app.agent(product_events_in_topic, name="products")
async def fold_product_windows(stream: StreamT[Any]) -> None:
    # The shared fold loop (streams/delivery/fold_loop.py): offset order, acks after the outputs are sent, skipped
    # offsets read back, poison pills dead-lettered alone. Each insight is folded on its own (it touches a few window
    # rows).
    await fold_in_batches(stream, _fold_partition, agent="products")


async def _fold_partition(partition: int, events: Sequence[EventT[Any]]) -> None:
    await fold_forwarded_each(events, _fold)


async def _fold(forwarded: ForwardedEvent, event: EventT[Any]) -> None:
    partition = event.message.partition
    kind, payload = forwarded.kind, forwarded.payload
    if kind == "tick":
        await _end_quiet_incidents(partition, float(payload["now"]))
        await expire_quiet_campaigns(partition, float(payload["now"]))
    elif kind == "review":
        if await assess_arrival(payload, forwarded.source, event):
            await _fold_insight(payload["insight"], forwarded.source, partition)
    elif kind == "text_match":
        await revise_for_match(payload, event)
    elif kind == "taint":
        await revise_for_taint(payload, event)
    elif kind == "insight":
        # Sent straight from the insights agent by a version without the integrity step: in flight at the upgrade.
        await _fold_insight(payload, forwarded.source, partition)
    else:
        raise InvalidEvent("invalid_internal_event", f"a forwarded {kind} has no place on the product events topic")


async def _fold_insight(insight: dict[str, Any], source: SourceRef, partition: int) -> None:
    facts = insight_facts(insight)
    WATERMARK.observe(facts.at)
    starts: list[int] = list(product_index.get(facts.product_id) or [])
    newest: ProductWindow | None = None
    for window_start, window_end in window_bounds(facts.at, settings.window_size_s, settings.window_step_s):
        key = window_key(facts.product_id, window_start)
        window = product_windows.get(key)
        if window is not None and window.window_end != window_end:
            window = None  # the window size was reconfigured: the old window under this key is superseded
        folded = fold_insight_into_window(window, insight, window_start, window_end, source)
        if folded is window:
            continue  # a replay: nothing new
        product_windows[key] = folded
        newest = folded
        if window_start not in starts:
            starts.append(window_start)
        await send_output(Output(product_sentiment_topic, key, folded), metrics)
    starts.sort()
    for old in starts[: -settings.windows_kept_per_product]:
        product_windows.pop(window_key(facts.product_id, old), None)
    kept = starts[-settings.windows_kept_per_product:]
    if kept != list(product_index.get(facts.product_id) or []):
        product_index[facts.product_id] = kept
    if newest is not None:  # a new insight, not a replay: only those may alert
        await _apply_alert_rules(facts, newest, partition)


async def _apply_alert_rules(facts: InsightFacts, window: ProductWindow, partition: int) -> None:
    outcome = evaluate_product(product_alerts.get(facts.product_id), facts, window, ALERT_CONFIG)
    product_alerts[facts.product_id] = outcome.state.derive(partition=partition)
    await publish_alerts(outcome)
    INCIDENTS_DUE.push(partition, _incident_due(outcome.state), facts.product_id)


async def _end_quiet_incidents(partition: int, now: float) -> None:
    """A tick: incidents of this partition's products with no trigger for the cooldown end now."""
    if not INCIDENTS_DUE.is_loaded(partition):
        await _load_due_times()
    for product_id in INCIDENTS_DUE.pop_due(partition, now):
        state = product_alerts.get(product_id)
        if state is None or not state.incidents:
            continue
        outcome = expire_incidents(state, now, ALERT_CONFIG)
        if outcome.alerts:
            product_alerts[product_id] = outcome.state
            await publish_alerts(outcome)
        INCIDENTS_DUE.push(partition, _incident_due(outcome.state), product_id)


async def _load_due_times() -> None:
    """One scan of this worker's product alert rows after a rebalance (see streams/delivery/due_index.py)."""
    actives = {tp.partition for tp in app.assignor.assigned_actives() if tp.topic == settings.product_events_topic}
    await INCIDENTS_DUE.rebuild(product_alerts.items(), _incident_due, lambda _key, state: state.partition, actives)


def _incident_due(state: ProductAlertState) -> float | None:
    return incidents_due(state, ALERT_CONFIG)


@app.page("/products/{product_id}/")
@guarded
@served_by_owner(product_index, "product_id")
async def product_view(web: Any, request: Any, product_id: str) -> Any:
    """The product's recent sentiment windows, newest last, from the worker that owns the product's partition."""
    starts = product_index.get(product_id)
    if not starts:
        return web.json({"error": f"no reviews analysed for product {product_id!r}"}, status=404)
    windows = [product_windows.get(window_key(product_id, start)) for start in starts]
    return web.json({"product_id": product_id, "windows": [w.to_dict() for w in windows if w is not None]})
