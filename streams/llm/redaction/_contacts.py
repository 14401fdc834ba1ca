"""Ways to reach a person: links, e-mail addresses (also spelled out), IP addresses, messenger ids.

>>> text = "jo [at] example [dot] com, 微信: jojo_88"
>>> [(kind, text[s:e]) for s, e, kind in find_contacts(text)]
[('email', 'jo [at] example [dot] com'), ('chat_id', 'jojo_88')]

- **URL**: anything with a scheme (`https://`, `ftp://`), anything starting `www.`, and a domain followed by a path
  (`t.cn/abc`). A bare domain alone ("cheaper on amazon.com") names a shop, not a person, and stays: the competitor
  detection needs it. Trailing punctuation is not part of the link.
- **E-mail**: `local@domain` with Unicode domains (IDN: `bücher.de`, `例子.中国`, `xn--…`) and spaces around the `@`;
  and the spellings people use to get past a filter: `jo at example dot com`, `jo[at]example[dot]com`,
  `jo(at)example.com`, `jo艾特qq点com`. The spelled-out forms need a known top-level domain, and the plain " at "
  form needs " dot " too, so "bought it at walmart.com" is not an address.
- **IP address**: v4 and v6, checked with `ipaddress`; not after "version"/"v"/"firmware" ("v1.2.3.4").
- **Messenger id** (`chat_id`): the id after WeChat/微信/vx/wx, QQ/扣扣, WhatsApp, Telegram, Line, Skype, Kakao…
  The id must look like one (QQ: 5–12 digits; others: 4–32 letters, digits, `_-.`, with a digit or `_` in it, or
  after an explicit "id", "号", ":" or "is"): "WeChat Pay" and "微信支付" are not ids. The service name stays.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterator
from typing import Final

from streams.llm.redaction._view import mentions

__all__ = ["COMMON_TLDS", "find_contacts"]

# Top-level domains accepted when an address is spelled out ("dot com") or a domain stands alone.
COMMON_TLDS: Final = (
    "com|net|org|edu|gov|mil|int|info|biz|name|pro|io|co|ai|app|dev|me|tv|cc|xyz|top|vip|shop|store|online|site|"
    "club|live|tech|cloud|blog|email|mobi|asia|art|link|click|fun|icu|work|example|test|invalid|localhost|"
    "cn|uk|de|fr|jp|us|ca|au|ru|it|es|nl|se|no|fi|dk|pl|br|in|kr|hk|tw|sg|my|th|vn|id|ph|nz|za|mx|ar|ch|at|be|ie|"
    "pt|gr|tr|il|ae|sa|eg|ng|ke|ua|cz|hu|ro|eu|中国|中國|公司|网络|網絡|在线|手机|香港|台湾|台灣|新加坡"
)
_TRAILING_PUNCT: Final = ".,;:!?)]}'\"*"
_LABEL: Final = r"(?:[A-Za-z0-9À-ɏ](?:[A-Za-z0-9À-ɏ\-]{0,61}[A-Za-z0-9À-ɏ])?|[Ѐ-ӿ0-9\-]{1,63}|[一-鿿0-9\-]{1,63})"
_TLD: Final = r"(?:[A-Za-z]{2,24}|xn--[A-Za-z0-9\-]{1,59}|[Ѐ-ӿ]{2,24}|[一-鿿]{2,6})"
_ASCII_LABEL: Final = r"[A-Za-z0-9](?:[A-Za-z0-9\-]{0,61}[A-Za-z0-9])?"
# A path is printable ASCII: Chinese text right after a link ("…/123.html很好用") is not part of it.
_PATH: Final = r"(?:[/?#][!-~]*)"
_URL: Final = re.compile(
    rf"(?<![A-Za-z])(?i:https?|ftp)://(?:[^\s/@]{{1,64}}@)?"
    rf"(?:(?:{_LABEL}\.)+{_TLD}|\d{{1,3}}(?:\.\d{{1,3}}){{3}}|localhost|\[[0-9A-Fa-f:.]+\])(?::\d{{1,5}})?{_PATH}?"
    rf"|(?<![A-Za-z0-9.\-])(?i:www\d?)\.(?:{_LABEL}\.)*{_TLD}(?::\d{{1,5}})?{_PATH}?"
    rf"|(?<![A-Za-z0-9@.\-/_])(?:{_ASCII_LABEL}\.)+[A-Za-z]{{2,24}}(?::\d{{1,5}})?/[!-~]*"
)
# A domain on its own ("jo-smith.me"): only top-level domains that are not also English words ("good.it works"),
# in lower case ("Great.No problems").
_BARE_TLDS: Final = (
    "com|net|org|edu|gov|info|biz|io|ai|app|dev|xyz|top|vip|shop|store|online|site|club|live|tech|cloud|blog|"
    "example|test|cn|uk|de|fr|jp|ru|nl|se|fi|dk|pl|br|kr|hk|tw|sg|nz|za|mx|ch|ie|pt|gr|tr|ua|cz|hu|ro|eu|au|ca|tv|cc|"
    "me|co"
)
# "me" and "co" end sentences typed without a space ("gave it to.me"): they need a name of three characters or more.
_SHORT_WORD_TLDS: Final = frozenset({"me", "co"})
_BARE_DOMAIN: Final = re.compile(
    rf"(?<![A-Za-z0-9À-ɏ@.\-_/])(?P<labels>(?:{_ASCII_LABEL}\.)+)(?:{_BARE_TLDS})(?![A-Za-z0-9\-@]|\.[A-Za-z0-9])"
)
# Shops, brands and big sites: their domain in a review names the site ("cheaper on amazon.com"), never a person,
# and the competitor detection needs it.
_PUBLIC_SITES: Final = frozenset(
    "amazon jd taobao tmall dangdang walmart ebay etsy target bestbuy costco aliexpress alibaba pinduoduo suning "
    "vip apple samsung xiaomi mi huawei sony lenovo dell hp asus acer anker google youtube facebook instagram "
    "twitter x tiktok douyin bilibili weibo zhihu baidu qq 163 126 sina sohu wikipedia github reddit microsoft ikea "
    "nike adidas zara shein temu meituan xiaohongshu kuaishou netflix spotify paypal alipay wechat yelp tripadvisor "
    "booking expedia airbnb ctrip trip homedepot lowes wayfair newegg rakuten lazada shopee flipkart argos tesco "
    "currys otto zalando mediamarkt fnac cdiscount carrefour nokia motorola lg htc oneplus oppo vivo realme honor "
    "canon nikon panasonic philips bose jbl logitech intel amd nvidia dyson sharp toshiba hitachi haier midea gree "
    "dji garmin fitbit kindle audible".split()
)
_SECOND_LEVEL: Final = frozenset("com net org co edu gov ac".split())
_EMAIL: Final = re.compile(
    rf"(?<![A-Za-z0-9À-ɏ._%+\-])[A-Za-z0-9À-ɏ](?:[A-Za-z0-9À-ɏ._%+\-]{{0,63}})"
    rf" ?@ ?(?:{_LABEL}\.)+{_TLD}(?![A-Za-z0-9\-])"
)
_AT: Final = r"(?:\s*[\[\(\{<]\s*(?:at|@)\s*[\]\)\}>]\s*|\s*艾特\s*|\s*\(a\)\s*)"
_DOT: Final = r"(?:\s*[\[\(\{<]\s*(?:dot|\.)\s*[\]\)\}>]\s*|\s+dot\s+|\s*点\s*|\s*\.\s*)"
_SPELLED_DOT: Final = r"(?:\s*[\[\(\{<]\s*(?:dot|\.)\s*[\]\)\}>]\s*|\s+dot\s+|\s*点\s*)"
_LOCAL_WORD: Final = r"[A-Za-z0-9][A-Za-z0-9._+\-]{0,63}"
# "jo dot smith at …": the local part may spell its dots out too.
_LOCAL: Final = rf"(?<![A-Za-z0-9_.\-]){_LOCAL_WORD}(?:\s+(?i:dot)\s+{_LOCAL_WORD})*"
_DOMAIN_WORD: Final = r"[A-Za-z0-9](?:[A-Za-z0-9\-]{0,61}[A-Za-z0-9])?"
# "jo[at]example[dot]com", "jo(at)example.com", "jo艾特qq点com"
_EMAIL_BRACKETED: Final = re.compile(
    rf"(?i:{_LOCAL}{_AT}{_DOMAIN_WORD}(?:{_DOT}{_DOMAIN_WORD})*{_DOT}(?:{COMMON_TLDS})(?![A-Za-z0-9]))"
)
# "jo at example dot com": a plain " at " with a spelled-out dot.
_EMAIL_SPELLED: Final = re.compile(
    rf"(?i:{_LOCAL}\s+at\s+{_DOMAIN_WORD}(?:{_DOT}{_DOMAIN_WORD})*{_SPELLED_DOT}(?:{COMMON_TLDS})(?![A-Za-z0-9]))"
)
# "jo.smith at gmail.com": a plain " at " and a real dot reads like "bought it at walmart.com", so it counts only
# when the local part has a digit, "_" or "." in it, or the words before say e-mail.
_EMAIL_AT_WORD: Final = re.compile(
    rf"(?i:{_LOCAL}\s+at\s+{_DOMAIN_WORD}(?:\.{_DOMAIN_WORD})*\.(?:{COMMON_TLDS})(?![A-Za-z0-9.]))"
)
_EMAIL_CUE: Final = re.compile(r"(?i:e-?mail|mail|contact|reach|write to|邮箱|邮件)[^\n]{0,12}$")
# "look at example dot com" is not an address: the word before " at " must not be an ordinary English word.
_NOT_A_LOCAL_PART: Final = frozenset(
    "look looked looking buy bought sold sell selling available found find order ordered it them me us him her you "
    "price prices priced sale sales deal deals shop shopping here there purchased purchase get got arrive arrived "
    "stay stayed is are was were be been cheaper cheap best better worse online listed listing seen saw sells store "
    "stores even one mine also only and but or now just still cost costs free paid sign signed log logged".split()
)
_IPV4: Final = re.compile(r"(?<![A-Za-z0-9_.])(?:\d{1,3}\.){3}\d{1,3}(?::\d{1,5})?(?![A-Za-z0-9_]|\.\d)")
_IPV6: Final = re.compile(r"(?<![A-Za-z0-9_:])(?:[0-9A-Fa-f]{0,4}:){2,7}[0-9A-Fa-f]{0,4}(?![A-Za-z0-9_:])")
_VERSION_BEFORE: Final = re.compile(
    r"(?:\bv|\bver\.?|version|firmware|fw|build|release|update|patch|bios|driver|ios|android|windows|macos|os|"
    r"miui|emui|harmonyos|版本|固件|系统)(?:号|\s*(?:number|no\.?))?\s*[:：]?\s*$",
                                    re.IGNORECASE)
_CHAT_SERVICE: Final = (
    r"(?:微信|威信|薇信|徽信|[Vv]信|(?<![A-Za-z])(?:wechat|weixin|vx|wx)(?![A-Za-z])|(?<![A-Za-z])(?:qq|扣扣)"
    r"|企鹅号?|(?<![A-Za-z])(?:whats\s?app|telegram|skype|kakao(?:talk)?|snapchat|discord|signal|viber)(?![A-Za-z])"
    r"|(?<![A-Za-z])line(?=\s*id)|(?<![A-Za-z0-9])v(?=\s*[:：]))"
)
_CHAT_MARK: Final = r"(?:\s*(?:号码?|账号|帐号|id|ID|handle|username|user name|number|no\.?))?\s*(?:is|是|为|[:：=])?"
_CHAT_ID: Final = re.compile(
    rf"(?i:(?P<add>加我?|add me on|add|\+)?\s*(?P<service>{_CHAT_SERVICE})(?P<mark>{_CHAT_MARK}))"
    r"\s*(?P<id>@?[A-Za-z0-9][A-Za-z0-9_.\-]{3,31})(?![A-Za-z0-9_\-])"
)
_QQ_SERVICE: Final = re.compile(r"qq|扣扣|企鹅", re.IGNORECASE)


# Cheap tests for what each pattern cannot match without: most reviews skip most patterns.
_URL_PATH_HINT: Final = re.compile(r"\.[A-Za-z]{2,24}(?::\d{1,5})?/")
_BARE_HINT: Final = re.compile(rf"\.(?:{_BARE_TLDS})(?![A-Za-z0-9\-@]|\.[A-Za-z0-9])")
_IPV4_HINT: Final = re.compile(r"\.\d{1,3}\.\d{1,3}\.\d")
_CHAT_WORDS: Final = (
    "微信", "威信", "薇信", "徽信", "v信", "wechat", "weixin", "vx", "wx", "qq", "扣扣", "企鹅", "whats", "telegram",
    "skype", "kakao", "snapchat", "discord", "signal", "viber", "line", "v:", "v：", "v :",
)
_BRACKETS: Final = ("[", "(", "{", "<")


def _trim_link(text: str, start: int, end: int) -> int:
    while end > start and text[end - 1] in _TRAILING_PUNCT:
        end -= 1
    return end


def _urls(view: str) -> Iterator[tuple[int, int, str]]:
    for m in _URL.finditer(view):
        end = _trim_link(view, m.start(), m.end())
        if end - m.start() > 4:
            yield m.start(), end, "url"


def _bare_domains(view: str) -> Iterator[tuple[int, int, str]]:
    if "." in view and _BARE_HINT.search(view):
        for m in _BARE_DOMAIN.finditer(view):
            labels = m.group("labels").lower().rstrip(".").split(".")
            while len(labels) > 1 and labels[-1] in _SECOND_LEVEL:  # "bbc.co.uk", "jd.com.cn"
                labels.pop()
            tld = m.group(0).rsplit(".", 1)[-1]
            if tld in _SHORT_WORD_TLDS and len(labels[-1]) < 3:
                continue
            if labels[-1] not in _PUBLIC_SITES and not labels[-1].isdigit():
                yield m.start(), m.end(), "url"


def _emails(view: str, low: str) -> Iterator[tuple[int, int, str]]:
    if "@" in view:
        for m in _EMAIL.finditer(view):
            local = m.group(0).split("@")[0]
            if local.endswith(" ") and not any(ch.isalpha() for ch in local):
                continue  # "49.99 @ shop.com" is a price at a shop
            yield m.start(), m.end(), "email"
    if ("at" in low and mentions(view, _BRACKETS)) or "艾特" in view or "(a)" in low:
        for m in _EMAIL_BRACKETED.finditer(view):
            yield m.start(), m.end(), "email"
    if " at " not in low:
        return
    if " dot " in low or "点" in view or ("dot" in low and mentions(view, _BRACKETS)):
        for m in _EMAIL_SPELLED.finditer(view):
            if m.group(0).split()[0].lower() not in _NOT_A_LOCAL_PART:
                yield m.start(), m.end(), "email"
    if "." not in view:
        return
    for m in _EMAIL_AT_WORD.finditer(view):
        local = m.group(0).split()[0]
        if local.lower() in _NOT_A_LOCAL_PART:
            continue
        if re.search(r"[\d_.]", local) or _EMAIL_CUE.search(view, max(0, m.start() - 20), m.start()):
            yield m.start(), m.end(), "email"


def _ips(view: str) -> Iterator[tuple[int, int, str]]:
    for m in _IPV4.finditer(view) if "." in view and _IPV4_HINT.search(view) else ():
        address = m.group(0).split(":")[0]
        if _VERSION_BEFORE.search(view, max(0, m.start() - 12), m.start()):
            continue
        try:
            ipaddress.IPv4Address(address)
        except ValueError:
            continue
        yield m.start(), m.end(), "ip"
    if "::" in view or view.count(":") >= 7:
        for m in _IPV6.finditer(view):
            candidate = m.group(0)
            if (candidate.count(":") < 2 or not ("::" in candidate or candidate.count(":") == 7)
                    or not any(c.isalnum() for c in candidate)):
                continue
            try:
                ipaddress.IPv6Address(candidate)
            except ValueError:
                continue
            if any(c.isalpha() for c in candidate) or "::" in candidate:
                yield m.start(), m.end(), "ip"


def _chat_ids(view: str, low: str) -> Iterator[tuple[int, int, str]]:
    if not mentions(low, _CHAT_WORDS):
        return
    for m in _CHAT_ID.finditer(view):
        chat_id = m.group("id").lstrip("@")
        explicit = bool(m.group("mark").strip()) or bool(m.group("add"))
        if m.group("service").lower() in ("vx", "wx", "v") and m.end("service") == m.start("id"):
            continue  # "vx600x" is a model name: an id after these short names is set apart from them
        if _QQ_SERVICE.fullmatch(m.group("service")):
            if not re.fullmatch(r"[1-9]\d{4,11}", chat_id) and not (explicit and re.search(r"\d", chat_id)):
                continue
        elif not (re.search(r"[\d_]", chat_id) or explicit):
            continue
        if chat_id.isdigit() and len(chat_id) < 5:
            continue
        yield m.start("id"), m.end("id"), "chat_id"


def find_contacts(view: str) -> Iterator[tuple[int, int, str]]:
    """(start, end, kind) of every link, e-mail address, IP address and messenger id in `view`, in that order."""
    low = view.lower()
    if "://" in view or "www" in low or ("/" in view and _URL_PATH_HINT.search(view)):
        yield from _urls(view)
    yield from _emails(view, low)
    yield from _bare_domains(view)
    yield from _ips(view)
    yield from _chat_ids(view, low)
