"""Alert rules: pure functions from an insight (plus the product's window or the user's profile) to alerts.

Four kinds. On a product: `safety_issue` (a review reporting a hazard, at once), `negative_spike` (the current
window's negative share well above the product's own baseline, with a minimum volume) and `competitor_trend` (a
competitor's mentions in the current window well above its baseline rate). On a user: `vip_unhappy` (a negative
review or a complaint from a high-value customer). A fifth, `review_campaign` (several suspicious reviews of one
product at once), is decided by `models.integrity` with the same incident machinery (`trigger_incident`,
`expire_quiet`).

Incidents. A rule that fires opens an incident under a stable `alert_id` (a hash of kind, subject and the review
that opened it, so re-processing the same input yields the same id, and the alerts topic, keyed by `alert_id`,
holds one record per incident). While it is open, more evidence joins it silently (the cooldown: one incident, one
alert). It is resolved (a second record, same `alert_id`, `status: resolved`) when the condition is seen to be over
on a later review of the subject (the window's share is back under the threshold, the VIP's next review is not
negative) or when no trigger came for `cooldown_s` of event time.

Event time throughout: `at` is when the review was written, so replays and late data give the same answers.
Baselines are kept per product in hourly buckets of (reviews, negative reviews, competitor mentions).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final, NamedTuple

import faust

from models.product_sentiment import ProductWindow
from models.profile import InsightFacts, UserProfile
from models.records import WireRecord

__all__ = [
    "DEFAULT_ALERT_CONFIG",
    "Alert",
    "AlertConfig",
    "AlertOutcome",
    "Bucket",
    "Incident",
    "ProductAlertState",
    "UserAlertState",
    "alert_id",
    "evaluate_product",
    "evaluate_user",
    "expire_incidents",
    "expire_quiet",
    "incidents_due",
    "is_vip",
    "resolved_alert",
    "trigger_incident",
]

HOUR_S: Final = 3600.0
DAY_S: Final = 86400.0
SAFETY_ISSUES: Final = frozenset({"safety"})
UNHAPPY_INTENTS: Final = frozenset({"complaint", "return_request"})


@dataclass(frozen=True)
class AlertConfig:
    # One incident per subject and kind while triggers keep coming closer together than this (event time).
    cooldown_s: float = 6 * HOUR_S
    # negative_spike: the window needs `spike_min_volume` reviews, and its negative share must reach
    # max(spike_min_share, baseline × spike_ratio, baseline + spike_min_delta).
    spike_min_volume: int = 5
    spike_min_share: float = 0.4
    spike_ratio: float = 2.0
    spike_min_delta: float = 0.2
    # Below `baseline_min_volume` reviews of history the product's baseline is this prior share.
    spike_prior_share: float = 0.15
    baseline_min_volume: int = 10
    baseline_span_s: float = 14 * DAY_S
    # competitor_trend: at least `competitor_min_mentions` in the window and `competitor_ratio` × the baseline rate.
    competitor_min_mentions: int = 3
    competitor_ratio: float = 3.0
    # vip_unhappy: a customer in one of these RFM segments, or with at least this much spent.
    vip_segments: frozenset[str] = field(default_factory=lambda: frozenset({"champion"}))
    vip_min_spend: float = 500.0
    bucket_s: float = HOUR_S
    max_evidence_ids: int = 20

    def __post_init__(self) -> None:
        if self.cooldown_s <= 0 or self.bucket_s <= 0 or self.baseline_span_s <= 0:
            raise ValueError(f"cooldown, bucket and baseline span must be positive, got {self}")
        if not 0 <= self.spike_min_share <= 1 or not 0 <= self.spike_prior_share <= 1:
            raise ValueError(f"shares must be within 0..1, got {self}")
        if self.spike_min_volume < 1 or self.competitor_min_mentions < 1:
            raise ValueError(f"minimum volumes must be at least 1, got {self}")


DEFAULT_ALERT_CONFIG: Final = AlertConfig()


class Alert(WireRecord):
    """One record on the `alerts` topic, keyed by `alert_id`: an incident opening (`firing`) or ending (`resolved`)."""

    alert_id: str
    kind: str  # safety_issue | negative_spike | vip_unhappy | competitor_trend | review_campaign
    status: str  # firing | resolved
    severity: str  # info | warning | critical
    subject_type: str  # product | user
    subject_id: str
    message: str
    # Review ids that triggered or joined the incident (bounded), and the figures the rule compared.
    review_ids: list[str]
    figures: dict[str, Any]
    opened_at: float
    at: float
    competitor: str | None = None


class Incident(faust.Record, include_metadata=False, serializer="json"):
    alert_id: str
    kind: str
    severity: str
    opened_at: float
    last_triggered_at: float
    review_ids: list[str]
    figures: dict[str, Any]
    competitor: str | None = None


class Bucket(faust.Record, include_metadata=False, serializer="json"):
    n: int
    negative: int
    competitors: dict[str, int]


class ProductAlertState(faust.Record, include_metadata=False, serializer="json"):
    product_id: str
    # Bucket start (seconds, as a string: JSON keys) → counts; only `baseline_span_s` back from the newest review.
    buckets: dict[str, Bucket]
    # "kind" or "kind:competitor" → the open incident.
    incidents: dict[str, Incident]
    # The table partition of the row, so that a tick of one partition touches only its own rows (-1: not known yet).
    partition: int = -1


class UserAlertState(faust.Record, include_metadata=False, serializer="json"):
    user_id: str
    incident: Incident | None
    partition: int = -1


class AlertOutcome(NamedTuple):
    state: Any  # ProductAlertState | UserAlertState
    alerts: list[Alert]
    # Triggers that joined an open incident instead of alerting again, by kind.
    suppressed: list[str]


def alert_id(kind: str, subject_id: str, opened_by: str, competitor: str | None = None) -> str:
    """Stable id of an incident: the same input always opens the same incident."""
    raw = "\x1f".join([kind, subject_id, competitor or "", opened_by])
    return hashlib.sha256(raw.encode("utf-8")).hexdigest()[:24]


def is_vip(profile: UserProfile | None, cfg: AlertConfig = DEFAULT_ALERT_CONFIG) -> bool:
    return profile is not None and (profile.segment in cfg.vip_segments or profile.spend >= cfg.vip_min_spend)


# ------------------------------------------------------------------------------------------------------- product


def evaluate_product(
    state: ProductAlertState | None,
    facts: InsightFacts,
    window: ProductWindow,
    cfg: AlertConfig = DEFAULT_ALERT_CONFIG,
) -> AlertOutcome:
    """Fold a NEW insight (not a replay: the caller checks) into the product's alert state and apply the rules.

    `window` is the product's current window after the insight was folded into it (the newest one holding it).
    """
    buckets = _add_to_buckets(state.buckets if state else {}, facts, cfg)
    incidents = dict(state.incidents) if state else {}
    alerts: list[Alert] = []
    suppressed: list[str] = []
    subject = facts.product_id
    baseline = _baseline(buckets, window.window_start, cfg)

    # Incidents whose condition is over, or which went quiet, end first: a new trigger then opens a new one.
    share = window.counts.get("negative", 0) / window.n if window.n else 0.0
    spike_threshold = _spike_threshold(baseline.share, cfg)
    for key, incident in list(incidents.items()):
        over = facts.at - incident.last_triggered_at >= cfg.cooldown_s
        if incident.kind == "negative_spike" and window.n >= cfg.spike_min_volume and share < spike_threshold:
            over = True
        if incident.kind == "competitor_trend" and incident.competitor is not None and window.n >= cfg.spike_min_volume:
            mentions = window.competitors.get(incident.competitor, 0)
            if mentions < _competitor_threshold(baseline.competitor_rate(incident.competitor, window), cfg):
                over = True
        if over:
            del incidents[key]
            alerts.append(resolved_alert(incident, "product", subject, facts.at))

    figures: dict[str, Any]
    if SAFETY_ISSUES & set(facts.issues):
        figures = {"issues": sorted(set(facts.issues))}
        trigger_incident(incidents, alerts, suppressed, "safety_issue", "critical", "product", subject,
                         facts.review_id, facts.at, figures,
                         f"Safety complaint about product {subject}: {facts.summary[:200]}", cfg)

    if window.n >= cfg.spike_min_volume and share >= spike_threshold:
        figures = {"window_start": window.window_start, "window_end": window.window_end, "reviews": window.n,
                   "negative": window.counts.get("negative", 0), "negative_share": round(share, 4),
                   "baseline_share": round(baseline.share, 4), "baseline_reviews": baseline.n,
                   "threshold": round(spike_threshold, 4)}
        trigger_incident(incidents, alerts, suppressed, "negative_spike", "warning", "product", subject,
                         facts.review_id, facts.at, figures,
                         f"Negative reviews of product {subject} at {share:.0%} of {window.n} in the current window "
                         f"(baseline {baseline.share:.0%})", cfg)

    for competitor in sorted(set(c.casefold() for c in facts.competitors)):
        mentions = window.competitors.get(competitor, 0)
        rate = baseline.competitor_rate(competitor, window)
        threshold = _competitor_threshold(rate, cfg)
        if mentions >= threshold:
            figures = {"window_start": window.window_start, "window_end": window.window_end, "mentions": mentions,
                       "baseline_mentions_per_window": round(rate, 4), "threshold": round(threshold, 4)}
            trigger_incident(incidents, alerts, suppressed, "competitor_trend", "info", "product", subject,
                             facts.review_id, facts.at, figures,
                             f"{competitor} mentioned in {mentions} reviews of product {subject} in the current "
                             f"window (baseline {rate:.1f})", cfg, competitor=competitor)

    return AlertOutcome(ProductAlertState(product_id=subject, buckets=buckets, incidents=incidents,
                                          partition=state.partition if state else -1), alerts, suppressed)


class _Baseline(NamedTuple):
    n: int
    negative: int
    share: float
    competitors: dict[str, int]
    span_s: float

    def competitor_rate(self, competitor: str, window: ProductWindow) -> float:
        """Mentions of `competitor` the baseline predicts for a window as long as `window`."""
        if not self.span_s:
            return 0.0
        return self.competitors.get(competitor, 0) * (window.window_end - window.window_start) / self.span_s


def _baseline(buckets: Mapping[str, Bucket], before: float, cfg: AlertConfig) -> _Baseline:
    """History of the product before the current window: its negative share and competitor mentions."""
    n = negative = 0
    competitors: dict[str, int] = {}
    starts = [float(s) for s in buckets if before - cfg.baseline_span_s <= float(s) < before]
    for start in starts:
        bucket = buckets[_bucket_key(start)]
        n += bucket.n
        negative += bucket.negative
        for name, count in bucket.competitors.items():
            competitors[name] = competitors.get(name, 0) + count
    share = negative / n if n >= cfg.baseline_min_volume else cfg.spike_prior_share
    span = (before - min(starts)) if starts else 0.0
    return _Baseline(n, negative, share, competitors, span)


def _spike_threshold(baseline_share: float, cfg: AlertConfig) -> float:
    return max(cfg.spike_min_share, baseline_share * cfg.spike_ratio, baseline_share + cfg.spike_min_delta)


def _competitor_threshold(baseline_rate: float, cfg: AlertConfig) -> float:
    return max(float(cfg.competitor_min_mentions), baseline_rate * cfg.competitor_ratio)


def _bucket_key(start: float) -> str:
    return str(int(start))


def _add_to_buckets(buckets: Mapping[str, Bucket], facts: InsightFacts, cfg: AlertConfig) -> dict[str, Bucket]:
    start = facts.at - facts.at % cfg.bucket_s
    key = _bucket_key(start)
    old = buckets.get(key)
    competitors = dict(old.competitors) if old else {}
    for name in set(c.casefold() for c in facts.competitors):
        competitors[name] = competitors.get(name, 0) + 1
    new = Bucket(n=(old.n if old else 0) + 1,
                 negative=(old.negative if old else 0) + (facts.sentiment == "negative"), competitors=competitors)
    newest = max([start, *(float(s) for s in buckets)])
    # Keep the baseline span before the newest review's window, plus a day for windows longer than a bucket.
    keep_from = newest - cfg.baseline_span_s - DAY_S
    kept = {s: b for s, b in buckets.items() if float(s) >= keep_from}
    kept[key] = new
    return kept


def expire_incidents(state: ProductAlertState | UserAlertState, now: float,
                     cfg: AlertConfig = DEFAULT_ALERT_CONFIG) -> AlertOutcome:
    """End the incidents with no trigger for `cooldown_s` of event time by `now` (a tick: nothing new arrived)."""
    if isinstance(state, UserAlertState):
        incident = state.incident
        if incident is None or now - incident.last_triggered_at < cfg.cooldown_s:
            return AlertOutcome(state, [], [])
        return AlertOutcome(UserAlertState(user_id=state.user_id, incident=None, partition=state.partition),
                            [resolved_alert(incident, "user", state.user_id, now)], [])
    kept, alerts = expire_quiet(state.incidents, "product", state.product_id, now, cfg)
    if not alerts:
        return AlertOutcome(state, [], [])
    return AlertOutcome(
        ProductAlertState(product_id=state.product_id, buckets=state.buckets, incidents=kept,
                          partition=state.partition), alerts, [])


def expire_quiet(incidents: Mapping[str, Incident], subject_type: str, subject_id: str, now: float,
                 cfg: AlertConfig = DEFAULT_ALERT_CONFIG) -> tuple[dict[str, Incident], list[Alert]]:
    """The incidents still open at `now`, and a `resolved` alert for each one with no trigger for `cooldown_s`."""
    quiet = {k: i for k, i in incidents.items() if now - i.last_triggered_at >= cfg.cooldown_s}
    kept = {k: i for k, i in incidents.items() if k not in quiet}
    return kept, [resolved_alert(i, subject_type, subject_id, now) for _, i in sorted(quiet.items())]


def incidents_due(state: ProductAlertState | UserAlertState, cfg: AlertConfig = DEFAULT_ALERT_CONFIG) -> float | None:
    """When `expire_incidents` will end an open incident of `state` if no trigger comes first; None without one."""
    if isinstance(state, UserAlertState):
        return None if state.incident is None else state.incident.last_triggered_at + cfg.cooldown_s
    return min((i.last_triggered_at + cfg.cooldown_s for i in state.incidents.values()), default=None)


# ---------------------------------------------------------------------------------------------------------- user


def evaluate_user(
    state: UserAlertState | None,
    profile: UserProfile | None,
    facts: InsightFacts,
    intent: str,
    cfg: AlertConfig = DEFAULT_ALERT_CONFIG,
) -> AlertOutcome:
    """Apply `vip_unhappy` to a NEW insight of the user (the caller skips replays); `profile` is the user's profile."""
    subject = facts.user_id
    incidents: dict[str, Incident] = {"vip_unhappy": state.incident} if state and state.incident else {}
    alerts: list[Alert] = []
    suppressed: list[str] = []
    unhappy = facts.sentiment == "negative" or intent in UNHAPPY_INTENTS
    open_incident = incidents.get("vip_unhappy")
    if open_incident is not None and (not unhappy or facts.at - open_incident.last_triggered_at >= cfg.cooldown_s):
        # The customer's next review is not negative, or the incident went quiet: it is over.
        del incidents["vip_unhappy"]
        alerts.append(resolved_alert(open_incident, "user", subject, facts.at))
    if unhappy and is_vip(profile, cfg):
        assert profile is not None
        figures = {"segment": profile.segment, "orders": profile.orders, "spend": round(profile.spend, 2),
                   "sentiment": facts.sentiment, "intent": intent, "product_id": facts.product_id}
        severity = "critical" if SAFETY_ISSUES & set(facts.issues) else "warning"
        trigger_incident(incidents, alerts, suppressed, "vip_unhappy", severity, "user", subject,
                         facts.review_id, facts.at, figures,
                         f"High-value customer {subject} ({profile.segment}, {profile.orders} orders, "
                         f"{profile.spend:.2f} spent) is unhappy with product {facts.product_id}: "
                         f"{facts.summary[:200]}", cfg)
    return AlertOutcome(UserAlertState(user_id=subject, incident=incidents.get("vip_unhappy"),
                                       partition=state.partition if state else -1), alerts, suppressed)


