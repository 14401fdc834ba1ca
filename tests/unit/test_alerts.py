"""Alert rules with explicit event time: each fires when it should, stays quiet on the near misses, respects the
cooldown and the minimum volume, resolves, and gives the same alert_id for the same input."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pytest

from models.alerts import (
    AlertConfig,
    AlertOutcome,
    ProductAlertState,
    UserAlertState,
    alert_id,
    evaluate_product,
    evaluate_user,
    expire_incidents,
    is_vip,
)
from models.insight import ReviewInsight
from models.product_sentiment import ProductWindow, fold_insight_into_window, window_bounds
from models.profile import UserProfile, insight_facts
from tests import factories

T0 = 1_700_002_800  # the start of an hour
HOUR = 3600
DAY = 86400
CFG = AlertConfig()


def make_insight(review_id: str, *, at: float, **fields: Any) -> ReviewInsight:
    """This module's defaults: analysed when written, summarised by its id."""
    return factories.make_insight(review_id, at=at, summary=f"summary of {review_id}", **fields)


@dataclass
class Product:
    """Drives the product rules as the worker does: fold into the hourly window, then evaluate."""

    cfg: AlertConfig = CFG
    state: ProductAlertState | None = None
    windows: dict[int, ProductWindow] = field(default_factory=dict)
    seq: int = 0

    def review(self, at: float, sentiment: str = "positive", **kw: object) -> AlertOutcome:
        self.seq += 1
        insight = make_insight(f"r{self.seq}", at=at, sentiment=sentiment, **kw)  # type: ignore[arg-type]
        (start, end), = window_bounds(at, HOUR, HOUR)
        window = fold_insight_into_window(self.windows.get(start), insight, start, end)
        self.windows[start] = window
        outcome = evaluate_product(self.state, insight_facts(insight), window, self.cfg)
        self.state = outcome.state
        return outcome

    def history(self, hours: int, per_hour: int, negative_every: int = 0, competitor: str | None = None,
                mention_every: int = 0) -> None:
        """Quiet past: `per_hour` reviews an hour for `hours` hours before T0."""
        n = 0
        for h in range(hours, 0, -1):
            for i in range(per_hour):
                n += 1
                negative = bool(negative_every) and n % negative_every == 0
                mentions = [competitor] if competitor and mention_every and n % mention_every == 0 else []
                self.review(T0 - h * HOUR + i * 60, "negative" if negative else "positive", competitors=mentions)


def kinds(outcome: AlertOutcome, status: str = "firing") -> list[str]:
    return [a.kind for a in outcome.alerts if a.status == status]


# ------------------------------------------------------------------------------------------------- safety_issue


def test_safety_issue_fires_at_once_on_a_single_review() -> None:
    product = Product()
    outcome = product.review(T0, "negative", issues=["safety", "quality"])
    assert kinds(outcome) == ["safety_issue"]
    alert = outcome.alerts[0]
    assert alert.severity == "critical" and alert.subject_type == "product" and alert.subject_id == "p1"
    assert alert.review_ids == ["r1"] and "Safety" in alert.message


def test_a_negative_review_without_a_safety_issue_does_not_fire_it() -> None:
    assert kinds(Product().review(T0, "negative", issues=["quality", "shipping"])) == []


def test_safety_reports_within_the_cooldown_join_the_open_incident() -> None:
    product = Product()
    first = product.review(T0, "negative", issues=["safety"])
    second = product.review(T0 + HOUR, "negative", issues=["safety"])
    assert kinds(first) == ["safety_issue"] and second.alerts == [] and second.suppressed == ["safety_issue"]
    assert product.state is not None
    assert product.state.incidents["safety_issue"].review_ids == ["r1", "r2"]


def test_a_quiet_cooldown_resolves_the_incident_and_a_new_report_opens_another() -> None:
    product = Product()
    first = product.review(T0, "negative", issues=["safety"])
    later = product.review(T0 + CFG.cooldown_s + 1, "negative", issues=["safety"])
    assert [(a.kind, a.status) for a in later.alerts] == [("safety_issue", "resolved"), ("safety_issue", "firing")]
    assert later.alerts[0].alert_id == first.alerts[0].alert_id
    assert later.alerts[1].alert_id != first.alerts[0].alert_id


