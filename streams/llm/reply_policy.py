"""What every customer-service reply draft must satisfy, whoever wrote it (the LLM or the offline templates).

1. A review that needs a reply (a complaint, a question, a return request, a negative review, a safety report) has
   one: a model that left `suggested_reply` null gets the template draft for what it found.
2. The draft promises no refund, compensation, replacement, discount or voucher unless the shop configured that
   (`REVIEWSTREAM_REPLY_ALLOW_CONCESSIONS`): a model's draft that mentions one is replaced by the template draft,
   which addresses the same aspects and issues in the review's language and routes the customer to the support team.
   Mentioning is enough: "we cannot refund" and "we will refund" look alike to a regular expression, and a draft a
   human sends must not be one word away from a promise.
"""

from __future__ import annotations

import re
from typing import Final, Literal

from models.insight import ReviewAnalysis, ReviewInsight
from streams.llm.local.writing import Findings, needs_reply, write_reply

__all__ = ["CONCESSION", "enforce_reply_policy", "findings_of"]

CONCESSION: Final = re.compile(
    r"\b(?:refund(?:s|ed|ing)?|reimburs\w*|compensat\w*|money back|full return of|free (?:replacement|"
    r"of charge)|replace(?:ment)? (?:at no|free)|discount\w*|voucher\w*|coupon\w*|store credit|gift card|"
    r"credit (?:your|the) account)\b|退款|退钱|赔偿|补偿|赔付|返现|优惠券|代金券|折扣|免费(?:更换|换|补发)|包退",
    re.IGNORECASE,
)

Action = Literal["kept", "filled", "rewritten"]


def findings_of(insight: ReviewInsight | ReviewAnalysis) -> Findings:
    """What the templates need, from the closed and checked fields only (never the model's free text)."""
    aspects = insight.aspects
    return Findings(
        language=insight.language, sentiment=insight.sentiment, intent=insight.intent,
        liked=[a.name for a in aspects if a.sentiment == "positive"],
        disliked=[a.name for a in aspects if a.sentiment == "negative"],
        mentioned=[a.name for a in aspects], issues=list(insight.issues), competitors=list(insight.competitors),
    )


def enforce_reply_policy(insight: ReviewInsight, *, allow_concessions: bool = False) -> tuple[ReviewInsight, Action]:
    """The insight with a reply draft that satisfies the policy, and what was done to it."""
    reply = insight.suggested_reply
    findings = findings_of(insight)
    if reply is None or not reply.strip():
        if not needs_reply(findings):
            return insight, "kept"
        return _with_reply(insight, write_reply(findings)), "filled"
    if not allow_concessions and CONCESSION.search(reply):
        return _with_reply(insight, write_reply(findings) or None), "rewritten"
    return insight, "kept"


def _with_reply(insight: ReviewInsight, reply: str | None) -> ReviewInsight:
    return insight.derive(suggested_reply=reply)
