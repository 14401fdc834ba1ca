"""Campaigns: several flagged reviews of one product at once open a `review_campaign` incident, through the same
incident machinery as every other alert (`models.alerts`: stable `alert_id`, one alert per incident, cooldown).

When a review is flagged and the product has at least `campaign_min_reviews` flagged reviews from at least
`campaign_min_accounts` accounts within `campaign_window_s` of it, an incident opens (or the review joins the open
one, silently): the alert names the reviews, the accounts, the highest text similarity among them, the time window
and how often each signal fired. It ends like every incident, after `cooldown_s` of event time without a flagged
review: `expire_campaigns` on a tick (`campaign_due` says when, for `streams.delivery.due_index.DueIndex`), or at the
product's next review.
"""

from __future__ import annotations

from typing import Any, Final

from models.alerts import Alert, Incident, expire_quiet, trigger_incident
from models.integrity.config import DEFAULT_INTEGRITY_CONFIG, IntegrityConfig
from models.integrity.state import IntegrityOutcome, ProductIntegrity, RecentReview

__all__ = ["CAMPAIGN", "campaign_due", "expire_campaigns", "open_campaign_id", "open_or_join_campaign"]

CAMPAIGN: Final = "review_campaign"


def open_or_join_campaign(incidents: dict[str, Incident], alerts: list[Alert], suppressed: list[str],
                          product_id: str, recent: list[RecentReview], flagged: RecentReview, now: float,
                          cfg: IntegrityConfig) -> None:
    """Review `flagged` was just flagged: open the product's campaign (a `firing` alert into `alerts`), or join the
    open one (its kind into `suppressed`), if enough flagged reviews of `recent` surround it. Updates in place."""
    members = [e for e in recent if e.flagged and abs(e.at - flagged.at) <= cfg.campaign_window_s]
    accounts = sorted({e.user_id for e in members})
    if len(members) < cfg.campaign_min_reviews or len(accounts) < cfg.campaign_min_accounts:
        return
    signals: dict[str, int] = {}
    for e in members:
        for name in e.strengths:
            signals[name] = signals.get(name, 0) + 1
    limit = cfg.alerts.max_evidence_ids
    figures: dict[str, Any] = {
        "reviews": len(members), "accounts": accounts[:limit], "account_count": len(accounts),
        "similarity": round(max(e.similarity for e in members), 4),
        "window_start": min(e.at for e in members), "window_end": max(e.at for e in members),
        "signals": dict(sorted(signals.items())), "mean_score": round(sum(e.score for e in members) / len(members), 4),
    }
    others = [e.review_id for e in sorted(members, key=lambda e: (e.at, e.review_id))
              if e.review_id != flagged.review_id]
    trigger_incident(incidents, alerts, suppressed, CAMPAIGN, "warning", "product", product_id, flagged.review_id, now,
                     figures, f"Suspected review campaign on product {product_id}: {len(members)} suspicious reviews "
                              f"from {len(accounts)} accounts within {cfg.campaign_window_s / 3600:.0f} h",
                     cfg.alerts, also=others)


def open_campaign_id(incidents: dict[str, Incident]) -> str | None:
    """The alert id of the product's open campaign, if one is open."""
    incident = incidents.get(CAMPAIGN)
    return incident.alert_id if incident is not None else None


def expire_campaigns(state: ProductIntegrity, now: float,
                     cfg: IntegrityConfig = DEFAULT_INTEGRITY_CONFIG) -> IntegrityOutcome:
    """A tick: end the campaign incident when no review was flagged for `cooldown_s` of event time by `now`."""
    incidents, alerts = expire_quiet(state.incidents, "product", state.product_id, now, cfg.alerts)
    if not alerts:
        return IntegrityOutcome.unchanged(state)
    return IntegrityOutcome(state.derive(incidents=incidents), [], alerts, [], None, [], [])


def campaign_due(state: ProductIntegrity, cfg: IntegrityConfig = DEFAULT_INTEGRITY_CONFIG) -> float | None:
    """When the open campaign ends if nothing joins it (for `streams.delivery.due_index.DueIndex`); None: none open."""
    return min((i.last_triggered_at + cfg.alerts.cooldown_s for i in state.incidents.values()), default=None)
