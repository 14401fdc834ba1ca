"""Numbers that identify a person: Chinese resident ID numbers, payment cards, phone numbers.

>>> text = "Card #4111111111111111, tel 138.1234.5678"
>>> [(kind, text[s:e]) for s, e, kind in find_numbers(text)]
[('bank_card', '4111111111111111'), ('phone', '138.1234.5678')]

One scanner finds every run of digits, however it is split (spaces, dots, dashes, brackets around an area code, a
leading `+`); each run is then classified by what its digits are, not by how they were typed. A run that is
nothing as a whole (two numbers side by side: "call 138 1234 5678 2 pcs") is tried again group by group, longest
first.

- **ID number** (`cn_id`): 18 digits (the last may be X) or the 15 of the pre-1999 cards, laid out as a real
  province code, a birth date that exists, a sequence number. A wrong check digit is still an ID (a typo does
  not make it less personal), unless the words just before name it an order, tracking or serial number.
- **Card** (`bank_card`): 12–19 digits right after a word that names a card ("card number:", "Card #", "卡号"),
  whatever their checksum; otherwise only a card issuer's prefix with a valid Luhn checksum, typed in one piece or
  in the groups card numbers are printed in, and not after an order/tracking/serial word.
- **US Social Security number** (`ssn`, shown as `[ID]` too): 3-2-4 digits in the issued ranges.
- **Phone** (`phone`): validated with `phonenumbers` (Google's libphonenumber metadata: every region's numbering
  plan), never by a home-made list of prefixes. A run is a phone number when it is valid as an international
  number and was written as one (`+`, `00`, or a country code then a grouped national number), a Chinese mobile
  (with or without 86), a national number with its trunk 0 valid in one of the shop regions below, a North
  American number in its usual grouping, or any plausible length right after a word like "tel" or "电话".
  A run of digits with nothing of that is left alone: "2024010512" is a valid number in China and in the US, and
  an order number in a review.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterator
from typing import Final

import phonenumbers

__all__ = ["NATIONAL_REGIONS", "find_numbers", "luhn_ok", "valid_cn_id"]

# Regions whose national format (trunk 0) is tried for numbers written without a country code.
NATIONAL_REGIONS: Final = ("CN", "GB", "DE", "FR", "IT", "ES", "NL", "BE", "CH", "AT", "JP", "KR", "AU", "TW", "HK")

_GROUP: Final = r"(?:\(\+?\d{1,5}\)|\d+)"
_SEP: Final = r"(?:[ .\-]| - |  )"
# Runs never start inside a word ("SF1234567890123" is a tracking number, "iPhone15" a model) nor end in one.
_RUN: Final = re.compile(
    rf"(?<![A-Za-z0-9_+.\-])(?:(?P<plus>\+ ?)|(?=\((?P<bracketed_plus>\+)))?"
    rf"{_GROUP}(?:(?:{_SEP}|(?<=\))|(?=\()) ?{_GROUP})*"
    r"(?P<x>[Xx])?(?![A-Za-z0-9_])(?!\.\d)"
)
_DIGIT_GROUPS: Final = re.compile(r"\d+")

# Words that make a number something else. Matched against the characters just before the run.
_NOT_PERSONAL: Final = re.compile(
    r"(?:(?<![A-Za-z])(?:order|tracking|track|invoice|receipt|serial|s/?n|sku|imei|ref(?:erence)?|model|part|item|"
    r"asin|isbn(?:[- ]?1[03])?|upc|ean(?:[- ]?1[03])?|barcode|batch|lot|ticket|case|booking|confirmation|"
    r"transaction|parcel|shipment|waybill)|"
    r"订单|单号|运单|快递单|物流单|编号|序列号|发票|货号|型号|批号|条码|工单|流水号|交易号)"
    r"\s*(?:number|num|no|nr|id|code|#|号码|号)?\.?\s*(?:is|was|:|：|#|为|是)?\s*$",
    re.IGNORECASE,
)
_CARD_WORD: Final = re.compile(
    r"(?:\bcard|\bvisa|\bmaster\s?card|\bamex|\bunionpay|\bdiscover|\bjcb|卡)\s*(?:number|num|no|nr|details|#|号码|号)?"
    r"\.?\s*(?:is|was|:|：|#|为|是)?\s*$",
    re.IGNORECASE,
)
_ID_WORD: Final = re.compile(r"(?:身份证|证件|\bID\b|\bidentity|\bresident)[^\n]{0,12}$", re.IGNORECASE)
_PHONE_WORD: Final = re.compile(
    r"(?:\btel|\bphone|\bmobile|\bcell|\bcall|\btext|\bwhats\s?app|\bfax|\bhotline|\bcontact|\breach me|\bring|"
    r"\bnumber|电话|手机|联系|致电|拨打|热线|座机|号码|来电)[^\n\d]{0,14}$",
    re.IGNORECASE,
)
_CONTEXT_CHARS: Final = 24

# Province-level codes that open a resident ID number (GB/T 2260): a random run rarely starts with one.
_PROVINCES: Final = frozenset(
    "11 12 13 14 15 21 22 23 31 32 33 34 35 36 37 41 42 43 44 45 46 50 51 52 53 54 61 62 63 64 65 71 81 82".split()
)
_CN_ID_WEIGHTS: Final = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_CN_ID_CHECK: Final = "10X98765432"
_DAYS: Final = (31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)
# Issuer prefixes (Visa 4, Mastercard 51–55/2221–2720, Amex 34/37, UnionPay 62/81, Discover/Maestro 6, JCB 35,
# Diners 30/36/38, Maestro 50/56–59).
_CARD_PREFIX: Final = re.compile(r"^(?:4|5[0-9]|6|3[0456789]|81|2(?:22[1-9]|2[3-9]\d|[3-6]\d\d|7[01]\d|720))")
# Groupings that card numbers are printed in: 4-4-4-4(-1..3), 4-6-5 (Amex), 4-6-4 (Diners).
_CARD_GROUPINGS: Final = re.compile(r"^(?:4,4,4,4(?:,[1-3])?|4,4,4,[1-3]|4,6,5|4,6,4)$")
_CN_MOBILE: Final = re.compile(r"^(?:86)?1[3-9]\d{9}$")
# The North American plan's own rule (an area code starts with 2-9): "(555) 123-4567" is written as a phone number
# even where libphonenumber knows the range is unassigned.
_NANP: Final = re.compile(r"^1?[2-9]\d{9}$")


def luhn_ok(digits: str) -> bool:
    """Luhn (mod 10) checksum of a digit string, as every payment card number carries."""
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = ord(ch) - 48
        if i % 2 == 1:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return total % 10 == 0


def valid_cn_id(candidate: str) -> bool:
    """True when an 18-character Chinese resident ID has a correct ISO 7064 MOD 11-2 check digit."""
    if len(candidate) != 18 or not candidate[:17].isdigit():
        return False
    total = sum(int(d) * w for d, w in zip(candidate[:17], _CN_ID_WEIGHTS, strict=True))
    return _CN_ID_CHECK[total % 11] == candidate[17].upper()


def _date_ok(year: int, month: int, day: int) -> bool:
    return 1 <= month <= 12 and 1 <= day <= _DAYS[month - 1] and (month != 2 or day < 29 or year % 4 == 0)


def _cn_id_layout(digits: str) -> bool:
    """Province code, a real birth date, a sequence: the layout of an 18- or 15-digit resident ID number."""
    if digits[:2] not in _PROVINCES:
        return False
    if len(digits) == 18:
        year = int(digits[6:10])
        return 1900 <= year <= 2030 and _date_ok(year, int(digits[10:12]), int(digits[12:14]))
    if len(digits) == 15:
        return _date_ok(1900 + int(digits[6:8]), int(digits[8:10]), int(digits[10:12]))
    return False


@functools.lru_cache(maxsize=4096)
def _valid_phone(number: str, region: str | None) -> bool:
    try:
        return bool(phonenumbers.is_valid_number(phonenumbers.parse(number, region)))
    except phonenumbers.NumberParseException:
        return False


@functools.lru_cache(maxsize=4096)
def _possible_phone(number: str, region: str) -> bool:
    try:
        return bool(phonenumbers.is_possible_number(phonenumbers.parse(number, region)))
    except phonenumbers.NumberParseException:
        return False


def _is_phone(digits: str, plus: bool, sizes: tuple[int, ...], said_phone: bool) -> bool:
    n = len(digits)
    if not 7 <= n <= 17:
        return False
    if plus or (digits.startswith("00") and n >= 10):
        # Written as an international number: the "+" says so, and a possible length for its country is enough
        # (fictional ranges such as +1 555 0100 are invalid to libphonenumber, not less of a phone number).
        international = "+" + (digits if plus else digits[2:])
        return _valid_phone(international, None) or (n >= 8 and _possible_phone(international, "ZZ"))
    if n > 15:
        return False
    if _CN_MOBILE.match(digits):
        return _valid_phone(digits.removeprefix("86") if n == 13 else digits, "CN")
    if digits[0] == "0" and n >= 9 and sizes != (5, 4):  # 5-4 is a US ZIP+4 code
        if any(_valid_phone(digits, region) for region in NATIONAL_REGIONS):
            return True
    if sizes in ((3, 3, 4), (1, 3, 3, 4)) and (_valid_phone(digits, "US") or _NANP.match(digits)):
        return True
    # A country code then a grouped national number, the "+" left out: "44 20 7946 0958", "49 30 1234567".
    if len(sizes) >= 3 and sizes[0] <= 3 and n >= 10 and _valid_phone("+" + digits, None):
        cc = phonenumbers.parse("+" + digits, None).country_code
        if str(cc) == digits[: sizes[0]]:
            return True
    if said_phone:
        return _valid_phone("+" + digits, None) or any(_possible_phone(digits, r) for r in ("CN", "US", "GB", "DE"))
    return False


def _us_ssn(digits: str, sizes: tuple[int, ...]) -> bool:
    """A US Social Security number as it is written (3-2-4), in the ranges the SSA issues."""
    return (sizes == (3, 2, 4) and digits[:3] not in ("000", "666") and digits[0] != "9" and digits[3:5] != "00"
            and digits[5:] != "0000")


def _classify(digits: str, plus: bool, has_x: bool, sizes: tuple[int, ...], before: str) -> str | None:
    n = len(digits)
    if plus:
        return "phone" if _is_phone(digits, True, sizes, bool(_PHONE_WORD.search(before))) else None
    full = digits + ("X" if has_x else "")
    said_id = bool(_ID_WORD.search(before))
    not_personal = not said_id and bool(_NOT_PERSONAL.search(before))
    if len(full) == 18 and _cn_id_layout(full) and (not not_personal or valid_cn_id(full)):
        return "cn_id"
    if has_x:
        return None
    if not not_personal and 12 <= n <= 19 and _CARD_WORD.search(before):
        return "bank_card"
    if (not not_personal and 13 <= n <= 19 and (len(sizes) == 1 or _CARD_GROUPINGS.match(",".join(map(str, sizes))))
            and _CARD_PREFIX.match(digits) and luhn_ok(digits)):
        return "bank_card"
    if n == 15 and not not_personal and _cn_id_layout(digits):
        return "cn_id"
    if not not_personal and _us_ssn(digits, sizes):
        return "ssn"
    if not not_personal and _is_phone(digits, False, sizes, bool(_PHONE_WORD.search(before))):
        return "phone"
    return None


def _groups(view: str, start: int, end: int) -> list[tuple[int, int]]:
    return [(m.start(), m.end()) for m in _DIGIT_GROUPS.finditer(view, start, end)]


def _find_in_groups(view: str, groups: list[tuple[int, int]], run_start: int, plus: bool, has_x: bool,
                    at_run_start: bool = True) -> Iterator[tuple[int, int, str]]:
    """The longest consecutive groups that classify, leftmost first; then the rest on either side.

    `run_start` is where the whole run starts (its "+" or "("): the words before it decide for every part.
    `plus` and `at_run_start` say whether `groups[0]` opens the run (and so owns its "+" or "(").
    """
    count = len(groups)
    before = view[max(0, run_start - _CONTEXT_CHARS):run_start]
    for length in range(count, 0, -1):
        for i in range(count - length + 1):
            chosen = groups[i:i + length]
            first = at_run_start and i == 0
            x = has_x and i + length == count
            digits = "".join(view[a:b] for a, b in chosen)
            kind = _classify(digits, plus and first, x, tuple(b - a for a, b in chosen), before)
            if kind is not None:
                yield from _find_in_groups(view, groups[:i], run_start, plus, False, at_run_start)
                yield run_start if first else chosen[0][0], chosen[-1][1] + (1 if x else 0), kind
                yield from _find_in_groups(view, groups[i + length:], run_start, False, has_x, False)
                return


def find_numbers(view: str) -> Iterator[tuple[int, int, str]]:
    """(start, end, kind) of every ID, card and phone number in `view`."""
    for m in _RUN.finditer(view):
        x_at = m.start("x")
        end = x_at if x_at >= 0 else m.end()
        groups = _groups(view, m.start(), end)
        if sum(b - a for a, b in groups) < 7:
            continue
        if len(groups) > 12:  # a long list of numbers: only windows that could be one number
            groups = groups[:12]
        plus = bool(m.group("plus") or m.group("bracketed_plus"))
        yield from _find_in_groups(view, groups, m.start(), plus, x_at >= 0)
