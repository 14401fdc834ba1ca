"""JSON Schemas of every record on the wire, for consumers; `load_schema("review_insight")` reads one."""

from __future__ import annotations

import functools
import json
from importlib import resources
from typing import Any

__all__ = ["SCHEMA_NAMES", "load_schema"]

SCHEMA_NAMES = (
    "review", "review_analysis", "review_insight", "dead_letter",
    "click", "user_profile", "session", "product_sentiment", "alert", "marketing_message",
    "erasure_request", "erasure_audit", "review_integrity",
)


@functools.cache
def _load(name: str) -> str:
    if name not in SCHEMA_NAMES:
        raise KeyError(f"no schema named {name!r}; known: {', '.join(SCHEMA_NAMES)}")
    return resources.files(__package__).joinpath(f"{name}.schema.json").read_text("utf-8")


def load_schema(name: str) -> dict[str, Any]:
    """Return a fresh copy of the named schema (callers may change it)."""
    schema: dict[str, Any] = json.loads(_load(name))
    return schema
