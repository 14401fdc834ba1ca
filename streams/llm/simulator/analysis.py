"""What the simulated model answers about a review: a deterministic, schema-valid `ReviewAnalysis` dict (no model).

Keyword lexicons in English and Chinese, aspects whose evidence is a verbatim clause of the review, language from
the share of CJK characters. The review text only ever feeds those lexicons, so instructions inside it ("ignore
previous instructions…", forged delimiters, fake JSON) change nothing: the reply keeps the schema.
"""

from __future__ import annotations

import re
from typing import Any, Final

__all__ = ["simulate_analysis"]


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

_ASPECTS: Final[dict[str, tuple[str, ...]]] = {
    "battery": ("battery", "charge", "charging", "电池", "续航", "充电"),
    "delivery": ("delivery", "delivered", "shipping", "shipped", "arrived", "courier",
                 "物流", "快递", "发货", "送货", "配送", "到货"),
    "packaging": ("packaging", "package", "box", "包装", "盒子"),
    "price": ("price", "cost", "expensive", "cheap", "value", "价格", "价钱", "性价比", "便宜", "贵"),
    "quality": ("quality", "build", "material", "质量", "做工", "材质", "品质"),
    "size": ("size", "fit", "fits", "too small", "too big", "tight", "尺码", "尺寸", "大小", "偏大", "偏小"),
    "customer service": ("service", "support", "seller", "customer service", "客服", "服务", "卖家", "商家"),
    "screen": ("screen", "display", "屏幕", "显示"),
    "sound": ("sound", "audio", "noise", "音质", "声音", "噪音"),
    "comfort": ("comfortable", "comfort", "uncomfortable", "舒服", "舒适"),
    "appearance": ("look", "looks", "color", "colour", "design", "颜色", "外观", "好看", "漂亮"),
}
_ASPECT_RE: Final[dict[str, re.Pattern[str]]] = {
    name: re.compile(
        "|".join(rf"(?<![A-Za-z]){re.escape(w)}(?![A-Za-z])" if w.isascii() else re.escape(w) for w in words),
        re.IGNORECASE,
    )
    for name, words in _ASPECTS.items()
}
_ASPECT_ZH: Final = {
    "battery": "电池", "delivery": "物流", "packaging": "包装", "price": "价格", "quality": "质量", "size": "尺码",
    "customer service": "客服", "screen": "屏幕", "sound": "音质", "comfort": "舒适度", "appearance": "外观",
}
_ISSUE_OF_ASPECT: Final = {
    "delivery": "shipping", "packaging": "packaging", "price": "price", "quality": "quality", "size": "size_fit",
    "customer service": "service", "battery": "quality", "screen": "quality", "sound": "quality",
}
_MISSING: Final = re.compile(r"\bmissing\b|\bnot included\b|少了|缺少|少发|漏发|缺件", re.IGNORECASE)
_FRAUD: Final = re.compile(r"\b(?:fake|scam|counterfeit|fraud)\b|假货|骗|山寨", re.IGNORECASE)
_SAFETY: Final = re.compile(r"\b(?:fire|burn(?:ed|t|s)?|smoke|smoking|shock(?:ed)?|explod\w*|overheat\w*)\b|"
                            r"起火|冒烟|爆炸|漏电|烫伤|着火|过热", re.IGNORECASE)
_RETURN: Final = re.compile(r"\b(?:refund|return(?:ed|ing)?|money back|send it back)\b|退货|退款|换货|退钱",
                            re.IGNORECASE)
_QUESTION: Final = re.compile(r"[?？]|吗[。！]?$|\b(?:how do|does it|is there|can i)\b", re.IGNORECASE)
_SUGGESTION: Final = re.compile(r"\b(?:suggest|would be nice|should add|wish it|please add)\b|建议|希望", re.IGNORECASE)
_COMPETITORS: Final = ("Apple", "Samsung", "Sony", "Bose", "Anker", "Xiaomi", "Huawei", "JBL", "Nike", "Adidas",
                       "Amazon", "小米", "华为", "三星", "索尼", "京东", "淘宝", "拼多多")
_COMPETITOR_RE: Final = re.compile("|".join(rf"(?<![A-Za-z]){re.escape(c)}(?![A-Za-z])" for c in _COMPETITORS),
                                   re.IGNORECASE)
_CLAUSE: Final = re.compile(r"[^.!?;。！？；，,\n]+")
_SENTENCE: Final = re.compile(r"[^.!?。！？\n]+[.!?。！？]*")
# Sentences that address the model instead of describing the product: a careful model ignores them as content, so
# the simulator leaves them out of the sentiment (and never obeys them).
_INJECTION: Final = re.compile(
    r"\b(?:ignore|disregard|forget)\b.{0,40}\b(?:instructions?|prompts?|rules)\b|\b(?:system|assistant)\s*:|"
    r"\byou are now\b|\bact as\b|\bpretend\b|\breply (?:with|positive)|\boutput\s*(?:[:{]|json|only)|"
    r"\brespond only\b|忽略|无视|指令|提示词|系统提示|扮演|输出\s*[{：:]|(?:输出|回复|给).{0,4}好评|你现在是",
    re.IGNORECASE,
)
_HAN: Final = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff]")
_KANA: Final = re.compile(r"[\u3040-\u30ff]")
_HANGUL: Final = re.compile(r"[\uac00-\ud7af]")
_LATIN: Final = re.compile(r"[A-Za-z]")


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


