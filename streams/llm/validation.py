"""Checks every model reply before it can become an insight: schema, and evidence quoted from the review.

A reply that fails is never published as is: `validate_analysis` raises `InvalidReply` (the caller retries or falls
back) and quietly drops aspects whose evidence is not in the text, because a made-up quote is worse than none.
Evidence is a quote of at least one whole word: "a" or "t" occurs in any English review and "很" in any Chinese one,
and "leak" inside "sleaky" proves nothing. The output guard (`streams.llm.output_guard`) applies the same check to
every analyzer's answer, the offline one included.
"""

from __future__ import annotations

import functools
import re
import unicodedata
from typing import Any, Final

import jsonschema
import orjson

from models.insight import ReviewAnalysis
from models.schemas import load_schema
from streams.llm.errors import InvalidReply

__all__ = [
    "analysis_validator",
    "decode_and_validate",
    "evidence_is_quoted",
    "normalise_for_match",
    "validate_analysis",
]

_SPACES = re.compile(r"\s+")


@functools.cache
def analysis_validator() -> jsonschema.protocols.Validator:
    schema = load_schema("review_analysis")
    cls = jsonschema.validators.validator_for(schema)
    cls.check_schema(schema)
    validator: jsonschema.protocols.Validator = cls(schema)
    return validator


def normalise_for_match(text: str) -> str:
    """Case-, width- and whitespace-insensitive form used to check that evidence is a quote."""
    return _SPACES.sub(" ", unicodedata.normalize("NFKC", text)).strip().casefold()


_QUOTE_TRIM: Final = " .,!?;:\"'。，！？；：“”‘’…"


def _latin_alnum(ch: str) -> bool:
    """A letter or digit of a script that spaces its words (Latin, Greek, Cyrillic…): quotes must not cut one."""
    return ch.isalnum() and not ("\u3040" <= ch <= "\u9fff" or "\uac00" <= ch <= "\ud7af" or "\uf900" <= ch <= "\ufaff")


def evidence_is_quoted(evidence: str, text: str) -> bool:
    """Whether `evidence` is a verbatim quote of `text` made of whole words, at least two letters long.

    >>> evidence_is_quoted("battery died", "The battery died fast"), evidence_is_quoted("a", "a bad kettle")
    (True, False)
    >>> evidence_is_quoted("attery", "The battery died"), evidence_is_quoted("电池", "电池不行")
    (False, True)
    """
    needle = normalise_for_match(evidence).strip(_QUOTE_TRIM)
    if sum(ch.isalnum() for ch in needle) < 2:
        return False
    haystack = normalise_for_match(text)
    cut_start, cut_end = _latin_alnum(needle[0]), _latin_alnum(needle[-1])
    at = haystack.find(needle)
    while at >= 0:
        end = at + len(needle)
        starts_word = not (cut_start and at > 0 and _latin_alnum(haystack[at - 1]))
        ends_word = not (cut_end and end < len(haystack) and _latin_alnum(haystack[end]))
        if starts_word and ends_word:
            return True
        at = haystack.find(needle, at + 1)
    return False


def validate_analysis(data: Any, text: str) -> ReviewAnalysis:
    """Validate a decoded model reply against the schema and the review text; raise `InvalidReply` if unusable."""
    if not isinstance(data, dict):
        raise InvalidReply(f"reply is a {type(data).__name__}, expected a JSON object")
    errors = sorted(analysis_validator().iter_errors(data), key=lambda e: list(e.absolute_path))
    if errors:
        first = errors[0]
        where = "/".join(str(p) for p in first.absolute_path) or "(root)"
        raise InvalidReply(f"reply does not match the ReviewAnalysis schema at {where}: {first.message[:200]}")
    data = dict(data)
    data["aspects"] = [a for a in data["aspects"] if evidence_is_quoted(a["evidence"], text)]
    return ReviewAnalysis.from_data(data)


def decode_and_validate(content: str | None, text: str) -> ReviewAnalysis:
    """Decode a model's JSON reply and validate it as the analysis of `text`; raise `InvalidReply` if unusable."""
    if content is None:
        raise InvalidReply("the reply was empty or cut off before the JSON object ended")
    try:
        data = orjson.loads(content)
    except orjson.JSONDecodeError as exc:
        raise InvalidReply(f"the reply is not JSON ({exc}); it starts with {content[:60]!r}") from None
    return validate_analysis(data, text)