def test_a_quiet_cooldown_resolves_even_on_a_harmless_review() -> None:
    product = Product()
    product.review(T0, "negative", issues=["safety"])
    outcome = product.review(T0 + CFG.cooldown_s, "positive")
    assert [(a.kind, a.status) for a in outcome.alerts] == [("safety_issue", "resolved")]
    assert product.state is not None and product.state.incidents == {}


def test_alert_id_is_stable_for_the_same_input() -> None:
    one, two = Product(), Product()
    a = one.review(T0, "negative", issues=["safety"]).alerts[0]
    b = two.review(T0, "negative", issues=["safety"]).alerts[0]
    assert a.alert_id == b.alert_id == alert_id("safety_issue", "p1", "r1")
    assert alert_id("safety_issue", "p2", "r1") != a.alert_id


# ----------------------------------------------------------------------------------------------- negative_spike


def test_negative_spike_fires_when_the_share_is_well_above_the_baseline() -> None:
    product = Product()
    product.history(hours=25, per_hour=2, negative_every=10)  # baseline: 5 of 50 negative
    fired = []
    for i, sentiment in enumerate(["negative", "negative", "positive", "negative", "negative"]):
        fired += product.review(T0 + i * 60, sentiment).alerts
    assert [a.kind for a in fired] == ["negative_spike"]
    figures = fired[0].figures
    assert figures["reviews"] == 5 and figures["negative"] == 4 and figures["baseline_share"] == pytest.approx(0.1)
    assert fired[0].subject_id == "p1" and fired[0].severity == "warning"


def test_no_spike_below_the_minimum_volume() -> None:
    product = Product()
    product.history(hours=24, per_hour=2, negative_every=10)
    fired = [a for i in range(CFG.spike_min_volume - 1) for a in product.review(T0 + i * 60, "negative").alerts]
    assert fired == []  # four negative reviews on a quiet product are not a spike yet


def test_one_bad_review_on_a_quiet_product_is_not_a_spike() -> None:
    assert Product().review(T0, "negative").alerts == []


def test_no_spike_when_the_share_is_only_a_little_above_the_baseline() -> None:
    product = Product()
    product.history(hours=24, per_hour=5, negative_every=3)  # baseline ~33 % negative
    # 3 of 6 = 50 %: above the baseline, but under 2 × baseline (66 %).
    fired = [a for i, s in enumerate(["negative", "positive"] * 3) for a in product.review(T0 + i * 60, s).alerts]
    assert fired == []


def test_a_spike_alerts_once_and_resolves_when_the_window_recovers() -> None:
    product = Product()
    product.history(hours=24, per_hour=2, negative_every=10)
    for i in range(6):
        product.review(T0 + i * 60, "negative")
    assert product.state is not None and "negative_spike" in product.state.incidents
    # The next hour: plenty of reviews, mostly positive: the spike is over.
    resolved = [a for i in range(6) for a in product.review(T0 + HOUR + i * 60, "positive").alerts]
    assert [(a.kind, a.status) for a in resolved] == [("negative_spike", "resolved")]


def test_thresholds_are_configurable() -> None:
    strict = Product(cfg=AlertConfig(spike_min_volume=3))
    fired = [a for i in range(3) for a in strict.review(T0 + i * 60, "negative").alerts]
    assert [a.kind for a in fired] == ["negative_spike"]


# --------------------------------------------------------------------------------------------- competitor_trend


def test_competitor_trend_fires_when_mentions_rise_above_their_baseline_rate() -> None:
    product = Product()
    product.history(hours=48, per_hour=2, competitor="Globex", mention_every=24)  # ~1 mention a day
    fired = [a for i in range(4) for a in product.review(T0 + i * 60, competitors=["Globex"]).alerts]
    assert [(a.kind, a.competitor) for a in fired] == [("competitor_trend", "globex")]
    assert fired[0].figures["mentions"] == 3


def test_two_mentions_are_not_a_trend() -> None:
    product = Product()
    fired = [a for i in range(2) for a in product.review(T0 + i * 60, competitors=["Globex"]).alerts]
    assert fired == []


