"""The due-time rules beside their models: when a tick has something to do for a row. Each says when the function
the tick calls (`expire_incidents`, `due_triggers`) will act, so the due index never sleeps past it."""

from __future__ import annotations

from models.alerts import AlertConfig, Incident, ProductAlertState, UserAlertState, expire_incidents, incidents_due
from models.marketing import MarketingState, triggers_due

T0 = 1_700_000_000.0
CFG = AlertConfig(cooldown_s=600.0)


def incident(kind: str, last: float) -> Incident:
    return Incident(alert_id=f"a-{kind}", kind=kind, severity="high", opened_at=T0, last_triggered_at=last,
                    review_ids=["r1"], figures={})


def test_an_open_incident_is_due_when_its_cooldown_ends_and_expire_ends_it_then() -> None:
    user = UserAlertState(user_id="u1", incident=incident("vip_unhappy", T0 + 50))
    due = incidents_due(user, CFG)
    assert due == T0 + 650
    assert expire_incidents(user, due - 1, CFG).alerts == [] and expire_incidents(user, due, CFG).alerts
    product = ProductAlertState(product_id="p1", buckets={}, incidents={
        "safety_issue": incident("safety_issue", T0 + 300), "negative_spike": incident("negative_spike", T0)})
    assert incidents_due(product, CFG) == T0 + 600, "the earliest of the open incidents"


def test_nothing_open_is_never_due() -> None:
    assert incidents_due(UserAlertState(user_id="u1", incident=None), CFG) is None
    assert incidents_due(ProductAlertState(product_id="p1", buckets={}, incidents={}), CFG) is None


def test_the_earliest_scheduled_trigger_is_due() -> None:
    state = MarketingState(user_id="u1", partition=0, scheduled={"win_back": [T0 + 900, T0],
                                                                 "abandoned_cart": [T0 + 60, T0]}, sent=[])
    assert triggers_due(state) == T0 + 60
    assert triggers_due(MarketingState(user_id="u1", partition=0, scheduled={}, sent=[])) is None
