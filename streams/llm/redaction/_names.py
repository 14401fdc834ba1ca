"""People's names, where the text itself says that a word is a name.

>>> text = "Hi, I'm Sarah Jones. 我叫张三，收件人：李四"
>>> [(kind, text[s:e]) for s, e, kind in find_names(text)]
[('name', 'Sarah Jones'), ('name', '张三'), ('name', '李四')]

A name has no shape of its own ("Will", "Grace" and "Frank" are words too, and any two Chinese characters can be a
given name), so only what introduces it counts:
- "my name is …", "full name: …", "regards, …" at the end, "Dear …," / "Hi …,", "this is … from/here/speaking"
  and titles ("Mr …", "Ms …", "Dr …") — the cue is strong, so lower case is accepted after "my name is";
- "I'm …"/"I am …" only as an introduction: a capitalised word that is neither a common word nor a nationality,
  followed by a capitalised surname, or standing alone before a comma, a full stop, "and", "from" or "here",
  in text that is not written in Title Case ("I'm Happy With It!");
- Chinese: "我叫", "我的名字是", "本人", "姓名：", "收件人：", "联系人：" followed by a name; "我叫"/"我是" only
  with one of the common surnames (so "我叫了外卖" and "我是学生" stay), and "我是" only when the name ends the
  clause; a surname before 先生/女士/小姐/太太 ("王女士").
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Final

from streams.llm.redaction._view import mentions

__all__ = ["CN_SURNAMES", "find_names"]

CN_SURNAMES: Final = (
    "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈姚卢姜崔钟"
    "谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾毛郝龚邵万钱严覃武戴莫孔向汤"
)
_CN_COMPOUND_SURNAMES: Final = "欧阳|司马|诸葛|上官|东方|慕容|令狐|皇甫|司徒|尉迟|长孙|宇文"
_CN_SURNAME: Final = rf"(?:{_CN_COMPOUND_SURNAMES}|[{CN_SURNAMES}])"
# Characters that end a Chinese name: punctuation and the particles that follow a name in a sentence.
_CN_STOP: Final = "的了是在和与也就都很还又吧啊呢吗呀，。！？、；：,.!?;: \n"
_CN_CHAR: Final = rf"(?:(?![{_CN_STOP}])[\u4e00-\u9fff])"
_CN_NAME: Final = rf"(?:{_CN_SURNAME}{_CN_CHAR}{{1,2}})"
# After a label the name must end where the clause does ("名字是金山大酒店" names a hotel); after "我叫" it need not.
_CN_NAME_END: Final = r"(?=[^\u4e00-\u9fff]|[的了是在和与也就都很还又吧啊呢吗呀]|$)"
_CN_LABELLED: Final = re.compile(
    rf"(?:(?:我的名字|名字|本人姓名|姓名|收件人|收货人|联系人|签名)\s*[是叫为:：]\s*)"
    rf"(?P<name>(?:{_CN_NAME}|(?<=[:：])\s*{_CN_CHAR}{{2,3}}){_CN_NAME_END})"
    rf"|我叫(?P<called>{_CN_NAME})"
)
_CN_I_AM: Final = re.compile(rf"我是(?P<name>{_CN_NAME})(?=[，。！？,.!?\s]|$)")
_CN_NOT_NAMES: Final = frozenset(
    "高中生 高手 高管 程序员 钟点工 周末 常客 白领 黄牛 马上 金牌 方便 江湖 龙粉 毛孩子 "
    "许多 万一 石头 史上 韩粉 高中 初中生 田园 范儿 段子手 雷锋 孔乙己 宋体 向导 戴眼镜 "
    "汤圆 熊孩子 白富美 白痴 胡说 吴彦祖 秦始皇 龙哥 于是".split()
)
_CN_HONORIFIC: Final = re.compile(rf"(?<![{CN_SURNAMES}])(?P<name>{_CN_SURNAME})(?:先生|女士|小姐|太太)")

# A capitalised word, hyphenated or with an apostrophe inside ("O'Neil", "Smith-Jones"), never a possessive "'s".
_EN_WORD: Final = r"[A-Z][a-z]+(?:[-'’](?![st]\b)[A-Z]?[a-z]+)?"
# Words that follow "I'm"/"Dear"/"Hi" capitalised without being a name.
_NOT_NAMES: Final = frozenset(
    "a an the and or but not no so very really just also still sure glad happy sad sorry disappointed impressed "
    "satisfied pleased thrilled excited new old back here there home done finished fine good great ok okay all "
    "sir madam madame customer customers team everyone everybody folks guys friends friend seller sellers shop "
    "store support buyer buyers reader readers world mate team valued dear amazon apple google this that it "
    "in on at for from with about going gonna trying looking using buying writing returning never always "
    "american british english chinese japanese korean german french spanish italian dutch canadian australian "
    "indian russian mexican brazilian swiss swedish irish scottish welsh asian european african muslim christian "
    "jewish catholic vegan vegetarian mom mum dad mother father wife husband student teacher nurse doctor engineer "
    "retired disabled pregnant allergic afraid aware tired hooked obsessed convinced love like awesome nice "
    "perfect excellent amazing best worst again much lot you bye regards thanks hello hi hey bad terrible "
    "horrible disappointing five one two three four stars star product item service quality".split()
)
_BRANDS_WITH_TITLES: Final = frozenset("martens pepper scholl bronner oetker jart coffee clean muscle bean".split())
_NAME_AFTER_CUE: Final = re.compile(
    r"(?i:\bmy\s+(?:full\s+)?name\s+is|\bmy\s+name's|\bfull\s+name\s*:|\bi\s+am\s+called|\bi'm\s+called)\s+"
    r"(?P<name>[A-Za-z][a-z'’-]+(?:\s+[A-Za-z][a-z'’-]+){0,2})"
)
# Lower-case words after "my name is" that describe the name rather than being it ("printed", "misspelled").
_NOT_A_LOWER_NAME: Final = re.compile(r"(?:ed|ing|ly)$")
_TITLE: Final = re.compile(rf"(?<![A-Za-z])(?:Mr|Mrs|Ms|Mx|Miss|Dr|Prof)\.?\s+(?P<name>{_EN_WORD}(?:\s+{_EN_WORD})?)")
_SALUTATION: Final = re.compile(
    rf"(?<![A-Za-z])(?:Dear|Hi|Hello|Hey|Greetings)\s+(?P<name>{_EN_WORD}(?:\s+{_EN_WORD})?)(?=\s*[,!:\n—-])"
)
_SIGN_OFF: Final = re.compile(
    rf"(?:^|[.!?\n]\s*)(?i:(?:kind |best |warm )?regards|sincerely|cheers|thanks|thank you|best wishes|yours truly|"
    rf"best)\s*(?:[,\-–—]\s*|\n\s*)"
    rf"(?P<name>{_EN_WORD}(?:\s+{_EN_WORD})?)\s*[.!]?\s*$"
)
_I_AM: Final = re.compile(
    rf"(?<![A-Za-z])(?:I'm|I’m|I am|Im)\s+(?P<name>{_EN_WORD})(?:\s+(?P<surname>{_EN_WORD}))?"
    r"(?P<after>\s*(?:[,.!;]|$)|\s+(?:and|from|here)\b)?"
)
_THIS_IS: Final = re.compile(
    rf"(?<![A-Za-z])(?:This is|this is|It's|it's)\s+(?P<name>{_EN_WORD}(?:\s+{_EN_WORD})?)"
    r"(?=\s+(?:from|here|speaking)\b)"
)
_WORD: Final = re.compile(r"[A-Za-z][A-Za-z'’-]*")


def _title_case(text: str) -> bool:
    """Most words capitalised: a headline, where capitals say nothing about names."""
    words = _WORD.findall(text)
    return len(words) >= 5 and sum(w[0].isupper() for w in words) >= 0.7 * len(words)


def _plain_name(words: list[str]) -> list[str]:
    """The leading words that can be a name: stop at the first ordinary word."""
    kept: list[str] = []
    for w in words:
        if w.lower().strip("'’") in _NOT_NAMES or (w.islower() and _NOT_A_LOWER_NAME.search(w)):
            break
        kept.append(w)
    return kept


# Cheap tests for what each pattern cannot match without.
_TITLE_WORDS: Final[tuple[str, ...]] = ("Mr", "Ms", "Mx", "Miss", "Dr", "Prof")
_SALUTATION_WORDS: Final[tuple[str, ...]] = ("Dear", "Hi", "Hello", "Hey", "Greetings")
_SIGN_OFF_WORDS: Final[tuple[str, ...]] = ("regards", "sincerely", "cheers", "thank", "best")
_THIS_IS_WORDS: Final[tuple[str, ...]] = ("this is", "it's")
_I_AM_WORDS: Final = ("I'm", "I’m", "I am", "Im ")
_CN_NAME_WORDS: Final = (
    "名字", "姓名", "收件人", "收货人", "联系人", "签名", "我叫", "我是", "先生", "女士", "小姐", "太太",
)


def _english(view: str) -> Iterator[tuple[int, int, str]]:
    low = view.lower()
    for m in _NAME_AFTER_CUE.finditer(view) if "name" in low or "called" in low else ():
        words = _plain_name(m.group("name").split())
        if words:
            start = m.start("name")
            yield start, start + len(" ".join(words)), "name"
    for text, cue_words, rx in ((view, _TITLE_WORDS, _TITLE), (view, _SALUTATION_WORDS, _SALUTATION),
                                (low, _SIGN_OFF_WORDS, _SIGN_OFF), (low, _THIS_IS_WORDS, _THIS_IS)):
        if not mentions(text, cue_words):
            continue
        for m in rx.finditer(view):
            name = m.group("name").split()
            kept = _plain_name(name)
            # A sign-off is the last words of the text: all of them must be a name ("Thanks, Love It!" is not).
            if name[0].lower() in _BRANDS_WITH_TITLES or not kept or (rx is _SIGN_OFF and kept != name):
                continue
            yield m.start("name"), m.start("name") + len(" ".join(kept)), "name"
    if mentions(view, _I_AM_WORDS) and not _title_case(view):
        for m in _I_AM.finditer(view):
            name, surname = m.group("name"), m.group("surname")
            if name.lower() in _NOT_NAMES:
                continue
            if surname:
                if surname.lower() not in _NOT_NAMES:
                    yield m.start("name"), m.end("surname"), "name"
            elif m.group("after") is not None:
                yield m.start("name"), m.end("name"), "name"


def _chinese(view: str) -> Iterator[tuple[int, int, str]]:
    if not mentions(view, _CN_NAME_WORDS):
        return
    for m in _CN_LABELLED.finditer(view):
        group = "name" if m.group("name") else "called"
        yield m.start(group), m.end(group), "name"
    for m in _CN_I_AM.finditer(view):
        if m.group("name") not in _CN_NOT_NAMES:
            yield m.start("name"), m.end("name"), "name"
    for m in _CN_HONORIFIC.finditer(view):
        yield m.start("name"), m.end(0), "name"


def find_names(view: str) -> Iterator[tuple[int, int, str]]:
    """(start, end, "name") of every name that the text introduces as one."""
    yield from _english(view)
    yield from _chinese(view)
