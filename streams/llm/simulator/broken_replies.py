"""Replies that break the JSON contract, the ways a model or a proxy in front of it gets it wrong.

Each takes the valid answer (`answer.Answer.valid`: a `ReviewAnalysis` dict, or `{"items": [...]}` for a batch) and
returns the content to send instead. `random_invalid` picks a plausible mistake with the simulator's seeded RNG (the
`invalid_rate` fault); the others are the named fault modes of `SimulatorConfig.fault`.
"""

from __future__ import annotations

import json
import random
from typing import Any, Final

__all__ = ["HTML_ERROR_PAGE", "extra_fields", "huge", "random_invalid", "truncated", "wrong_schema"]

# What a proxy or load balancer answers, with status 200 and `Content-Type: text/html`, when the model behind it
# is down.
HTML_ERROR_PAGE: Final = ("<!DOCTYPE html><html><head><title>502 Bad Gateway</title></head>"
                          "<body><h1>Bad Gateway</h1><p>The upstream server is unavailable.</p></body></html>")


def _dumps(data: Any) -> str:
    return json.dumps(data, ensure_ascii=False)


def random_invalid(valid: dict[str, Any], batch: bool, rng: random.Random) -> str:
    """A plausible way for a model to get the contract wrong."""
    if batch:
        items = [dict(item) if isinstance(item, dict) else list(item) for item in valid["items"]]
        how = rng.choice(("unparsable", "drop_item", "break_item"))
        if how == "unparsable" or not items:
            return "Here are the analyses:\n" + _dumps(valid)
        if how == "drop_item":
            items.pop(rng.randrange(len(items)))
        else:
            broken = items[rng.randrange(len(items))]
            if isinstance(broken, dict):
                broken["s"] = "very positive"  # the sentiment code
            else:
                broken[1] = "very positive"
        return _dumps({"items": items})
    data = dict(valid)
    how = rng.choice(("prose", "fenced", "missing", "enum", "range", "extra", "truncated"))
    text = _dumps(data)
    if how == "prose":
        return "Sure! The customer seems " + str(data["sentiment"]) + " overall."
    if how == "fenced":
        return f"```json\n{text}\n```"
    if how == "truncated":
        return text[: max(1, len(text) // 2)]
    if how == "missing":
        data.pop("summary")
    elif how == "enum":
        data["sentiment"] = "very positive"
    elif how == "range":
        data["sentiment_score"] = 3.5
    else:
        data["hacked"] = True
    return _dumps(data)


def truncated(valid: dict[str, Any]) -> str:
    """The JSON cut off in the middle, although the server says it finished (`finish_reason: "stop"`)."""
    text = _dumps(valid)
    return text[: max(1, len(text) // 2)]


def wrong_schema(valid: dict[str, Any], batch: bool) -> str:
    """Valid JSON of another shape: what a model answers when it ignores the schema it was given."""
    if batch:
        return _dumps({"results": [{"review": n, "mood": "fine"} for n in range(len(valid["items"]))]})
    return _dumps({"review": {"mood": "fine", "stars": 4}, "confidence": "high"})


def extra_fields(valid: dict[str, Any], batch: bool) -> str:
    """The right answer with fields the strict schema does not allow, in every item of a batch."""
    if batch:
        items = [{**item, "extra": True} if isinstance(item, dict) else [*item, "extra"] for item in valid["items"]]
        return _dumps({"items": items, "model_notes": "all done"})
    return _dumps({**valid, "confidence": 0.9, "model_notes": "all done"})


def huge(valid: dict[str, Any], batch: bool, size: int) -> str:
    """A reply of about `size` bytes: the answer with summaries that never end (shared by a batch's items)."""
    if batch and valid["items"]:
        filler = "This review is about the product. " * (size // 34 // len(valid["items"]) + 1)
        return _dumps({"items": [{**item, "sum": filler} if isinstance(item, dict) else [*item[:8], filler, *item[9:]]
                                 for item in valid["items"]]})
    return _dumps({**valid, "summary": "This review is about the product. " * (size // 34 + 1)})
