"""The text the detectors read, and the way back to the original's offsets.

>>> v = view_of("电话：１３８\u200b1234 5678")
>>> v.text
'电话:1381234 5678'
>>> v.original_span(3, 15)
(3, 16)

The view is the original with, character by character:
- NFKC applied where it yields one character (full-width digits and letters, `＠`, `．`, ideographic space,
  circled digits…), so one pattern reads `１３８` and `138` alike;
- every dash (‐ ‑ ‒ – — − －) as `-`;
- runs of seven or more Chinese numerals (`一三八一二三四五六七八`, also mixed with digits) as ASCII digits, which is
  how people spell a phone number past a filter;
- zero-width and bidi control characters removed (the only change of length; the offsets map back).

Per character and never by composition (NFKC of "e" + U+0301 would merge two characters into one): the view then
keeps one position per original character, so a span found in the view replaces exactly the original characters
it came from, and everything outside the personal data comes back untouched.
"""

from __future__ import annotations

import functools
import re
import unicodedata
from dataclasses import dataclass
from typing import Final

__all__ = ["View", "mentions", "view_of"]

_DASHES: Final = "‐‑‒–—―−﹘﹣－"
_ZERO_WIDTH: Final = re.compile("[\u00ad\u180e\u200b-\u200f\u202a-\u202e\u2060-\u2064\u2066-\u2069\ufeff]")
_CN_DIGITS: Final = {"零": "0", "〇": "0", "一": "1", "幺": "1", "二": "2", "两": "2", "三": "3", "四": "4",
                     "五": "5", "六": "6", "七": "7", "八": "8", "九": "9"}
_CN_DIGIT_CLASS: Final = "0-9" + "".join(_CN_DIGITS)
# Seven numerals at least (a Chinese local number has 7–8 digits): "三十五" or "一二三" in prose stays as it is.
_CN_NUMERAL_RUN: Final = re.compile(rf"[{_CN_DIGIT_CLASS}](?:[ .-]?[{_CN_DIGIT_CLASS}]){{6,}}")
_HAS_CN_DIGIT: Final = re.compile(f"[{''.join(_CN_DIGITS)}]")
_CN_TO_ASCII: Final = str.maketrans(_CN_DIGITS)


@functools.cache
def _table() -> dict[int, str]:
    """Every BMP character whose NFKC form is one other character, plus the dashes; built once (~20 ms)."""
    table: dict[int, str] = {}
    for cp in range(0xA0, 0x10000):
        if 0xD800 <= cp < 0xE000:
            continue
        ch = chr(cp)
        nfkc = unicodedata.normalize("NFKC", ch)
        if len(nfkc) == 1 and nfkc != ch:
            table[cp] = nfkc
    for ch in _DASHES:
        table[ord(ch)] = "-"
    return table


@dataclass(frozen=True, slots=True)
class View:
    """`text` for the detectors; `origin[i]` is the original index of `text[i]` (None: the same index)."""

    text: str
    origin: tuple[int, ...] | None = None

    def original_span(self, start: int, end: int) -> tuple[int, int]:
        if self.origin is None:
            return start, end
        return self.origin[start], self.origin[end - 1] + 1


def _numerals_to_digits(m: re.Match[str]) -> str:
    run = m.group(0)
    return run.translate(_CN_TO_ASCII) if _HAS_CN_DIGIT.search(run) else run


def view_of(text: str) -> View:
    if text.isascii():
        return View(text)
    view = text.translate(_table())
    if _HAS_CN_DIGIT.search(view):
        view = _CN_NUMERAL_RUN.sub(_numerals_to_digits, view)
    if not _ZERO_WIDTH.search(view):
        return View(view)
    kept = [i for i, ch in enumerate(view) if not _ZERO_WIDTH.match(ch)]
    return View("".join(view[i] for i in kept), tuple(kept))


@functools.lru_cache(maxsize=64)
def _any_of(words: tuple[str, ...]) -> re.Pattern[str]:
    return re.compile("|".join(re.escape(w) for w in words))


def mentions(text: str, words: tuple[str, ...]) -> bool:
    """Whether any of `words` occurs in `text`: the cheap test before a pattern that cannot match without one.

    One alternation of plain literals (the engine skips ahead on their first characters), twice as fast as a loop of
    substring tests; the costly patterns it guards are case-insensitive alternations tried at every character.
    """
    return _any_of(words).search(text) is not None
