"""What the simulated model answers to a marketing request: the template for the data block's facts."""

from __future__ import annotations

from typing import Any

import orjson

from models.marketing import MarketingTrigger

# The writer's own delimiters and template: the simulated answer is what the writer would fall back to.
from streams.llm.marketing_writer import _DATA_CLOSE, _DATA_OPEN, template_text

__all__ = ["simulate_marketing_reply"]


def simulate_marketing_reply(user_content: str) -> dict[str, Any]:
    """The simulator's answer to a marketing request: the template for the data block's facts (deterministic)."""
    start, end = user_content.find(_DATA_OPEN), user_content.rfind(_DATA_CLOSE)
    try:
        facts = orjson.loads(user_content[start + len(_DATA_OPEN):end]) if 0 <= start < end else {}
    except orjson.JSONDecodeError:
        facts = {}
    trigger = MarketingTrigger(
        message_id="sim", user_id="sim", kind=str(facts.get("occasion") or "thank_you"), at=0.0, language="en",
        segment=str(facts.get("segment") or ""), interests=list(facts.get("interest_categories") or []),
        brands=list(facts.get("interest_brands") or []),
        items=[{"product_id": i.get("product_id"), "qty": i.get("quantity") or 1}
               for i in facts.get("cart_items") or []],
    )
    subject, body = template_text(trigger)
    return {"subject": subject, "body": body}
