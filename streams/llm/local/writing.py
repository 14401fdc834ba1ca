"""The summary and the customer-service reply draft, from templates in the review's language.

Both are composed from what the rules found (sentiment, aspects, issues, intent), never from the review's own words:
the text may still hold something personal that redaction missed, and a template cannot leak it. The reply never
promises a refund, compensation or any outcome; it acknowledges, gives safety advice where needed, and routes the
customer to the support team, which is all a machine-written draft may commit a shop to.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

from streams.llm.local.lexicons import ASPECTS, ISSUE_LABELS

__all__ = ["Findings", "needs_reply", "write_reply", "write_summary"]

SUMMARY_MAX: Final = 300
REPLY_INTENTS: Final = frozenset({"complaint", "question", "return_request"})


@dataclass(frozen=True, slots=True)
class Findings:
    language: str  # "zh" writes Chinese, anything else English
    sentiment: str
    intent: str
    liked: Sequence[str]  # aspect names with positive sentiment
    disliked: Sequence[str]
    mentioned: Sequence[str]  # every aspect, in text order
    issues: Sequence[str]
    competitors: Sequence[str]


def _zh(findings: Findings) -> bool:
    return findings.language == "zh"


def _aspect_names(names: Sequence[str], zh: bool, limit: int = 3) -> str:
    # Names from an LLM may be outside the lexicon: those are written as they came.
    labels = [ASPECTS[n].zh_label if zh and n in ASPECTS else n for n in names[:limit]]
    return "、".join(labels) if zh else ", ".join(labels)


def _issue_names(issues: Sequence[str], zh: bool) -> str:
    labels = [ISSUE_LABELS[i]["zh" if zh else "en"] for i in issues if i in ISSUE_LABELS]
    return "、".join(labels) if zh else ", ".join(labels)


# (sentiment) -> (English lead, Chinese lead)
_LEADS: Final[dict[str, tuple[str, str]]] = {
    "positive": ("Positive review", "好评"),
    "negative": ("Negative review", "差评"),
    "mixed": ("Mixed review", "褒贬不一"),
    "neutral": ("Neutral review", "中性评价"),
}


def write_summary(f: Findings) -> str:
    zh = _zh(f)
    lead = _LEADS.get(f.sentiment, _LEADS["neutral"])[1 if zh else 0]
    liked, disliked = _aspect_names(f.liked, zh), _aspect_names(f.disliked, zh)
    about = _aspect_names(f.mentioned, zh) or ("产品" if zh else "the product")
    issues = _issue_names(f.issues, zh)
    if f.intent == "return_request":
        reason = issues or about
        text = f"顾客希望退换货（{reason}）。" if zh else f"Customer wants to return the product ({reason})."
    elif f.intent == "question":
        text = f"顾客咨询{about}相关问题。" if zh else f"Customer asks a question about {about}."
    elif f.intent == "suggestion":
        text = f"顾客对{about}提出建议。" if zh else f"Customer suggests improvements to {about}."
    elif f.sentiment == "mixed":
        parts = ([f"满意{liked}" if zh else f"likes {liked}"] if liked else []) + \
                ([f"不满{disliked}" if zh else f"dislikes {disliked}"] if disliked else [])
        if not parts:
            text = f"{lead}。" if zh else f"{lead}."
        else:
            text = f"{lead}：{'，'.join(parts)}。" if zh else f"{lead}: {'; '.join(parts)}."
    elif f.sentiment == "positive":
        text = (f"{lead}：称赞{liked}。" if liked else f"{lead}。") if zh else \
               (f"{lead} praising {liked}." if liked else f"{lead}.")
    elif f.sentiment == "negative" or f.intent == "complaint":
        target = disliked or about
        text = f"{lead}：对{target}不满" if zh else f"{lead}: unhappy with {target}"
        text += (f"，问题：{issues}。" if zh else f"; issues: {issues}.") if issues else ("。" if zh else ".")
    else:
        text = f"{lead}，提及{about}。" if zh else f"{lead} mentioning {about}."
    if "safety" in f.issues:
        text = ("安全隐患！" if zh else "Safety concern! ") + text
    if f.competitors:
        names = ", ".join(f.competitors[:3])
        text += f"提及{names}。" if zh else f" Mentions {names}."
    return text[:SUMMARY_MAX]


def needs_reply(f: Findings) -> bool:
    return f.intent in REPLY_INTENTS or f.sentiment == "negative" or "safety" in f.issues


# Sentence templates: (English, Chinese). {topic} is filled with aspect or issue names.
_OPEN: Final = {"question": ("Thank you for your question.", "感谢您的提问。"),
                "default": ("Thank you for taking the time to share your feedback.", "感谢您抽空留下评价。")}
_SORRY: Final = ("We are sorry to hear about the trouble with {topic}.", "很抱歉您在{topic}方面遇到了问题。")
_SORRY_GENERIC: Final = ("We are sorry to hear that your experience was not what you expected.",
                         "很抱歉这次的体验没有达到您的期望。")
_SAFETY: Final = ("For your safety, please stop using the product and disconnect it from power. Our support team "
                  "will treat this as a priority and contact you to understand what happened.",
                  "为了您的安全，请立即停止使用该产品并断开电源。我们的客服团队会优先处理，并与您联系了解具体情况。")
_FRAUD: Final = ("We take concerns about authenticity seriously; please send us your order details so we can "
                 "investigate.", "我们非常重视您对产品真伪的疑虑，请提供订单信息，以便我们核实。")
_RETURN: Final = ("Please contact our customer service team with your order number; they will explain the return "
                  "options that apply to your order.",
                  "请联系我们的客服并提供订单号，客服会为您说明适用于该订单的售后流程。")
_QUESTION: Final = ("Our support team will get back to you with an answer about {topic} as soon as possible.",
                    "我们的客服会尽快就{topic}的问题为您解答。")
_CONTACT: Final = ("Please contact our customer service team with your order details so we can look into it.",
                   "请联系我们的客服并提供订单信息，我们会尽快核实情况。")
_CLOSE: Final = ("Best regards, Customer Service", "祝您生活愉快！客服团队")


def write_reply(f: Findings) -> str | None:
    """A polite draft for a human agent to check, or None when the review needs no reply (plain praise)."""
    if not needs_reply(f):
        return None
    zh = _zh(f)
    pick = 1 if zh else 0
    # The aspects the customer was unhappy with, in their words' terms; else the kind of issue; else what they named.
    topic = (_aspect_names(f.disliked, zh) or _issue_names([i for i in f.issues if i != "other"], zh)
             or _aspect_names(f.mentioned, zh))
    lines = [_OPEN["question" if f.intent == "question" else "default"][pick]]
    if f.intent != "question" or any(i != "other" for i in f.issues):
        lines.append(_SORRY[pick].format(topic=topic) if topic else _SORRY_GENERIC[pick])
    if "safety" in f.issues:
        lines.append(_SAFETY[pick])
    if "fraud" in f.issues:
        lines.append(_FRAUD[pick])
    if f.intent == "return_request":
        lines.append(_RETURN[pick])
    elif f.intent == "question":
        lines.append(_QUESTION[pick].format(topic=topic or ("该产品" if zh else "the product")))
    elif "safety" not in f.issues:
        lines.append(_CONTACT[pick])
    lines.append(_CLOSE[pick])
    return ("" if zh else " ").join(lines)