def _language(text: str, lang_hint: str | None) -> str:
    han, kana, hangul = len(_HAN.findall(text)), len(_KANA.findall(text)), len(_HANGUL.findall(text))
    latin = len(_LATIN.findall(text))
    if kana and kana + han > latin:
        return "ja"
    if hangul > latin:
        return "ko"
    if han and han / (han + latin / 4) > 0.3:  # ~4 Latin letters per word, ~1 Han character per word
        return "zh"
    if latin:
        return "en"
    hint = (lang_hint or "").strip().lower()
    return hint if 2 <= len(hint) <= 16 and hint.isascii() and hint.replace("-", "").isalpha() else "en"


def simulate_analysis(text: str, lang_hint: str | None = None, rating: int | None = None) -> dict[str, Any]:
    """A deterministic, schema-valid `ReviewAnalysis` dict for `text` from keyword heuristics (no model)."""
    language = _language(text, lang_hint)
    zh = language == "zh"
    aspects: list[dict[str, str]] = []
    seen: set[str] = set()
    for clause_match in _CLAUSE.finditer(text):
        clause = clause_match.group(0).strip()
        if not clause or _INJECTION.search(clause):
            continue
        pos, neg = _score(clause)
        for name, pattern in _ASPECT_RE.items():
            if name in seen or len(aspects) >= 12 or not pattern.search(clause):
                continue
            seen.add(name)
            sentiment = "positive" if pos > neg else "negative" if neg > pos else "neutral"
            aspects.append({"name": name, "sentiment": sentiment, "evidence": clause[:300].strip()})
    pos = neg = 0
    for sentence in _SENTENCE.finditer(text):
        if not _INJECTION.search(sentence.group(0)):
            p, n = _score(sentence.group(0))
            pos, neg = pos + p, neg + n
    raw = (pos - neg) / (pos + neg) if pos + neg else 0.0
    stars = (rating - 3) / 2 if isinstance(rating, int) and 1 <= rating <= 5 else None
    score = raw if stars is None else (0.6 * raw + 0.4 * stars if pos + neg else 0.8 * stars)
    score = round(max(-1.0, min(1.0, score)), 2)
    if pos and neg and abs(raw) < 0.5:
        sentiment = "mixed"
    elif score > 0.15:
        sentiment = "positive"
    elif score < -0.15:
        sentiment = "negative"
    else:
        sentiment = "neutral"

    issues: list[str] = []
    for aspect in aspects:
        issue = _ISSUE_OF_ASPECT.get(aspect["name"])
        if aspect["sentiment"] == "negative" and issue and issue not in issues:
            issues.append(issue)
    for pattern, issue in ((_MISSING, "missing_parts"), (_FRAUD, "fraud"), (_SAFETY, "safety")):
        if pattern.search(text) and issue not in issues:
            issues.append(issue)

    if _RETURN.search(text):
        intent = "return_request"
    elif _QUESTION.search(text) and sentiment != "negative":
        intent = "question"
    elif sentiment in ("negative", "mixed") or issues:
        intent = "complaint"
    elif _SUGGESTION.search(text):
        intent = "suggestion"
    elif sentiment == "positive":
        intent = "praise"
    else:
        intent = "other"
    if "safety" in issues:
        urgency = "critical"
    elif "fraud" in issues or intent == "return_request":
        urgency = "high"
    elif intent == "complaint":
        urgency = "medium"
    else:
        urgency = "low"

    competitors: list[str] = []
    for m in _COMPETITOR_RE.finditer(text):
        if m.group(0) not in competitors and len(competitors) < 10:
            competitors.append(m.group(0))

    names = [a["name"] for a in aspects[:4]]
    if zh:
        label = {"positive": "正面", "negative": "负面", "mixed": "褒贬不一", "neutral": "中性"}[sentiment]
        summary = f"{label}评价" + (f"，涉及{'、'.join(_ASPECT_ZH[n] for n in names)}" if names else "") + "。"
    else:
        summary = f"{sentiment.capitalize()} review" + (f" mentioning {', '.join(names)}" if names else "") + "."

    reply: str | None = None
    if intent in ("complaint", "return_request") or sentiment in ("negative", "mixed"):
        reply = (
            "非常抱歉给您带来不好的体验。请联系客服并提供订单信息，我们会尽快为您核实处理。"
            if zh
            else "We're sorry to hear about your experience. Please contact our support team with your order "
            "details so we can look into it."
        )
    elif intent == "question":
        reply = (
            "感谢您的提问，客服会尽快为您解答。"
            if zh
            else "Thanks for your question! Our support team will get back to you."
        )

    return {
        "sentiment": sentiment,
        "sentiment_score": score,
        "aspects": aspects,
        "intent": intent,
        "urgency": urgency,
        "issues": issues,
        "competitors": competitors,
        "summary": summary,
        "suggested_reply": reply,
        "language": language,
    }

