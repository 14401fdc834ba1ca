"""Removes personal data from text before it leaves the process (to an LLM, a log line, a dead letter), and from
what a model writes before it is published (`streams.llm.output_guard`).

>>> r = redact("Call me at +1 415 555 0100 or mail jo＠example.com, it cost $25.99")
>>> r.text
'Call me at [PHONE] or mail [EMAIL], it cost $25.99'
>>> r.kinds
('email', 'phone')

Kinds and placeholders (the kind labels the `reviewstream_pii_redactions_total` metric, so the set is closed):

    email → [EMAIL]     phone → [PHONE]      cn_id → [ID]          ssn → [ID]            bank_card → [CARD]
    address → [ADDRESS] url → [URL]          ip → [IP]             chat_id → [CHAT_ID]   name → [NAME]
    postcode → [POSTCODE]

Design, and why:

1. **One normalised view, original text out.** The detectors read a view of the text in which every character is
   replaced by its NFKC form when that is one character (full-width `１３８`, `＠`, `．`), dashes are `-`, long runs
   of Chinese numerals are digits and zero-width characters are gone (`_view.py`). Spans found in the view are
   mapped back, and only those spans of the ORIGINAL text are replaced: the review that reaches the model keeps
   its own punctuation, width and spelling everywhere else.
2. **Structure and context, not bare digit counts.** Precision matters as much as recall: a review whose price,
   date, order number or product model was blanked out loses the very facts the analysis needs. Each detector is
   anchored on something ordinary numbers and words lack: a checksum or an ID layout, a phone number that
   `phonenumbers` validates for its region and that is written as a phone number, an `@` or its spelled-out forms,
   a scheme, a street type after a house number, a Chinese building/flat marker, a cue that introduces a name or a
   messenger id. The words right before a number decide between readings ("card number:" → a card even with a bad
   checksum; "order no." → an order number even with an ID's layout).
3. **Fixed priority, no overlaps.** Detectors run in the order links, e-mail, IP, messenger id, numbers (ID,
   card, phone), addresses, postcodes, names; a later span that overlaps an earlier one is dropped, so a URL that
   holds digits is one [URL], and an address is not cut by the phone number inside it.
4. **Idempotent.** Placeholders hold no digits, no `@` and no cue words, so redacting redacted text finds nothing.
5. **Cheap when there is nothing to find.** Each family first checks for what it cannot do without (a digit, `@`,
   `/`, a cue word); a review of plain words costs a few regex scans. `python -m bench.redaction` measures it.

Names are found only where the text introduces them ("my name is", "我叫", "Dear …,"): a model that echoes a name
the review merely mentions is caught by the output guard's own checks, not here.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Final

from streams.llm.redaction._contacts import COMMON_TLDS, find_contacts
from streams.llm.redaction._names import find_names
from streams.llm.redaction._numbers import find_numbers, luhn_ok, valid_cn_id
from streams.llm.redaction._places import find_places
from streams.llm.redaction._view import view_of

__all__ = ["COMMON_TLDS", "KINDS", "PLACEHOLDERS", "Redacted", "luhn_ok", "redact", "valid_cn_id"]

PLACEHOLDERS: Final[dict[str, str]] = {
    "email": "[EMAIL]",
    "phone": "[PHONE]",
    "cn_id": "[ID]",
    "ssn": "[ID]",
    "bank_card": "[CARD]",
    "address": "[ADDRESS]",
    "url": "[URL]",
    "ip": "[IP]",
    "chat_id": "[CHAT_ID]",
    "name": "[NAME]",
    "postcode": "[POSTCODE]",
}
KINDS: Final[tuple[str, ...]] = tuple(sorted(PLACEHOLDERS))


@dataclass(frozen=True, slots=True)
class Redacted:
    """Redacted text and the sorted, unique kinds of personal data that were removed from it."""

    text: str
    kinds: tuple[str, ...] = ()


_HAS_DIGIT: Final = re.compile(r"\d")


def _claim(spans: list[tuple[int, int, str]], found: Iterable[tuple[int, int, str]]) -> None:
    """Add each found span that overlaps none already taken (earlier detectors win)."""
    for start, end, kind in found:
        if end > start and all(end <= s or start >= e for s, e, _ in spans):
            spans.append((start, end, kind))


def redact(text: str) -> Redacted:
    """Replace personal data with placeholders; everything else comes back exactly as it was.

    >>> redact("收货地址：北京市朝阳区建国路88号，电话一三八一二三四五六七八").text
    '收货地址：[ADDRESS]，电话[PHONE]'
    """
    view = view_of(text)
    v = view.text
    spans: list[tuple[int, int, str]] = []
    _claim(spans, find_contacts(v))
    if _HAS_DIGIT.search(v):
        _claim(spans, find_numbers(v))
    _claim(spans, find_places(v))
    _claim(spans, find_names(v))
    if not spans:
        return Redacted(text=text)
    parts: list[str] = []
    pos = 0
    for start, end, kind in sorted(spans):
        start, end = view.original_span(start, end)
        parts.append(text[pos:start])
        parts.append(PLACEHOLDERS[kind])
        pos = end
    parts.append(text[pos:])
    return Redacted(text="".join(parts), kinds=tuple(sorted({kind for _, _, kind in spans})))
