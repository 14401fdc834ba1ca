"""What the simulated model answers about one review: the offline analyzer's rules, with a keyword count in place
of its trained classifier.

    simulate_analysis("电池很耐用，但是物流太慢了。想退货", rating=2)
    # {"sentiment": "mixed", ..., "aspects": [{"name": "battery", "sentiment": "positive", "evidence": "电池很耐用"},
    #  {"name": "delivery", "sentiment": "negative", "evidence": "但是物流太慢了"}], "intent": "return_request",
    #  "urgency": "high", ..., "language": "zh"}

Language, clauses, aspects with their quoted evidence, issues, intent, urgency, competitors, the summary and the reply
draft are `streams.llm.local`'s (its `LocalAnalyzer` with its lexicons, rules and writing templates), so the simulator
has no second copy of them. Only the sentiment score of a piece of text is the simulator's own (`KeywordSentiment`):
positive minus negative words over all of them, in English and Chinese, with simple negation ("not good", "不快").
That keeps it cheap (no model file, no training run), deterministic, and independent of the trained weights whose
answers the gateway falls back to.

The review text only feeds those tables, so instructions inside it ("ignore previous instructions…", forged
delimiters, fake JSON) change nothing: sentences that address the model are left out of the count, never obeyed, and
the reply keeps the schema.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Sequence
from typing import Any, Final

import numpy as np
import numpy.typing as npt

from streams.llm.local.analyzer import LocalAnalyzer
from streams.llm.local.model import ModelLanguage, SentimentModel

__all__ = ["KeywordSentiment", "polarity", "simulate_analysis"]

# |score| below this is neutral. A single sentiment word scores 1, so this only decides texts with none, where a
# star rating (the analyzer's nudge of at most 0.15) tips 1 and 5 stars and leaves 2 to 4 neutral.
NEUTRAL_BAND: Final = 0.1


def _lexicon(words: dict[str, float]) -> re.Pattern[str]:
    # Longest first, so "不好" wins over "好" and "快递" (a noun) shields the "快" (fast) inside it.
    alternation = "|".join(re.escape(w) for w in sorted(words, key=len, reverse=True))
    return re.compile(rf"(?:(?<![A-Za-z])(?:{alternation})(?![A-Za-z]))", re.IGNORECASE)


_SENTIMENT_WORDS: Final[dict[str, float]] = {
    **dict.fromkeys(
        "good great excellent love loved perfect amazing awesome fantastic happy recommend recommended nice "
        "comfortable fast quick sturdy solid worth beautiful best easy pleased satisfied "
        "好评 很好 不错 满意 喜欢 推荐 好用 舒服 漂亮 完美 快 值得 超值 给力 好 赞 棒 惊喜 结实 耐用 清晰".split(),
        1.0,
    ),
    **dict.fromkeys(
        "bad broken broke terrible poor slow late hate disappointed disappointing awful worst useless defective "
        "damaged flimsy leaks leaking missing wrong refund overpriced scam fake rude uncomfortable tight smells "
        "差评 很差 差 不好 不满意 失望 退货 退款 垃圾 假货 坏了 坏 破损 破 慢 漏 骗 难用 不值 贵 异味 掉色 起球 不行 "
        "问题 缺".split(),
        -1.0,
    ),
    **{"never arrived": -1.0, "stopped working": -1.0, "doesn't work": -1.0, "does not work": -1.0,
       "not working": -1.0, "too small": -1.0, "too big": -1.0, "works well": 1.0, "works great": 1.0},
    # Neutral shields: nouns or idioms that contain a sentiment character.
    **dict.fromkeys("快递 差不多 好像 好几 不错过 问题不大".split(), 0.0),
}
_SENTIMENT_RE: Final = _lexicon(_SENTIMENT_WORDS)
_NEGATORS_EN: Final = re.compile(r"\b(?:not|never|no|don't|didn't|isn't|wasn't|aren't|hardly|barely)\W+(?:\w+\W+)?$",
                                 re.IGNORECASE)
_NEGATORS_ZH: Final = ("不", "没", "没有", "不太", "不是很")

_SENTENCE: Final = re.compile(r"[^.!?。！？\n]+[.!?。！？]*")
# Sentences that address the model instead of describing the product: a careful model ignores them as content, so
# the simulator leaves them out of the sentiment (and never obeys them).
_INJECTION: Final = re.compile(
    r"\b(?:ignore|disregard|forget)\b.{0,40}\b(?:instructions?|prompts?|rules)\b|\b(?:system|assistant)\s*:|"
    r"\byou are now\b|\bact as\b|\bpretend\b|\breply (?:with|positive)|\boutput\s*(?:[:{]|json|only)|"
    r"\brespond only\b|忽略|无视|指令|提示词|系统提示|扮演|输出\s*[{：:]|(?:输出|回复|给).{0,4}好评|你现在是",
    re.IGNORECASE,
)
def _score(text: str) -> tuple[int, int]:
    """(positive hits, negative hits) of a clause, with simple negation ("not good", "不快")."""
    pos = neg = 0
    for m in _SENTIMENT_RE.finditer(text):
        polarity = _SENTIMENT_WORDS.get(m.group(0).lower(), _SENTIMENT_WORDS.get(m.group(0), 0.0))
        if polarity == 0.0:
            continue
        before = text[max(0, m.start() - 20) : m.start()]
        if _NEGATORS_EN.search(before) or before.endswith(_NEGATORS_ZH):
            polarity = -polarity
        if polarity > 0:
            pos += 1
        else:
            neg += 1
    return pos, neg


def polarity(text: str) -> float:
    """(positive - negative) / (positive + negative) words of `text`, leaving out sentences that address the model;
    0 without any."""
    pos = neg = 0
    for sentence in _SENTENCE.finditer(text):
        if not _INJECTION.search(sentence.group(0)):
            p, n = _score(sentence.group(0))
            pos, neg = pos + p, neg + n
    return (pos - neg) / (pos + neg) if pos + neg else 0.0


class KeywordSentiment(SentimentModel):
    """The trained classifier's stand-in: `polarity` of each text, for every language alike."""

    def __init__(self) -> None:
        super().__init__(version="sim-keywords", classifiers={},
                         neutral_band={"en": NEUTRAL_BAND, "zh": NEUTRAL_BAND})

    def decisions(self, texts: Sequence[str], lang: ModelLanguage) -> npt.NDArray[np.float64]:
        # The analyzer reads log-odds and turns them into polarity (tanh(d / 2)): give it the log-odds whose polarity
        # is the keyword count's, kept just inside ±1 so that they stay finite.
        kept = np.clip(np.array([polarity(t) for t in texts], dtype=np.float64), -0.999999, 0.999999)
        log_odds: npt.NDArray[np.float64] = np.log((1.0 + kept) / (1.0 - kept))
        return log_odds

    def warm_up(self) -> None:
        return None  # nothing to compile


@functools.cache
def _analyzer() -> LocalAnalyzer:
    return LocalAnalyzer(KeywordSentiment())


def simulate_analysis(text: str, lang_hint: str | None = None, rating: int | None = None) -> dict[str, Any]:
    """A deterministic, schema-valid `ReviewAnalysis` dict for `text` (see the module docstring)."""
    return _analyzer().analyze_text(text, lang_hint=lang_hint, rating=rating).to_dict()
