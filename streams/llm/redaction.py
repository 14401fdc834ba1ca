"""Removes personal data from review text before it leaves the process (to an LLM, a log line, a dead letter).

>>> r = redact("Call me at +1 415 555 0100 or mail jo@example.com, it cost $25.99")
>>> r.text
'Call me at [PHONE] or mail [EMAIL], it cost $25.99'
>>> r.kinds
('email', 'phone')

Kinds and placeholders: `email` → `[EMAIL]`, `phone` → `[PHONE]`, `cn_id` → `[ID]`, `bank_card` → `[CARD]`,
`address` → `[ADDRESS]`.

Precision matters as much as recall here: a review whose price, date, order number or product model was blanked out
loses the very facts the analysis needs. So every pattern is anchored on structure that ordinary numbers lack (an
`@`, a `+` country code, a mobile prefix, an ID or Luhn checksum, a card issuer prefix, a street suffix), and numbers
sitting next to words like "order"/"订单" are never taken for cards.

Patterns run in a fixed order (email, ID, card, phone, address) so that the most specific one claims a span first;
placeholders contain no digits, so a later pattern can never match inside an earlier replacement.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Final

__all__ = ["PLACEHOLDERS", "Redacted", "luhn_ok", "redact", "valid_cn_id"]

PLACEHOLDERS: Final[dict[str, str]] = {
    "email": "[EMAIL]",
    "phone": "[PHONE]",
    "cn_id": "[ID]",
    "bank_card": "[CARD]",
    "address": "[ADDRESS]",
}


@dataclass(frozen=True, slots=True)
class Redacted:
    """Redacted text and the sorted, unique kinds of personal data that were removed from it."""

    text: str
    kinds: tuple[str, ...] = ()


# ---------------------------------------------------------------------------------------------------------- email
_EMAIL: Final = re.compile(r"(?<![A-Za-z0-9_.+-])[A-Za-z0-9][A-Za-z0-9._%+-]*@[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?"
                           r"(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)*\.[A-Za-z]{2,24}(?![A-Za-z0-9-])")

# ------------------------------------------------------------------------------------------- Chinese resident ID
# 6-digit region, birth date 18xx–20xx, 3-digit sequence, check digit; the checksum then rejects ~91% of random
# 18-digit numbers that happen to look like a date (order numbers often embed one).
_CN_ID: Final = re.compile(
    r"(?<![0-9A-Za-z])[1-9]\d{5}(?:18|19|20)\d{2}(?:0[1-9]|1[0-2])(?:0[1-9]|[12]\d|3[01])\d{3}[\dXx](?![0-9A-Za-z])"
)
_CN_ID_WEIGHTS: Final = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_CN_ID_CHECK: Final = "10X98765432"


def valid_cn_id(candidate: str) -> bool:
    """True when an 18-character Chinese resident ID has a correct ISO 7064 MOD 11-2 check digit."""
    if len(candidate) != 18 or not candidate[:17].isdigit():
        return False
    total = sum(int(d) * w for d, w in zip(candidate[:17], _CN_ID_WEIGHTS, strict=True))
    return _CN_ID_CHECK[total % 11] == candidate[17].upper()


# --------------------------------------------------------------------------------------------------- bank cards
# Contiguous 13–19 digits, or the grouped layouts people actually type (4-4-4-4[-3], Amex 4-6-5, Diners 4-6-4).
# Groups must use one separator throughout, so "4111 1111 1111 1111 2 pcs" does not swallow the quantity.
_CARD: Final = re.compile(
    r"(?<![\d+])(?:"
    r"\d{13,19}"
    r"|\d{4}([ -])\d{4}\1\d{4}\1\d{4}(?:\1\d{3})?"
    r"|\d{4}([ -])\d{4}\2\d{4}\2\d{1,3}"
    r"|\d{4}([ -])\d{6}\3\d{4,5}"
    r")(?![\d])"
)
# Issuer prefixes (Visa 4, Mastercard 51–55/2221–2720, Amex 34/37, UnionPay 62/81, Discover/Maestro 6, JCB 35,
# Diners 30/36/38, Maestro 50/56–59). Order and tracking numbers usually start with a year (20xx) or 1/7/9:
# checking the prefix removes most of the 1-in-10 random numbers that pass Luhn.
_CARD_PREFIX: Final = re.compile(r"^(?:4|5[0-9]|6|3[0456789]|81|2(?:22[1-9]|2[3-9]\d|[3-6]\d\d|7[01]\d|720))")
# A number right after these words is an order/tracking/serial number, not a card, whatever its checksum says.
_NOT_A_CARD_CONTEXT: Final = re.compile(
    r"(?:order|tracking|invoice|serial|s/n|sn|sku|imei|ref(?:erence)?|#|no\.?|number|"
    r"订单|单号|运单|快递|物流|编号|序列号|发票|货号)[\s:：#号为是]*$",
    re.IGNORECASE,
)


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


# -------------------------------------------------------------------------------------------------------- phones
_PHONE_CN_MOBILE: Final = re.compile(r"(?<![\d+])(?:(?:\+|00)86[ -]?)?1[3-9]\d(?:[ -]?\d{4}){2}(?!\d)")
# Chinese landline with an area code and a dash or brackets: "010-12345678", "(0755) 8888 6666".
_PHONE_CN_LANDLINE: Final = re.compile(r"(?<![\d-])(?:0\d{2,3}-|\(0\d{2,3}\)\s?)\d{3,4}[ -]?\d{4}(?![\d-])")
# International format needs the "+" (prices never carry one); 8–15 digits in total per E.164.
_PHONE_INTL: Final = re.compile(r"(?<![A-Za-z0-9_+])\+\d{1,3}(?:[ .-]?\(?\d{1,4}\)?){2,5}(?![\d])")
# North American "(415) 555-0100", "415-555-0100", "415.555.0100", "415 555 0100": area code and exchange start
# with 2–9, which already excludes dates (2024-01-05 has the wrong grouping) and most quantities.
_PHONE_NANP: Final = re.compile(
    r"(?<![A-Za-z0-9_+.-])(?:1[-. ]?)?"
    r"(?:\([2-9]\d{2}\)\s?|[2-9]\d{2}([-. ]))[2-9]\d{2}(?(1)\1|[-. ])\d{4}(?![A-Za-z0-9_-])"
)

# ------------------------------------------------------------------------------------------------------ addresses
_EN_STREET_TYPES: Final = (
    "Street|St|Avenue|Ave|Road|Rd|Boulevard|Blvd|Lane|Ln|Drive|Dr|Court|Ct|Place|Pl|Square|Sq|Parkway|Pkwy|"
    "Way|Terrace|Ter|Highway|Hwy|Circle|Cir|Close|Crescent|Cres|Row|Mews|Alley|Trail|Plaza"
)
# Title Case prose puts capitalised words after numbers too ("12 Volt Drive", "3 Hours On The Highway"): units of
# measure, time and function words cannot be part of a street name.
_NOT_A_STREET_WORD: Final = (
    r"(?!(?:On|The|In|At|For|Of|And|To|With|From|A|An|My|Our|Your|Inch|Inches|Volt|Volts|Watt|Watts|Hour|Hours|Day|"
    r"Days|Week|Weeks|Month|Months|Year|Years|Old|Minute|Minutes|Mile|Miles|Foot|Feet|Pack|Packs|Pcs|Piece|Pieces|"
    r"Times|Star|Stars|Pair|Pairs|Set|Sets|Box|Boxes|Bottle|Bottles)(?![A-Za-z]))"
)
_EN_UNIT: Final = (
    r"(?:,?\s+(?i:apt|apartment|suite|ste|unit|flat|floor|fl|room|rm)\.?\s*#?\s*[A-Za-z0-9-]{1,6}(?![A-Za-z0-9])"
    r"|,?\s+#\s?[A-Za-z0-9-]{1,6}(?![A-Za-z0-9]))?"
)
# House number, one to four capitalised name words (or "5th"), a street type; then an optional unit and an optional
# "City, ST 12345". Name words must be capitalised: "2 dogs on the street" is not an address.
_ADDRESS_EN: Final = re.compile(
    r"(?<![A-Za-z0-9_$£€¥.,-])\d{1,6}[A-Za-z]?(?:-\d{1,4})?\s+"
    rf"(?:(?:{_NOT_A_STREET_WORD}[A-Z][A-Za-z'.-]*|\d{{1,3}}(?:st|nd|rd|th))\s+){{1,4}}"
    rf"(?i:{_EN_STREET_TYPES})(?![A-Za-z0-9])\.?"
    + _EN_UNIT
    + r"(?:,\s*[A-Z][A-Za-z]+(?:\s[A-Z][A-Za-z]+){0,2},?\s+[A-Z]{2}\s+\d{5}(?:-\d{4})?(?!\d))?"
)

_HAN: Final = r"[\u4e00-\u9fff]"
_NUM: Final = r"(?:\d{1,5}|[一二三四五六七八九十百零〇]{1,5})"
_PROVINCES: Final = (
    "北京|天津|上海|重庆|河北|山西|辽宁|吉林|黑龙江|江苏|浙江|安徽|福建|江西|山东|河南|湖北|湖南|广东|海南|四川|"
    "贵州|云南|陕西|甘肃|青海|台湾|内蒙古|广西|西藏|宁夏|新疆|香港|澳门"
)
# Administrative prefix: province, city, district/county, town — each optional.
_CN_ADMIN: Final = (
    rf"(?P<admin>(?:(?:{_PROVINCES})(?:省|市|自治区|特别行政区)?|{_HAN}{{2,6}}?(?:省|自治区))?"
    rf"(?:{_HAN}{{1,6}}?(?:市|州|盟))?"
    rf"(?:{_HAN}{{1,6}}?(?:区|县|旗))?"
    rf"(?:{_HAN}{{1,6}}?(?:镇|乡|街道))?)"
)
# Building, unit, floor, room: "3栋", "A座", "2单元", "1202室", "5号楼". A bare "3号" is NOT one: it is also a date
# ("3号发货") or a shoe size ("38号").
_CN_UNIT: Final = rf"(?:(?:{_NUM}|[A-Za-z]{{1,2}})(?:栋|幢|座|号楼|单元|层|楼|室|户))"
_ADDRESS_CN: Final = re.compile(
    _CN_ADMIN
    # "弄" is a Shanghai lane NUMBER after a road ("长宁路1600弄"), never a road suffix ("空调得弄一弄").
    + rf"(?:(?P<road>{_HAN}{{2,10}}?(?:大道|大街|路|街|巷|胡同))"
    + r"(?P<roadno>\d{1,5}(?:号|弄)|[一二三四五六七八九十百]{1,4}号)?"
    + rf"(?:{_HAN}{{1,10}}?(?:小区|花园|家园|公寓|大厦|苑|园|村|广场|中心|大楼))?"
    + rf"(?P<units1>{_CN_UNIT}{{0,4}}(?:{_NUM}号?)?)"
    + rf"|(?P<estate>{_HAN}{{2,10}}?(?:小区|花园|家园|公寓|大厦|苑|新村|大楼))"
    + rf"(?P<units2>{_CN_UNIT}{{1,4}}(?:{_NUM}号?)?))"
)
# Words that introduce an address and get swept into the match because Chinese has no spaces ("我住在北京市…").
_CN_LEAD_IN: Final = re.compile(
    r"^(?:收货地址|地址|寄到|送到|发到|送货到|寄往|位于|就在|我们家|我家|本人|我们|我|他|她|家)?(?:住在|住|在)?[是为：:]?"
)
_CN_PROVINCE_AT: Final = re.compile(rf"(?:{_PROVINCES})")
_CN_UNIT_MARK: Final = re.compile(r"栋|幢|座|单元|层|楼|室|户")
_CN_ESTATE_UNIT: Final = re.compile(r"栋|幢|座|单元|室|户|号楼")
_CN_UNIT_RE: Final = re.compile(_CN_UNIT)
_MAX_ROAD_NAME: Final = 4


def _cn_address_span(m: re.Match[str]) -> tuple[int, int] | None:
    """Where the Chinese address in match `m` really starts and ends, or None when it is not specific enough."""
    start, end = m.span()
    road = m.group("road")
    if road is not None:
        if not (m.group("roadno") or _CN_UNIT_MARK.search(m.group("units1") or "")):
            # A road without a house number or a flat is a street, not where someone lives; and the generic city and
            # district patterns match ordinary prose ("位于市中心但是临街", "要去商业区和步行街"), so they cannot vouch.
            return None
        if not m.group("admin") and len(road) > _MAX_ROAD_NAME + 1:
            # Road names are short ("长宁路", "中山北路"); without a city before it, the match swept in the sentence
            # ("巷口挂了长宁路1600弄"): keep the road's last characters only.
            start = m.start("road") + len(road) - _MAX_ROAD_NAME - 1
    elif not (_CN_ESTATE_UNIT.search(m.group("units2") or "") or len(_CN_UNIT_RE.findall(m.group("units2") or "")) > 1):
        # "投资大厦一楼" is a floor of a public building; a home needs a building, entrance or flat ("3栋2单元").
        return None
    head = m.string[start:end]
    # Trim words that only lead into the address: jump to a province name when one appears, else strip lead-ins.
    prov = _CN_PROVINCE_AT.search(head)
    if prov is not None and prov.start() > 0 and prov.start() <= 6:
        return start + prov.start(), end
    lead = _CN_LEAD_IN.match(head)
    if lead is not None and 0 < lead.end() < len(head) - 2:
        return start + lead.end(), end
    return start, end


def _sub(pattern: re.Pattern[str], kind: str, text: str, found: set[str], keep: Callable[[re.Match[str]], bool]) -> str:
    placeholder = PLACEHOLDERS[kind]

    def repl(m: re.Match[str]) -> str:
        if not keep(m):
            return m.group(0)
        found.add(kind)
        return placeholder

    return pattern.sub(repl, text)


def _card_keep(text: str) -> Callable[[re.Match[str]], bool]:
    def keep(m: re.Match[str]) -> bool:
        digits = re.sub(r"[ -]", "", m.group(0))
        if not (13 <= len(digits) <= 19 and _CARD_PREFIX.match(digits) and luhn_ok(digits)):
            return False
        return _NOT_A_CARD_CONTEXT.search(text[max(0, m.start() - 16) : m.start()]) is None

    return keep


def _intl_keep(m: re.Match[str]) -> bool:
    digits = sum(ch.isdigit() for ch in m.group(0))
    return 8 <= digits <= 15


def _always(_m: re.Match[str]) -> bool:
    return True


def _cn_id_keep(m: re.Match[str]) -> bool:
    return valid_cn_id(m.group(0))


# Cheap pre-checks: most reviews have no "@", few digits and no address words, and skip most of the regexes.
_HAS_DIGIT: Final = re.compile(r"\d")
_HAS_CN_ADDRESS_WORD: Final = re.compile(r"[路街巷弄胡同区县市省]|小区|花园|公寓|大厦|苑|新村|大楼")


def redact(text: str) -> Redacted:
    """Replace emails, phone numbers, Chinese resident IDs, bank cards and street addresses with placeholders.

    >>> redact("收货地址：北京市朝阳区建国路88号，电话13812345678").text
    '收货地址：[ADDRESS]，电话[PHONE]'
    """
    found: set[str] = set()
    if "@" in text:
        text = _sub(_EMAIL, "email", text, found, _always)
    if _HAS_DIGIT.search(text):
        text = _sub(_CN_ID, "cn_id", text, found, _cn_id_keep)
        text = _sub(_CARD, "bank_card", text, found, _card_keep(text))
        text = _sub(_PHONE_CN_MOBILE, "phone", text, found, _always)
        text = _sub(_PHONE_INTL, "phone", text, found, _intl_keep)
        text = _sub(_PHONE_NANP, "phone", text, found, _always)
        text = _sub(_PHONE_CN_LANDLINE, "phone", text, found, _always)
        text = _sub(_ADDRESS_EN, "address", text, found, _always)
    if _HAS_CN_ADDRESS_WORD.search(text):
        text = _redact_cn_addresses(text, found)
    return Redacted(text=text, kinds=tuple(sorted(found)))


def _redact_cn_addresses(text: str, found: set[str]) -> str:
    parts: list[str] = []
    pos = 0
    for m in _ADDRESS_CN.finditer(text):
        span = _cn_address_span(m)
        if span is None:
            continue
        parts.append(text[pos : span[0]])
        parts.append(PLACEHOLDERS["address"])
        pos = span[1]
        found.add("address")
    if not parts:
        return text
    parts.append(text[pos:])
    return "".join(parts)