def test_a_competitor_always_mentioned_is_not_a_trend() -> None:
    product = Product()
    product.history(hours=48, per_hour=3, competitor="Globex", mention_every=1)  # 3 mentions every hour
    fired = [a for i in range(3) for a in product.review(T0 + i * 60, competitors=["Globex"]).alerts]
    assert fired == []


# ------------------------------------------------------------------------------------------------- vip_unhappy


def profile(segment: str = "champion", spend: float = 900.0, orders: int = 6) -> UserProfile:
    p = UserProfile.empty("u1", T0 - 30 * DAY)
    p.segment, p.spend, p.orders = segment, spend, orders
    return p


def user_review(state: UserAlertState | None, p: UserProfile | None, review_id: str, at: float,
                sentiment: str = "negative", intent: str = "complaint") -> AlertOutcome:
    insight = make_insight(review_id, at=at, sentiment=sentiment, intent=intent)
    return evaluate_user(state, p, insight_facts(insight), intent, CFG)


def test_vip_complaint_fires_with_the_customer_figures() -> None:
    outcome = user_review(None, profile(), "r1", T0)
    assert kinds(outcome) == ["vip_unhappy"]
    alert = outcome.alerts[0]
    assert alert.subject_type == "user" and alert.subject_id == "u1"
    assert alert.figures["segment"] == "champion" and alert.figures["spend"] == 900.0


@pytest.mark.parametrize(("segment", "spend", "vip"), [("champion", 0.0, True), ("loyal", 10.0, False),
                                                        ("new", 499.99, False), ("new", 500.0, True),
                                                        ("at_risk", 100.0, False)])
def test_who_counts_as_vip(segment: str, spend: float, vip: bool) -> None:
    assert is_vip(profile(segment, spend), CFG) is vip


def test_an_unhappy_ordinary_customer_or_a_happy_vip_does_not_fire() -> None:
    assert user_review(None, profile("new", 20.0), "r1", T0).alerts == []
    assert user_review(None, profile(), "r1", T0, sentiment="positive", intent="praise").alerts == []
    assert user_review(None, None, "r1", T0).alerts == []


def test_a_return_request_counts_as_unhappy_even_when_neutral() -> None:
    assert kinds(user_review(None, profile(), "r1", T0, sentiment="neutral", intent="return_request")) == \
        ["vip_unhappy"]


def test_vip_cooldown_then_resolution_by_a_happy_review() -> None:
    first = user_review(None, profile(), "r1", T0)
    again = user_review(first.state, profile(), "r2", T0 + HOUR)
    assert again.alerts == [] and again.suppressed == ["vip_unhappy"]
    happy = user_review(again.state, profile(), "r3", T0 + 2 * HOUR, sentiment="positive", intent="praise")
    assert [(a.status, a.alert_id) for a in happy.alerts] == [("resolved", first.alerts[0].alert_id)]
    assert happy.alerts[0].review_ids == ["r1", "r2"]
    assert happy.state.incident is None


def test_config_rejects_nonsense() -> None:
    with pytest.raises(ValueError):
        AlertConfig(cooldown_s=0)
    with pytest.raises(ValueError):
        AlertConfig(spike_min_share=1.5)


# ------------------------------------------------------------------------------------------- quiet incidents end


def test_a_tick_after_a_quiet_cooldown_resolves_product_incidents_without_a_new_review() -> None:
    product = Product()
    product.review(T0, "negative", issues=["safety"])
    assert product.state is not None
    near = expire_incidents(product.state, T0 + CFG.cooldown_s - 1, CFG)
    assert near.alerts == [] and near.state is product.state  # a second early: still open
    done = expire_incidents(product.state, T0 + CFG.cooldown_s, CFG)
    assert [(a.kind, a.status, a.at) for a in done.alerts] == [("safety_issue", "resolved", T0 + CFG.cooldown_s)]
    assert done.state.incidents == {} and done.state.buckets == product.state.buckets


def test_a_tick_resolves_a_quiet_vip_incident() -> None:
    opened = user_review(None, profile(), "r1", T0)
    assert expire_incidents(opened.state, T0 + HOUR, CFG).alerts == []
    done = expire_incidents(opened.state, T0 + CFG.cooldown_s, CFG)
    assert [(a.status, a.alert_id) for a in done.alerts] == [("resolved", opened.alerts[0].alert_id)]
    assert done.state.incident is None
