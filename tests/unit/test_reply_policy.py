"""Reply drafts: present where a reply is needed, in the review's language, never promising a concession."""

from __future__ import annotations

from collections.abc import Sequence

import pytest

from models.insight import ReviewAnalysis, ReviewInsight
from streams.llm.reply_policy import CONCESSION, enforce_reply_policy


def insight(reply: str | None, *, intent: str = "complaint", sentiment: str = "negative", language: str = "en",
            aspects: Sequence[tuple[str, str]] = (("battery", "negative"),),
            issues: Sequence[str] = ("quality",)) -> ReviewInsight:
    analysis = ReviewAnalysis.from_data({
        "sentiment": sentiment, "sentiment_score": -0.6 if sentiment == "negative" else 0.7,
        "aspects": [{"name": n, "sentiment": s, "evidence": n} for n, s in aspects], "intent": intent,
        "urgency": "medium", "issues": list(issues), "competitors": [], "summary": "s", "suggested_reply": reply,
        "language": language,
    })
    return ReviewInsight.build(review_id="r1", user_id="u1", product_id="p1", analysis=analysis, model="m",
                               degraded=False, redacted=[], rating=None, review_created_at=None, analyzed_at=1.0)


@pytest.mark.parametrize("reply", [
    "We are sorry. We will refund your order in full.", "We'll send you a free replacement right away.",
    "Please accept a 20% discount on your next order.", "很抱歉，我们会为您办理退款。", "我们将给予您赔偿。",
])
def test_a_draft_promising_a_concession_is_rewritten(reply: str) -> None:
    fixed, action = enforce_reply_policy(insight(reply, language="zh" if "我" in reply else "en"))
    assert action == "rewritten"
    assert fixed.suggested_reply and not CONCESSION.search(fixed.suggested_reply)
    assert ("电池" in fixed.suggested_reply) if "我" in reply else ("battery" in fixed.suggested_reply)


def test_concessions_are_kept_when_the_shop_allows_them() -> None:
    reply = "We will refund your order."
    assert enforce_reply_policy(insight(reply), allow_concessions=True) == (insight(reply), "kept")


def test_a_good_draft_is_kept_as_written() -> None:
    reply = "We are sorry about the battery. Our team will contact you."
    fixed, action = enforce_reply_policy(insight(reply))
    assert action == "kept" and fixed.suggested_reply == reply


@pytest.mark.parametrize("intent", ["complaint", "question", "return_request"])
def test_a_missing_draft_is_filled_when_a_reply_is_needed(intent: str) -> None:
    fixed, action = enforce_reply_policy(insight(None, intent=intent))
    assert action == "filled" and fixed.suggested_reply


def test_plain_praise_needs_no_reply() -> None:
    praise = insight(None, intent="praise", sentiment="positive", aspects=(("battery", "positive"),), issues=())
    assert enforce_reply_policy(praise) == (praise, "kept")


def test_aspects_outside_the_lexicon_do_not_break_the_template() -> None:
    odd = insight("We will refund you.", language="zh", aspects=(("flux capacitor", "negative"),), issues=())
    fixed, action = enforce_reply_policy(odd)
    assert action == "rewritten" and "flux capacitor" in (fixed.suggested_reply or "")
