"""Where a person lives: street addresses (English, German, French, Chinese), PO boxes, postcodes.

>>> text = "10 downing street, london SW1A 2AA"
>>> [(kind, text[s:e]) for s, e, kind in find_places(text)]
[('address', '10 downing street'), ('postcode', 'SW1A 2AA')]

Addresses are anchored on structure that prose lacks: a house number then a street type ("221B Baker Street",
"10 downing street"), a street type then a number ("Hauptstraße 5"), a French "12 rue de …"; in Chinese a road
with its number ("建国路88号") or a building, entrance or flat ("3栋2单元", "12号楼", "1202室"), after a district,
an estate ("阳光花园", "科技园南区") or the words that introduce an address ("我住", "地址", "寄到"). A Chinese
address needs no province or city: "我住深圳南山区科技园南区18栋" is as personal as the full form.
Lower-case English street names ("10 downing street") are ordinary words, so they count only next to what makes
them an address: a city after a comma, a flat number, or words like "live at", "ship to", "address".

Postcodes: US ZIP+4 and a ZIP after a state code ("CA 94043"); UK postcodes in capitals with a real postcode
area; German and French ones after a comma and before a town ("…, 10115 Berlin"); any of these and Chinese
6-digit ones after a word that says postcode ("邮编", "zip", "PLZ", "code postal").
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Final

from streams.llm.redaction._view import mentions

__all__ = ["find_places"]

# --------------------------------------------------------------------------------------------- English streets
_EN_STREET_TYPES: Final = (
    "Street|St|Avenue|Ave|Road|Rd|Boulevard|Blvd|Lane|Ln|Drive|Dr|Court|Ct|Place|Pl|Square|Sq|Parkway|Pkwy|"
    "Way|Terrace|Ter|Highway|Hwy|Circle|Cir|Close|Crescent|Cres|Row|Mews|Alley|Trail|Plaza|Gardens|Grove|Hill"
)
# Capitalised words that cannot be part of a street name: Title Case prose puts them after numbers too
# ("12 Volt Drive", "3 Hours On The Highway").
_NOT_A_STREET_WORD: Final = (
    r"(?!(?:On|The|In|At|For|Of|And|To|With|From|A|An|My|Our|Your|Inch|Inches|Volt|Volts|Watt|Watts|Hour|Hours|Day|"
    r"Days|Week|Weeks|Month|Months|Year|Years|Old|Minute|Minutes|Mile|Miles|Foot|Feet|Pack|Packs|Pcs|Piece|Pieces|"
    r"Times|Star|Stars|Pair|Pairs|Set|Sets|Box|Boxes|Bottle|Bottles)(?![A-Za-z]))"
)
# Lower-case words are ordinary words: more of them cannot name a street ("2 dogs on the street", "a hard drive").
_NOT_A_LOWER_STREET_WORD: Final = (
    r"(?!(?:on|the|in|at|for|of|and|to|with|from|a|an|my|our|your|his|her|their|this|that|is|was|are|it|by|or|not|"
    r"no|inch|inches|volt|volts|watt|watts|hour|hours|day|days|week|weeks|month|months|year|years|old|minute|"
    r"minutes|mile|miles|km|foot|feet|pack|packs|pcs|piece|pieces|times|star|stars|pair|pairs|set|sets|box|boxes|"
    r"bottle|bottles|people|persons|dogs|cats|cars|kids|more|less|other|different|same|lanes|blocks|houses|doors|"
    r"steps|stops|exits|floors|rooms|units|bucks|dollars|euros|pounds|percent|new|big|small|side|hard|flash|usb|"
    r"test|disk|thumb|external|ssd|disc|cd|dvd|off|fast|slow|long|short|dirt|toll|back|one|two|three|way|ways)"
    r"(?![A-Za-z]))"
)
# A city after the comma, not the next clause ("2 hard drive, both failed").
_NOT_A_CITY: Final = (
    r"(?!(?:and|but|so|it|its|they|which|the|all|then|still|very|not|both|each|we|i|he|she|you|my|our|this|that|"
    r"there|though|however|because|since|when|while|if|or|nor|yet|also|plus|just|only|even)(?![A-Za-z]))"
)
_EN_UNIT: Final = (
    r"(?:,?\s+(?i:apt|apartment|suite|ste|unit|flat|floor|fl|room|rm)\.?\s*#?\s*[A-Za-z0-9-]{1,6}(?![A-Za-z0-9])"
    r"|,?\s+#\s?[A-Za-z0-9-]{1,6}(?![A-Za-z0-9]))?"
)
_HOUSE_NUMBER: Final = r"(?<![A-Za-z0-9_$£€¥.,-])\d{1,6}[A-Za-z]?(?:-\d{1,4})?\s+"
# The digit comes first so the scan skips to digits fast; the look-behind then checks the character before it.
_HOUSE_NUMBER_AT: Final = re.compile(r"\d(?<![A-Za-z0-9_$£€¥.,-]\d)\d{0,5}[A-Za-z]?(?:-\d{1,4})?\s")
_STATE_ZIP_TAIL: Final = r"(?:,\s*[A-Z][A-Za-z]+(?:\s[A-Z][A-Za-z]+){0,2},?\s+[A-Z]{2}\s+\d{5}(?:-\d{4})?(?!\d))?"
# House number, one to four capitalised name words (or "5th"), a street type; then an optional unit and an optional
# "City, ST 12345".
_ADDRESS_EN: Final = re.compile(
    _HOUSE_NUMBER
    + rf"(?:(?:{_NOT_A_STREET_WORD}[A-Z][A-Za-z'.-]*|\d{{1,3}}(?:st|nd|rd|th))\s+){{1,4}}"
    + rf"(?i:{_EN_STREET_TYPES})(?![A-Za-z0-9])\.?"
    + _EN_UNIT
    + _STATE_ZIP_TAIL
)
_ADDRESS_EN_LOWER: Final = re.compile(
    _HOUSE_NUMBER
    + rf"(?:(?:{_NOT_A_LOWER_STREET_WORD}[a-z][a-z'.-]*|\d{{1,3}}(?:st|nd|rd|th))\s+){{1,3}}"
    + r"(?:street|st|avenue|ave|road|rd|boulevard|blvd|lane|ln|drive|square|parkway|terrace|highway|crescent|"
    r"mews|way|place|court|close)(?![A-Za-z0-9])\.?"
    + r"(?P<unit>"
    + _EN_UNIT
    + rf")(?P<city>,\s*{_NOT_A_CITY}[A-Za-z][a-z]+)?"
)
_ADDRESS_CUE: Final = re.compile(
    r"(?:live[sd]?\s+(?:at|on|in)|living\s+(?:at|on)|address(?:\s+is)?|ship(?:ped)?\s+to|send\s+(?:it\s+)?to|sent\s+to|"
    r"deliver(?:ed)?\s+to|located\s+at|house\s+(?:at|on|is)|home\s+(?:at|on|is)|moved\s+to|stay(?:ing)?\s+at)"
    r"[\s:]*$",
    re.IGNORECASE,
)
# -------------------------------------------------------------------------------------- German and French
_ZIP_CITY_TAIL: Final = r"(?:,?\s+(?:[DF]-)?\d{5}\s+[A-ZÄÖÜÉ][\wäöüßéèàç-]+)?"
_ADDRESS_DE: Final = re.compile(
    r"(?<![\w-])(?:[A-ZÄÖÜ][\wäöüß-]*\s)?"
    r"(?:[A-ZÄÖÜ][\wäöüß-]*(?:straße|strasse|str\.|weg|allee|platz|gasse|damm|ufer|chaussee)"
    r"|(?<=\w\s)(?:Straße|Strasse|Str\.|Weg|Allee|Gasse))"
    r"\s+\d{1,4}\s?[a-z]?(?![\w])" + _ZIP_CITY_TAIL
)
_ADDRESS_FR: Final = re.compile(
    r"(?<![\w.,-])\d{1,4}(?:\s?(?:bis|ter))?,?\s+(?i:rue|avenue|av\.|boulevard|bd|place|chemin|allée|impasse|quai|"
    r"route|cours)\s+(?:(?:de la|de l'|du|des|de|la|le|les|l'|d')\s*)?[A-ZÀ-Ý][\wà-ÿ'-]+(?:[ -][A-ZÀ-Ý][\wà-ÿ'-]+)*"
    + _ZIP_CITY_TAIL
)
# ------------------------------------------------------------------------------------------------- PO boxes
_PO_BOX: Final = re.compile(
    r"(?i:(?<![A-Za-z])(?:p\.?\s?o\.?\s?box|post\s+office\s+box|postfach|boîte postale)\s*#?\s*\d{1,8})"
    r"|邮政信箱\s*\d{1,6}(?:号)?(?:\s*\d{1,4}分箱)?|(?<!\d)\d{1,6}\s*信箱"
)
# ------------------------------------------------------------------------------------------------ postcodes
_UK_AREAS: Final = (
    "AB|AL|B|BA|BB|BD|BH|BL|BN|BR|BS|BT|CA|CB|CF|CH|CM|CO|CR|CT|CV|CW|DA|DD|DE|DG|DH|DL|DN|DT|DY|E|EC|EH|EN|EX|FK|"
    "FY|G|GL|GU|GY|HA|HD|HG|HP|HR|HS|HU|HX|IG|IM|IP|IV|JE|KA|KT|KW|KY|L|LA|LD|LE|LL|LN|LS|LU|M|ME|MK|ML|N|NE|NG|"
    "NN|NP|NR|NW|OL|OX|PA|PE|PH|PL|PO|PR|RG|RH|RM|S|SA|SE|SG|SK|SL|SM|SN|SO|SP|SR|SS|ST|SW|SY|TA|TD|TF|TN|TQ|TR|"
    "TS|TW|UB|W|WA|WC|WD|WF|WN|WR|WS|WV|YO|ZE"
)
# With its space: "NN901PA" in a review is a model name.
_UK_POSTCODE: Final = re.compile(
    rf"(?<![A-Za-z0-9])(?:{_UK_AREAS})\d[A-Z\d]? \d(?!GB|TB|PB)[ABD-HJLNP-UW-Z]{{2}}(?![A-Za-z0-9])"
)
_US_STATES: Final = (
    "AL|AK|AZ|AR|CA|CO|CT|DE|DC|FL|GA|HI|ID|IL|IN|IA|KS|KY|LA|ME|MD|MA|MI|MN|MS|MO|MT|NE|NV|NH|NJ|NM|NY|NC|ND|OH|"
    "OK|OR|PA|RI|SC|SD|TN|TX|UT|VT|VA|WA|WV|WI|WY"
)
_ZIP_PLUS4: Final = re.compile(r"(?<![\d-])\d{5}-\d{4}(?![\d-])")
_STATE_ZIP: Final = re.compile(rf"(?<![A-Za-z])(?:{_US_STATES})\s+(?P<zip>\d{{5}})(?![\d-])")
# "…, 10115 Berlin", "75008 Paris": five digits and a capitalised town, where the words around make it no count
# ("sold 10000 Units", "12345 Points earned").
_EU_ZIP_CITY: Final = re.compile(
    r"(?:(?<=,)|(?<=^)|(?<=\n)|(?<=\s))\s*(?P<zip>(?:[DF]-)?\d{5})\s+(?P<town>[A-ZÄÖÜÉ][a-zäöüßéèàç]{2,})"
    r"(?=\s*$|\s*[,.;!?)\n]|\s+[A-ZÄÖÜÉ(])",
)
_NOT_A_TOWN: Final = frozenset(
    "points units reviews stars people customers users orders items pieces miles steps words pages hours days years "
    "times sales views likes votes downloads copies boxes sold left more total reviewers buyers fans followers "
    "calories mah watts volts rpm dpi lumens".split()
)
_COUNT_BEFORE: Final = re.compile(
    r"(?i:\b(?:sold|bought|over|about|than|of|with|has|have|had|only|just|total|earned|got|gets|and|more|around|"
    r"nearly|almost|approx|approximately|some|the|all|top|by|at|for|to|under|above|below|up))\s*$"
)
_POSTCODE_CUE: Final = re.compile(
    r"(?i:(?<![A-Za-z])(?:zip(?:\s*code)?|post(?:al)?\s*code|postcode|plz|postleitzahl|code\s+postal)"
    r"\s*(?:is|:|#|no\.?)?\s*)"
    r"(?P<zip>(?i:[A-Z]{1,2}\d[A-Z\d]?\s?\d[A-Z]{2}|[A-Z]\d[A-Z]\s?\d[A-Z]\d)|\d{5}(?:-\d{4})?|\d{4}\s?[A-Z]{2}|\d{6}|\d{4})"
    r"(?![A-Za-z0-9])"
    r"|(?:邮编|邮政编码|郵編|郵遞區號)\s*(?:是|为|:|：)?\s*(?P<cnzip>\d{6}|\d{3,5})(?!\d)"
)
# ---------------------------------------------------------------------------------------------------- Chinese
_HAN: Final = r"[\u4e00-\u9fff]"
_NUM: Final = r"(?:\d{1,5}(?!\d)|[一二三四五六七八九十百零〇]{1,5})"
_PROVINCES: Final = (
    "北京|天津|上海|重庆|河北|山西|辽宁|吉林|黑龙江|江苏|浙江|安徽|福建|江西|山东|河南|湖北|湖南|广东|海南|四川|"
    "贵州|云南|陕西|甘肃|青海|台湾|内蒙古|广西|西藏|宁夏|新疆|香港|澳门"
)
_CN_ADMIN: Final = (
    rf"(?P<admin>(?:(?:{_PROVINCES})(?:省|市|自治区|特别行政区)?|{_HAN}{{2,6}}?(?:省|自治区))?"
    rf"(?:{_HAN}{{1,6}}?(?:市|州|盟))?"
    rf"(?:{_HAN}{{1,6}}?(?:区|县|旗))?"
    rf"(?:{_HAN}{{1,6}}?(?:镇|乡|街道))?)"
)
# Building, entrance, floor, flat: "3栋", "A座", "2单元", "1202室", "5号楼". A bare "3号" is NOT one: it is also a date
# ("3号发货") or a shoe size ("38号").
_CN_UNIT: Final = rf"(?:(?:{_NUM}|[A-Za-z]{{1,2}})(?:栋|幢|座|号楼|单元|层|楼|室|户))"
_CN_ESTATE: Final = (
    r"(?:小区|花园|家园|公寓|大厦|苑|新村|大楼|园区|科技园|产业园|工业园|工业区|社区|校区|宿舍|山庄|别墅|"
    rf"[东南西北中]区|{_NUM}区|{_NUM}期|[东南西北]院)"
)
# A bare flat number after a building or entrance: "3单元502".
_CN_TAIL: Final = rf"(?:{_NUM}(?:号|室)?)?"
_ADDRESS_CN: Final = re.compile(
    _CN_ADMIN
    # "弄" is a Shanghai lane NUMBER after a road ("长宁路1600弄"), never a road suffix ("空调得弄一弄").
    + rf"(?:(?P<road>{_HAN}{{2,10}}?(?:大道|大街|路|街|巷|胡同))"
    + r"(?P<roadno>\d{1,5}(?!\d)(?:号|弄)|[一二三四五六七八九十百]{1,4}号)?"
    + rf"(?:{_HAN}{{1,10}}?(?:{_CN_ESTATE}|园|村|广场|中心))?"
    + rf"(?P<units1>{_CN_UNIT}{{0,4}}{_CN_TAIL})"
    + rf"|(?P<estate>{_HAN}{{2,10}}?{_CN_ESTATE})"
    + rf"(?P<units2>{_CN_UNIT}{{1,4}}{_CN_TAIL})"
    + rf"|(?P<place>{_HAN}{{0,10}}?)(?P<units3>{_CN_UNIT}{{1,4}}{_CN_TAIL}))"
)
_CN_LEAD_IN: Final = re.compile(
    r"^(?:收货地址|收件地址|地址|寄到|送到|发到|送货到|寄往|位于|就在|我们家|我家|本人|我们|我|他|她|家)?"
    r"(?:住在|住|在)?[是为：:]?"
)
_CN_ADDRESS_CUE: Final = re.compile(r"(?:地址|住在|住|寄到|送到|发到|送货到|寄往|家在)[是为：:]?$")
_CN_CUE_INSIDE: Final = re.compile(
    r"(?:收货地址|收件地址|地址|寄到|寄往|送到|发到|送货到|发货到|住在|家住|家在|位于)[是为:：]?"
)
_CN_PROVINCE_AT: Final = re.compile(rf"(?:{_PROVINCES})")
_CN_UNIT_MARK: Final = re.compile(r"栋|幢|座|单元|层|楼|室|户")
_CN_HOME_MARK: Final = re.compile(r"栋|幢|号楼|单元|室|户")
_CN_UNIT_RE: Final = re.compile(_CN_UNIT)
_CN_DISTRICT: Final = re.compile(r"[区县市镇]|街道")
_MAX_ROAD_NAME: Final = 4
# The longest address the pattern can take before and after its number-and-marker (province … estate; units, flat).
_CN_BEFORE_MARKER: Final = 60
_CN_AFTER_MARKER: Final = 30
_DIGIT: Final = re.compile(r"\d")
# Cheap tests for what each pattern cannot match without. Every Chinese address holds a number (or a letter) with
# 号/弄 or a building, entrance, floor or flat marker; the marker comes first so the scan is a fast one.
_CN_ADDRESS_HINT: Final = re.compile(
    r"[号弄栋幢座层楼室户](?<=[\d一二三四五六七八九十百零〇A-Za-z].)|单元(?<=[\d一二三四五六七八九十百零〇A-Za-z]..)"
)
_DE_WORDS: Final = ("straße", "strasse", "str.", "weg", "allee", "platz", "gasse", "damm", "ufer", "chaussee")
_FR_WORDS: Final = ("rue", "avenue", "av.", "boulevard", "bd", "place", "chemin", "allée", "impasse", "quai", "route",
                    "cours")
_POSTCODE_WORDS: Final = ("zip", "post", "plz", "code postal", "邮编", "邮政", "郵")
_PO_BOX_WORDS: Final = ("box", "postfach", "boîte", "信箱")
_FIVE_DIGITS: Final = re.compile(r"\d{5}")
_UK_HINT: Final = re.compile(r"[A-Z]\d[A-Z\d]? \d[A-Z]{2}")


def _cn_address_span(m: re.Match[str]) -> tuple[int, int] | None:
    """Where the Chinese address in match `m` really starts and ends, or None when it is not specific enough."""
    start, end = m.span()
    road = m.group("road")
    admin = m.group("admin") or ""
    if road is not None:
        if not (m.group("roadno") or _CN_UNIT_MARK.search(m.group("units1") or "")):
            # A road without a house number or a flat is a street, not where someone lives; and the generic city and
            # district patterns match ordinary prose ("位于市中心但是临街道而喧闹"), so they cannot vouch.
            return None
        if not admin and len(road) > _MAX_ROAD_NAME + 1:
            # Road names are short ("长宁路", "中山北路"); without a city before it, the match swept in the sentence
            # ("巷口挂了长宁路1600弄"): keep the road's last characters only.
            start = m.start("road") + len(road) - _MAX_ROAD_NAME - 1
    elif m.group("estate") is not None:
        units = m.group("units2") or ""
        if not (_CN_HOME_MARK.search(units) or len(_CN_UNIT_RE.findall(units)) > 1):
            # "投资大厦一楼" is a floor of a public building; a home needs a building, entrance or flat ("3栋2单元").
            return None
    else:
        units = m.group("units3") or ""
        cue = _CN_ADDRESS_CUE.search(m.string, max(0, start - 6), start) is not None
        if not _CN_HOME_MARK.search(units) or not (_CN_DISTRICT.search(admin) or cue):
            # Without a road or an estate, a building number counts after a district ("南山区…18栋") or after
            # words that introduce an address; "7座SUV" and "3楼" alone are not addresses.
            return None
        if not admin:
            start = m.start("units3") - min(len(m.group("place")), 6)
    head = m.string[start:end]
    # Chinese has no spaces: the match may begin with the words that lead to the address ("麻烦寄到…").
    cues = [c.end() for c in _CN_CUE_INSIDE.finditer(head) if c.end() <= len(head) - 3]
    if cues:
        start += cues[-1]
        head = m.string[start:end]
    prov = _CN_PROVINCE_AT.search(head)
    if prov is not None and 0 < prov.start() <= 6:
        return start + prov.start(), end
    lead = _CN_LEAD_IN.match(head)
    if lead is not None and 0 < lead.end() < len(head) - 2:
        return start + lead.end(), end
    return start, end


def _cn_windows(view: str) -> Iterator[tuple[int, int]]:
    """Stretches of `view` around each number-and-marker, wide enough for a whole address; merged when they meet."""
    start = end = -1
    for hint in _CN_ADDRESS_HINT.finditer(view):
        lo, hi = max(0, hint.start() - _CN_BEFORE_MARKER), min(len(view), hint.end() + _CN_AFTER_MARKER)
        if lo > end:
            if end > start:
                yield start, end
            start = lo
        end = hi
    if end > start:
        yield start, end


def _cn_addresses(view: str) -> Iterator[tuple[int, int, str]]:
    # The pattern is costly to try at every character; an address always has a marker, so only stretches around
    # the markers are searched.
    for lo, hi in _cn_windows(view):
        for m in _ADDRESS_CN.finditer(view, lo, hi):
            span = _cn_address_span(m)
            if span is not None:
                yield span[0], span[1], "address"


def _en_addresses(view: str, low: str) -> Iterator[tuple[int, int, str]]:
    # Both English patterns open with a house number: try them only where one starts.
    for start in (h.start() for h in _HOUSE_NUMBER_AT.finditer(view)):
        m = _ADDRESS_EN.match(view, start)
        if m is not None:
            yield m.start(), m.end(), "address"
            continue
        m = _ADDRESS_EN_LOWER.match(view, start)
        if m is None:
            continue
        cue = _ADDRESS_CUE.search(view, max(0, m.start() - 24), m.start()) is not None
        if m.group("unit") or m.group("city") or cue:
            yield m.start(), m.end() - len(m.group("city") or ""), "address"
    for words, rx in ((_DE_WORDS, _ADDRESS_DE), (_FR_WORDS, _ADDRESS_FR)):
        if mentions(low, words):
            for m in rx.finditer(view):
                yield m.start(), m.end(), "address"


def _postcodes(view: str, low: str) -> Iterator[tuple[int, int, str]]:
    if mentions(low, _POSTCODE_WORDS):
        for m in _POSTCODE_CUE.finditer(view):
            group = "zip" if m.group("zip") else "cnzip"
            yield m.start(group), m.end(group), "postcode"
    for m in _UK_POSTCODE.finditer(view) if _UK_HINT.search(view) else ():
        yield m.start(), m.end(), "postcode"
    if not _FIVE_DIGITS.search(view):
        return
    for m in _ZIP_PLUS4.finditer(view):
        yield m.start(), m.end(), "postcode"
    for m in _STATE_ZIP.finditer(view):
        yield m.start("zip"), m.end("zip"), "postcode"
    for m in _EU_ZIP_CITY.finditer(view):
        if m.group("town").lower() in _NOT_A_TOWN or _COUNT_BEFORE.search(view, max(0, m.start() - 16), m.start()):
            continue
        yield m.start("zip"), m.end("zip"), "postcode"


def find_places(view: str) -> Iterator[tuple[int, int, str]]:
    """(start, end, kind) of every address, PO box and postcode in `view`, addresses first."""
    has_digit = _DIGIT.search(view) is not None
    low = view.lower()
    if has_digit:
        yield from _en_addresses(view, low)
    if _CN_ADDRESS_HINT.search(view):
        yield from _cn_addresses(view)
    if has_digit:
        for m in _PO_BOX.finditer(view) if mentions(low, _PO_BOX_WORDS) else ():
            yield m.start(), m.end(), "address"
        yield from _postcodes(view, low)