# ------------------------------------------------------------------------------------------------------ shared


def trigger_incident(
    incidents: dict[str, Incident], alerts: list[Alert], suppressed: list[str], kind: str, severity: str,
    subject_type: str, subject_id: str, review_id: str, at: float, figures: dict[str, Any], message: str,
    cfg: AlertConfig, competitor: str | None = None, also: Sequence[str] = (),
) -> None:
    """A rule fired on review `review_id` written at `at`: open an incident (and its `firing` alert) under the key
    "kind" or "kind:competitor" of `incidents`, or, while one is open there, let the evidence join it silently
    (`suppressed` gets the kind). Both lists and the mapping are updated in place. `also`: earlier reviews that are
    part of the same evidence (a rule that fires on several reviews together), listed before `review_id`."""
    key = f"{kind}:{competitor}" if competitor else kind
    incident = incidents.get(key)
    if incident is not None:
        # Within the cooldown: the evidence joins the open incident, nobody is paged again.
        incidents[key] = Incident(
            alert_id=incident.alert_id, kind=kind, severity=incident.severity, opened_at=incident.opened_at,
            last_triggered_at=max(incident.last_triggered_at, at),
            review_ids=_bounded([*incident.review_ids, *also, review_id], cfg.max_evidence_ids),
            figures=figures, competitor=competitor)
        suppressed.append(kind)
        return
    incident = Incident(alert_id=alert_id(kind, subject_id, review_id, competitor), kind=kind,
                        severity=severity, opened_at=at, last_triggered_at=at,
                        review_ids=_bounded([*also, review_id], cfg.max_evidence_ids), figures=figures,
                        competitor=competitor)
    incidents[key] = incident
    alerts.append(Alert(alert_id=incident.alert_id, kind=kind, status="firing", severity=severity,
                        subject_type=subject_type, subject_id=subject_id, message=message,
                        review_ids=list(incident.review_ids), figures=figures, opened_at=at, at=at,
                        competitor=competitor))


def resolved_alert(incident: Incident, subject_type: str, subject_id: str, at: float) -> Alert:
    """The `resolved` record that ends `incident` at `at` (same `alert_id` as its `firing` record)."""
    return Alert(alert_id=incident.alert_id, kind=incident.kind, status="resolved", severity=incident.severity,
                 subject_type=subject_type, subject_id=subject_id,
                 message=f"Resolved: {incident.kind.replace('_', ' ')} on {subject_type} {subject_id}"
                         + (f" ({incident.competitor})" if incident.competitor else ""),
                 review_ids=list(incident.review_ids), figures=dict(incident.figures), opened_at=incident.opened_at,
                 at=at, competitor=incident.competitor)


def _bounded(ids: Iterable[str], limit: int) -> list[str]:
    unique = list(dict.fromkeys(ids))
    return unique[-limit:] if limit else []
