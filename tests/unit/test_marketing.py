"""Marketing triggers with explicit event time: abandoned cart, win-back, thank-you; opt-out, frequency cap and
no second message for the same occasion; and the message writer's checks and templates."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from models.click import ClickEvent
from models.marketing import (
    MarketingConfig,
    MarketingState,
    MarketingTrigger,
    admit,
    due_triggers,
    message_id,
    schedule,
    thank_you_trigger,
)
from models.profile import SourceRef, UserProfile, fold_click, fold_insight, insight_facts
from streams.llm.errors import InvalidReply
from streams.llm.marketing_writer import (
    MessageWriter,
    build_marketing_messages,
    parse_marketing_reply,
    template_text,
)
from streams.llm.simulator.marketing import simulate_marketing_reply
from tests.factories import make_insight

T0 = 1_700_000_000.0
HOUR = 3600.0
DAY = 86400.0
CFG = MarketingConfig(abandon_after_s=HOUR, winback_after_s=30 * DAY, cap_messages=2, cap_window_s=7 * DAY)


class Customer:
    """A profile driven by clicks and reviews, with its marketing state, as the profile agent keeps them."""

    def __init__(self, user_id: str = "u1") -> None:
        self.user_id = user_id
        self.profile: UserProfile | None = None
        self.state: MarketingState | None = None
        self.offset = 0

    def click(self, type: str, ts: float, **fields: Any) -> None:
        self.offset += 1
        click = ClickEvent(event_id=f"e{self.offset}", user_id=self.user_id, type=type, ts=ts, **fields)
        self.profile = fold_click(self.profile, click, SourceRef("clicks", 0, self.offset)).profile
        self.state = schedule(self.state, self.profile, 0, CFG)

    def due(self, now: float) -> tuple[list[MarketingTrigger], list[tuple[str, str]]]:
        if self.state is None:
            return [], []
        decision = due_triggers(self.state, self.profile, now, CFG)
        self.state = decision.state
        return decision.triggers, decision.refused

    def review(self, review_id: str, sentiment: str, at: float, language: str = "en") -> list[MarketingTrigger]:
        self.offset += 1
        insight = make_insight(review_id, user_id=self.user_id, sentiment=sentiment, at=at, language=language,
                               score=0.9 if sentiment == "positive" else -0.7,
                               intent="praise" if sentiment == "positive" else "complaint")
        assert self.profile is not None
        self.profile = fold_insight(self.profile, insight, SourceRef("insights", 0, self.offset)).profile
        decision = thank_you_trigger(self.state, self.profile, insight_facts(insight), 0, CFG)
        self.state = decision.state
        return decision.triggers


def add_to_cart(c: Customer, ts: float, product_id: str = "p1") -> None:
    c.click("view", ts - 60, product_id=product_id, category="kitchen", brand="Acme", price=30.0)
    c.click("add_to_cart", ts, product_id=product_id, category="kitchen", brand="Acme", price=30.0, quantity=2)


# ----------------------------------------------------------------------------------------------- abandoned cart


def test_abandoned_cart_fires_once_after_the_wait_and_carries_the_cart_only() -> None:
    c = Customer()
    add_to_cart(c, T0)
    assert c.due(T0 + HOUR - 1) == ([], [])  # a near miss: one second early
    triggers, refused = c.due(T0 + HOUR)
    assert [t.kind for t in triggers] == ["abandoned_cart"] and refused == []
    trigger = triggers[0]
    assert trigger.items == [{"product_id": "p1", "qty": 2, "price": 30.0}]
    assert trigger.interests == ["kitchen"] and trigger.brands == ["Acme"]
    assert trigger.message_id == message_id("u1", "abandoned_cart", f"{T0:.3f}")
    assert c.due(T0 + 2 * HOUR) == ([], [])  # the occasion is used up


def test_a_purchase_before_the_wait_cancels_the_reminder() -> None:
    c = Customer()
    add_to_cart(c, T0)
    c.click("purchase", T0 + 600, product_id="p1", price=30.0, quantity=2, order_id="o1")
    assert c.due(T0 + 2 * HOUR) == ([], [])


def test_a_cart_change_restarts_the_wait() -> None:
    c = Customer()
    add_to_cart(c, T0)
    add_to_cart(c, T0 + 1800, product_id="p2")
    assert c.due(T0 + HOUR) == ([], [])
    triggers, _ = c.due(T0 + 1800 + HOUR)
    assert [t.kind for t in triggers] == ["abandoned_cart"] and len(triggers[0].items) == 2


def test_opted_out_customer_gets_nothing_and_opting_in_again_is_honoured() -> None:
    c = Customer()
    c.click("marketing_opt_out", T0 - 10)
    add_to_cart(c, T0)
    assert c.due(T0 + HOUR) == ([], [("abandoned_cart", "opted_out")])
    c.click("marketing_opt_in", T0 + 2 * HOUR)
    add_to_cart(c, T0 + 2 * HOUR, product_id="p3")
    triggers, _ = c.due(T0 + 3 * HOUR)
    assert [t.kind for t in triggers] == ["abandoned_cart"]


# ------------------------------------------------------------------------------------------------------ win-back


def test_win_back_after_a_long_silence_for_a_repeat_customer_only() -> None:
    one_order = Customer("u1")
    one_order.click("purchase", T0, product_id="p1", price=10.0, quantity=1, order_id="o1")
    assert one_order.due(T0 + 31 * DAY) == ([], [])  # one order is not "once active"
    regular = Customer("u2")
    regular.click("purchase", T0, product_id="p1", price=10.0, quantity=1, order_id="o1")
    regular.click("purchase", T0 + DAY, product_id="p2", price=10.0, quantity=1, order_id="o2")
    assert regular.due(T0 + 31 * DAY - 1) == ([], [])
    triggers, _ = regular.due(T0 + 31 * DAY)
    assert [t.kind for t in triggers] == ["win_back"]


def test_a_new_order_moves_the_win_back_date() -> None:
    c = Customer()
    for i in range(2):
        c.click("purchase", T0 + i * DAY, product_id="p1", price=10.0, quantity=1, order_id=f"o{i}")
    c.click("purchase", T0 + 20 * DAY, product_id="p1", price=10.0, quantity=1, order_id="o3")
    assert c.due(T0 + 31 * DAY) == ([], [])
    assert [t.kind for t in c.due(T0 + 50 * DAY)[0]] == ["win_back"]


# ----------------------------------------------------------------------------------------------------- thank-you


def test_thank_you_after_a_positive_review_in_the_review_language() -> None:
    c = Customer()
    c.click("view", T0, product_id="p1", category="audio", brand="Globex", price=50.0)
    triggers = c.review("r1", "positive", T0 + 60, language="zh")
    assert [(t.kind, t.language, t.reviewed_product_id) for t in triggers] == [("thank_you", "zh", "p1")]
    assert c.review("r2", "negative", T0 + 120) == []


def test_frequency_cap_and_no_second_message_for_the_same_occasion() -> None:
    c = Customer()
    c.click("view", T0, product_id="p1", category="audio", price=50.0)
    assert len(c.review("r1", "positive", T0 + 60)) == 1
    assert len(c.review("r2", "positive", T0 + 120)) == 1
    assert c.review("r3", "positive", T0 + 180) == []  # third within 7 days: capped
    assert len(c.review("r4", "positive", T0 + 8 * DAY)) == 1  # the window moved on
    assert c.profile is not None and c.state is not None
    again = make_insight("r4", score=0.9, intent="praise", at=T0 + 8 * DAY)
    trigger = thank_you_trigger(None, c.profile, insight_facts(again), 0, CFG).triggers[0]
    assert admit(c.state, c.profile, trigger, CFG)[1] == "already_sent"


def test_the_cap_holds_when_reviews_arrive_out_of_event_time_order() -> None:
    c = Customer()
    c.click("view", T0, product_id="p1", category="audio", price=50.0)
    sent = [len(c.review(rid, "positive", at)) for rid, at in [("r3", T0 + 3 * HOUR), ("r1", T0 + HOUR),
                                                                ("r2", T0 + 2 * HOUR)]]
    assert sent == [1, 1, 0]


# -------------------------------------------------------------------------------------------------------- writer


def trigger(kind: str = "abandoned_cart", language: str = "en") -> MarketingTrigger:
    return MarketingTrigger(message_id="m1", user_id="u1", kind=kind, at=T0, language=language, segment="loyal",
                            interests=["kitchen"], brands=["Acme"], items=[{"product_id": "p1", "qty": 2}])


def test_the_prompt_holds_profile_facts_only_as_delimited_data() -> None:
    messages = build_marketing_messages(trigger())
    assert "'en'" in messages[0]["content"] and "u1" not in str(messages)
    assert messages[1]["content"].startswith("<<<CUSTOMER_DATA") and '"kitchen"' in messages[1]["content"]


@pytest.mark.parametrize("content", [
    "not json", '["a"]', '{"subject": "", "body": "x"}', '{"subject": "Hi", "body": "Use code SAVE20 for 20% off"}',
    '{"subject": "Hi", "body": "Visit https://evil.example"}', '{"subject": "Hi", "body": "Call +1 415 555 0100"}',
    '{"subject": "Hi", "body": "' + "x" * 2000 + '"}',
])
def test_replies_breaking_the_rules_are_refused(content: str) -> None:
    with pytest.raises(InvalidReply):
        parse_marketing_reply(content)


def test_a_good_reply_is_accepted() -> None:
    assert parse_marketing_reply('{"subject": "Still thinking?", "body": "Your cart is waiting."}') == \
        ("Still thinking?", "Your cart is waiting.")


@pytest.mark.parametrize(("kind", "language", "needle"), [("abandoned_cart", "en", "2 item"),
                                                         ("abandoned_cart", "zh", "2 件"),
                                                         ("win_back", "en", "kitchen"), ("thank_you", "zh", "感谢")])
def test_templates_speak_the_customer_language(kind: str, language: str, needle: str) -> None:
    subject, body = template_text(trigger(kind, language))
    assert subject and needle in body


async def test_without_an_llm_the_template_answers_and_says_so() -> None:
    message = await MessageWriter(None, clock=lambda: T0 + 5).write(trigger())
    assert message.generated_by == "template" and message.model is None and message.created_at == T0 + 5
    assert (message.subject, message.body) == template_text(trigger())


def test_the_simulator_answers_marketing_requests_from_the_data_block() -> None:
    reply = simulate_marketing_reply(build_marketing_messages(trigger())[1]["content"])
    parse_marketing_reply(orjson.dumps(reply).decode())
    assert "2 item" in reply["body"]
