"""A fake OpenAI chat-completions server over real HTTP, for tests and benchmarks of the LLM gateway.

    sim = await start_simulator(SimulatorConfig(rpm=60, latency_median_s=0.2, latency_p99_s=1.5, seed=7))
    client = openai.AsyncOpenAI(base_url=sim.base_url, api_key="anything")  # any key unless config.api_key is set
    ...
    print(sim.stats()["rate_limited_429"])
    await sim.close()

Command line: `reviewstream simulate-llm --port 8000 --rpm 500 --tpm 200000 --error-rate 0.01` (see `main`).

Endpoints: `POST /v1/chat/completions`, `GET /v1/models`, `GET /health`, `GET /stats` (JSON counters).

What it does like OpenAI:
- Rate limits over a sliding window (60 s by default) counted by the server: requests/min and tokens/min, where a
  request's tokens are its prompt estimate plus the reply's. Over the limit it answers 429 with `retry-after`
  (seconds, rounded up), `retry-after-ms` and an OpenAI-style error body. Every chat response carries
  `x-ratelimit-limit-requests`, `x-ratelimit-remaining-requests`, `x-ratelimit-limit-tokens`,
  `x-ratelimit-remaining-tokens`, `x-ratelimit-reset-requests`, `x-ratelimit-reset-tokens` (durations like `"1.2s"`,
  `"850ms"`, `"1m3s"`; "reset" here is when the oldest charge in the window expires, i.e. when capacity next grows).
- Latency: fixed, or lognormal with a given median and p99. Faults at configurable rates: 500/503 with an OpenAI
  error body, timeouts (the request is held for `timeout_hold_s`, far beyond any client timeout) and invalid replies
  (prose, code fences, missing fields, bad enums, out-of-range numbers, extra keys, truncated JSON) that exercise the
  caller's validation and repair. A seed makes the fault and latency sequence reproducible.
- `usage`: prompt_tokens is the estimate of the request (`streams.llm.prompt.estimate_tokens`), completion_tokens the
  estimate of the reply.

What it answers: for a structured-output request (`response_format` json_schema or json_object) it finds the review
blocks of the last user message that has any (the format of `streams.llm.prompt`) and returns a schema-valid
`ReviewAnalysis` from a cheap deterministic heuristic: keyword lexicons in English and Chinese, aspects whose evidence
is a verbatim clause of the review, language from the share of CJK characters. The review text only ever feeds those
lexicons, so instructions inside it ("ignore previous instructions…", forged delimiters, fake JSON) change nothing:
the reply keeps the schema. It does not use the project's local analyzer on purpose: it must stay cheap and
independent of the thing under test. Without review blocks, the last user message is analysed as the text.

Batch contract (micro-batching in the gateway, the compact format of `streams.llm.batch_format`):
- Request: one user message with a `<reviews id="NONCE">` element holding a line per review, `[n,"text"]` or
  `[n,"text",rating,lang_hint]` (`build_batch_messages`), and `response_format` json_schema named
  `review_analysis_batch_keyed` or `review_analysis_batch_compact` (`batch_response_format(answer)`). The element
  alone also selects batch mode, whatever the response_format (llama.cpp-style `json_object` requests carry no schema
  name: the attached schema, if it is one of the two, tells the shape; otherwise the default, `DEFAULT_BATCH_ANSWER`).
- Reply: `{"items": [ITEM, ...]}`, one ITEM per line, same order, in the shape the request asked for (an object with
  short keys, or a positional array), each with the line's `n`: the very analysis a single request for that review
  gets (`simulate_analysis`), written with `compact_item`. Its completion tokens are counted from that content like
  any reply's, so the keyed shape's keys cost what they would.
- The caller expands and validates each item on its own (`expand_item`, then `validate_analysis(item, text)`) and
  resends the missing or invalid ones as single requests. With `invalid_rate`, a batch reply is either wholly
  unparsable or has one item broken or dropped, so both fallbacks get exercised. The whole batch counts as one
  request against the RPM limit and its summed tokens against the TPM limit.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import contextlib
import dataclasses
import itertools
import json
import logging
import math
import random
import re
import signal
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Final, Literal

from aiohttp import web

from streams.llm.batch_format import (
    BATCH_SCHEMA_NAMES,
    DEFAULT_BATCH_ANSWER,
    batch_answer_of,
    compact_item,
    parse_batch_reviews,
)
from streams.llm.marketing_writer import MARKETING_SCHEMA_NAME, simulate_marketing_reply
from streams.llm.prompt import estimate_text_tokens, estimate_tokens, parse_review_blocks

__all__ = [
    "Outcome",
    "RateLimitState",
    "RunningSimulator",
    "SimulatorConfig",
    "SlidingWindowLimiter",
    "main",
    "simulate_analysis",
    "start_simulator",
]

log = logging.getLogger(__name__)

Outcome = Literal["ok", "invalid", "error", "timeout", "rate_limit"]

# z-score of the 99th percentile of a standard normal: turns (median, p99) into a lognormal sigma.
_Z99: Final = 2.3263478740408408


@dataclass
class SimulatorConfig:
    """How the fake endpoint behaves. Mutable on purpose: a test may raise `error_rate` while a server runs."""

    latency_median_s: float = 0.0
    # None (or not above the median): every request takes exactly `latency_median_s`.
    latency_p99_s: float | None = None
    rpm: int = 10_000
    tpm: int = 10_000_000
    # OpenAI counts per minute; tests shrink the window so a 429 clears within a second.
    window_s: float = 60.0
    error_rate: float = 0.0
    timeout_rate: float = 0.0
    timeout_hold_s: float = 300.0
    invalid_rate: float = 0.0
    seed: int | None = None
    model: str = "reviewstream-sim"
    # When set, any other bearer token gets 401 like OpenAI's "Incorrect API key provided".
    api_key: str | None = None
    # A badly behaved provider that echoes the whole key in its 401 body: tests that callers scrub it.
    echo_key_in_errors: bool = False
    # Outcomes forced on the first requests, in order, before the random rates apply (deterministic tests).
    script: Sequence[Outcome] = ()
    # How many recent request bodies `RunningSimulator.requests` keeps for tests to inspect.
    record_requests: int = 100


# ------------------------------------------------------------------------------------------------ rate limiting
@dataclass(frozen=True, slots=True)
class RateLimitState:
    limit_requests: int
    remaining_requests: int
    limit_tokens: int
    remaining_tokens: int
    reset_requests_s: float
    reset_tokens_s: float


class SlidingWindowLimiter:
    """Requests and tokens admitted in the last `window_s` seconds; time is passed in, so it is testable without
    sleeping.

    >>> lim = SlidingWindowLimiter(rpm=2, tpm=100, window_s=60)
    >>> lim.try_acquire(30, now=0.0), lim.try_acquire(30, now=1.0), lim.try_acquire(30, now=2.0)
    (None, None, 58.0)
    """

    def __init__(self, rpm: int, tpm: int, window_s: float = 60.0) -> None:
        if rpm < 1 or tpm < 1 or window_s <= 0:
            raise ValueError(f"rate limits must be positive, got rpm={rpm} tpm={tpm} window_s={window_s}")
        self.rpm = rpm
        self.tpm = tpm
        self.window_s = window_s
        self._charges: collections.deque[tuple[float, int]] = collections.deque()
        self._tokens = 0

    def _expire(self, now: float) -> None:
        while self._charges and self._charges[0][0] + self.window_s <= now:
            self._tokens -= self._charges.popleft()[1]

    def try_acquire(self, tokens: int, now: float) -> float | None:
        """Charge one request of `tokens` and return None, or return the seconds until it would fit."""
        self._expire(now)
        wait = 0.0
        if len(self._charges) >= self.rpm:
            # The charge whose expiry brings the count down to rpm - 1.
            wait = self._charges[len(self._charges) - self.rpm][0] + self.window_s - now
        if self._tokens + tokens > self.tpm:
            if tokens > self.tpm:
                # Never fits; OpenAI answers 429 too ("Request too large"). A full window is the honest hint.
                wait = max(wait, self.window_s)
            else:
                freed = 0
                for t, charged in self._charges:
                    freed += charged
                    if self._tokens - freed + tokens <= self.tpm:
                        wait = max(wait, t + self.window_s - now)
                        break
        if wait > 0:
            return wait
        self._charges.append((now, tokens))
        self._tokens += tokens
        return None

    def state(self, now: float) -> RateLimitState:
        self._expire(now)
        reset = self._charges[0][0] + self.window_s - now if self._charges else 0.0
        return RateLimitState(
            limit_requests=self.rpm,
            remaining_requests=max(0, self.rpm - len(self._charges)),
            limit_tokens=self.tpm,
            remaining_tokens=max(0, self.tpm - self._tokens),
            reset_requests_s=reset,
            reset_tokens_s=reset,
        )


def _duration(seconds: float) -> str:
    """OpenAI's header style for durations: "850ms", "1.5s", "6m0s"."""
    if seconds < 1:
        return f"{max(0, math.ceil(seconds * 1000))}ms"
    minutes, rest = divmod(seconds, 60)
    text = f"{rest:.3f}".rstrip("0").rstrip(".")
    return f"{int(minutes)}m{text}s" if minutes else f"{text}s"


# ------------------------------------------------------------------------------------------------------ analysis
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


def _invalid_content(valid: dict[str, Any], rng: random.Random, batch: bool) -> str:
    """A plausible way for a model to get the contract wrong."""
    if batch:
        items = [dict(item) if isinstance(item, dict) else list(item) for item in valid["items"]]
        how = rng.choice(("unparsable", "drop_item", "break_item"))
        if how == "unparsable" or not items:
            return "Here are the analyses:\n" + json.dumps(valid, ensure_ascii=False)
        if how == "drop_item":
            items.pop(rng.randrange(len(items)))
        else:
            broken = items[rng.randrange(len(items))]
            if isinstance(broken, dict):
                broken["s"] = "very positive"  # the sentiment code
            else:
                broken[1] = "very positive"
        return json.dumps({"items": items}, ensure_ascii=False)
    data = dict(valid)
    how = rng.choice(("prose", "fenced", "missing", "enum", "range", "extra", "truncated"))
    text = json.dumps(data, ensure_ascii=False)
    if how == "prose":
        return "Sure! The customer seems " + str(data["sentiment"]) + " overall."
    if how == "fenced":
        return f"```json\n{text}\n```"
    if how == "truncated":
        return text[: max(1, len(text) // 2)]
    if how == "missing":
        data.pop("summary")
    elif how == "enum":
        data["sentiment"] = "very positive"
    elif how == "range":
        data["sentiment_score"] = 3.5
    else:
        data["hacked"] = True
    return json.dumps(data, ensure_ascii=False)


# ------------------------------------------------------------------------------------------------------- server
def _error_body(message: str, type_: str, code: str | None = None, param: str | None = None) -> dict[str, Any]:
    return {"error": {"message": message, "type": type_, "param": param, "code": code}}


@dataclass
class _Stats:
    requests_received: int = 0
    requests_accepted: int = 0
    responses_ok: int = 0
    rate_limited_429: int = 0
    server_errors_5xx: int = 0
    timeouts: int = 0
    invalid_replies: int = 0
    truncated: int = 0
    bad_requests_4xx: int = 0
    batch_requests: int = 0
    batch_items: int = 0
    prompt_tokens_accepted: int = 0
    completion_tokens_accepted: int = 0
    first_accepted_at: float | None = None
    last_accepted_at: float | None = None
    in_flight: int = 0


@dataclass
class _Answer:
    content: str
    valid: dict[str, Any] | None
    batch: bool
    items: int
    prompt_tokens: int
    completion_tokens: int


class _Simulator:
    def __init__(self, config: SimulatorConfig) -> None:
        self.config = config
        self.stats = _Stats()
        self.limiter = SlidingWindowLimiter(config.rpm, config.tpm, config.window_s)
        self.rng = random.Random(config.seed)
        self.requests: collections.deque[dict[str, Any]] = collections.deque(maxlen=max(1, config.record_requests))
        self.closing = asyncio.Event()
        self._script = list(config.script)
        self._ids = itertools.count(1)

    def _latency(self) -> float:
        cfg = self.config
        median = max(0.0, cfg.latency_median_s)
        if median <= 0 or cfg.latency_p99_s is None or cfg.latency_p99_s <= median:
            return median
        sigma = (math.log(cfg.latency_p99_s) - math.log(median)) / _Z99
        return self.rng.lognormvariate(math.log(median), sigma)

    def _draw_outcome(self) -> Outcome:
        cfg = self.config
        u = self.rng.random()
        if u < cfg.timeout_rate:
            return "timeout"
        if u < cfg.timeout_rate + cfg.error_rate:
            return "error"
        if u < cfg.timeout_rate + cfg.error_rate + cfg.invalid_rate:
            return "invalid"
        return "ok"

    def _sync_limits(self) -> None:
        # The limits may have been changed on the live config (a test or a benchmark phase).
        self.limiter.rpm, self.limiter.tpm = max(1, self.config.rpm), max(1, self.config.tpm)
        self.limiter.window_s = self.config.window_s if self.config.window_s > 0 else 60.0

    def _ratelimit_headers(self, now: float) -> dict[str, str]:
        st = self.limiter.state(now)
        return {
            "x-ratelimit-limit-requests": str(st.limit_requests),
            "x-ratelimit-remaining-requests": str(st.remaining_requests),
            "x-ratelimit-limit-tokens": str(st.limit_tokens),
            "x-ratelimit-remaining-tokens": str(st.remaining_tokens),
            "x-ratelimit-reset-requests": _duration(st.reset_requests_s),
            "x-ratelimit-reset-tokens": _duration(st.reset_tokens_s),
        }

    def _answer(self, body: dict[str, Any]) -> _Answer:
        messages = body["messages"]
        blocks = []
        batch = False
        last_user = ""
        for message in reversed(messages):
            if message.get("role") != "user" or not isinstance(message.get("content"), str):
                continue
            last_user = last_user or message["content"]
            # A batch element (`<reviews id=…>`, a line per review) or single review blocks (`<review id=…>`).
            blocks = parse_batch_reviews(message["content"])
            batch = bool(blocks)
            blocks = blocks or parse_review_blocks(message["content"])
            if blocks:
                break
        response_format = body.get("response_format") or {}
        rf_type = response_format.get("type") if isinstance(response_format, dict) else None
        schema_name = (response_format.get("json_schema") or {}).get("name") if rf_type == "json_schema" else None
        batch = batch or (schema_name in BATCH_SCHEMA_NAMES.values() and bool(blocks))
        valid: dict[str, Any]
        if schema_name == MARKETING_SCHEMA_NAME:
            valid = simulate_marketing_reply(last_user)
            content = json.dumps(valid, ensure_ascii=False)
            return _Answer(content=content, valid=valid, batch=False, items=1,
                           prompt_tokens=estimate_tokens(messages), completion_tokens=estimate_text_tokens(content))
        if batch:
            # The same analysis as a single request would get, written in the batch shape the request asked for.
            answer = batch_answer_of(response_format if isinstance(response_format, dict) else {})
            valid = {
                "items": [
                    compact_item(int(b["id"]) if b["id"].isdigit() else i,
                                 simulate_analysis(b["text"], b["lang_hint"], b["rating"]),
                                 answer or DEFAULT_BATCH_ANSWER)
                    for i, b in enumerate(blocks)
                ]
            }
        elif blocks:
            valid = simulate_analysis(blocks[0]["text"], blocks[0]["lang_hint"], blocks[0]["rating"])
        else:
            valid = simulate_analysis(last_user)
        if rf_type in ("json_schema", "json_object"):
            content = json.dumps(valid, ensure_ascii=False)
        else:
            content = f"{valid['summary'] if 'summary' in valid else 'Batch analysed.'}"
        return _Answer(
            content=content,
            valid=valid,
            batch=batch,
            items=len(blocks) if batch else 1,
            prompt_tokens=estimate_tokens(messages),
            completion_tokens=estimate_text_tokens(content),
        )

    def _unauthorized(self, request: web.Request) -> web.Response | None:
        expected = self.config.api_key
        if expected is None:
            return None
        auth = request.headers.get("Authorization", "")
        given = auth.removeprefix("Bearer ").strip()
        if given == expected:
            return None
        shown = given if self.config.echo_key_in_errors else (given[:3] + "*" * max(0, len(given) - 7) + given[-4:])
        body = _error_body(
            f"Incorrect API key provided: {shown}. You can find your API key at https://platform.openai.com.",
            "invalid_request_error",
            "invalid_api_key",
        )
        return web.json_response(body, status=401)

    async def chat_completions(self, request: web.Request) -> web.StreamResponse:
        stats = self.stats
        stats.requests_received += 1
        denied = self._unauthorized(request)
        if denied is not None:
            stats.bad_requests_4xx += 1
            return denied
        try:
            body = await request.json(loads=json.loads)
        except ValueError:
            stats.bad_requests_4xx += 1
            return web.json_response(_error_body("We could not parse the JSON body of your request.",
                                                 "invalid_request_error"), status=400)
        if not isinstance(body, dict) or not isinstance(body.get("messages"), list) or not body["messages"]:
            stats.bad_requests_4xx += 1
            return web.json_response(
                _error_body("'messages' is a required property and must be a non-empty array.",
                            "invalid_request_error", param="messages"),
                status=400,
            )
        self.requests.append(body)
        answer = self._answer(body)
        outcome = self._script.pop(0) if self._script else None
        now = time.monotonic()
        self._sync_limits()
        wait = 1.0 if outcome == "rate_limit" else self.limiter.try_acquire(
            answer.prompt_tokens + answer.completion_tokens, now
        )
        headers = self._ratelimit_headers(now)
        request_id = f"req_sim_{next(self._ids)}"
        headers["x-request-id"] = request_id
        if wait is not None:
            stats.rate_limited_429 += 1
            headers["retry-after"] = str(max(1, math.ceil(wait)))
            headers["retry-after-ms"] = str(max(1, math.ceil(wait * 1000)))
            message = (
                f"Rate limit reached for {body.get('model', self.config.model)} on requests per min (RPM) / tokens "
                f"per min (TPM): Limit {self.config.rpm} RPM, {self.config.tpm} TPM. Please try again in {wait:.3f}s."
            )
            return web.json_response(_error_body(message, "requests", "rate_limit_exceeded"), status=429,
                                     headers=headers)
        stats.requests_accepted += 1
        wall = time.time()
        stats.first_accepted_at = stats.first_accepted_at or wall
        stats.last_accepted_at = wall
        if answer.batch:
            stats.batch_requests += 1
            stats.batch_items += answer.items
        outcome = outcome or self._draw_outcome()
        latency = self._latency()
        stats.in_flight += 1
        try:
            if latency > 0:
                await asyncio.sleep(latency)  # simulated model time, not synchronisation
            if outcome == "timeout":
                stats.timeouts += 1
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self.closing.wait(), self.config.timeout_hold_s)
                return web.json_response(_error_body("Gateway timeout.", "server_error"), status=504,
                                         headers=headers)
            if outcome == "error":
                stats.server_errors_5xx += 1
                status = self.rng.choice((500, 503))
                message = ("The server had an error while processing your request. Sorry about that!"
                           if status == 500 else "The engine is currently overloaded, please try again later.")
                return web.json_response(_error_body(message, "server_error"), status=status, headers=headers)
            content = answer.content
            if outcome == "invalid" and answer.valid is not None:
                stats.invalid_replies += 1
                content = _invalid_content(answer.valid, self.rng, answer.batch)
            completion_tokens = estimate_text_tokens(content)
            finish_reason = "stop"
            max_tokens = body.get("max_tokens") or body.get("max_completion_tokens")
            if isinstance(max_tokens, int) and 0 < max_tokens < completion_tokens:
                # Like a real server: the answer stops at the limit, mid-JSON, and says why.
                content = content[: max(1, len(content) * max_tokens // completion_tokens)]
                completion_tokens, finish_reason = max_tokens, "length"
                stats.truncated += 1
            stats.responses_ok += 1
            stats.prompt_tokens_accepted += answer.prompt_tokens
            stats.completion_tokens_accepted += completion_tokens
            headers["openai-processing-ms"] = str(round(latency * 1000))
            return web.json_response(
                {
                    "id": f"chatcmpl-{request_id}",
                    "object": "chat.completion",
                    "created": int(wall),
                    "model": str(body.get("model") or self.config.model),
                    "system_fingerprint": "fp_reviewstream_sim",
                    "choices": [
                        {
                            "index": 0,
                            "message": {"role": "assistant", "content": content, "refusal": None},
                            "finish_reason": finish_reason,
                            "logprobs": None,
                        }
                    ],
                    "usage": {
                        "prompt_tokens": answer.prompt_tokens,
                        "completion_tokens": completion_tokens,
                        "total_tokens": answer.prompt_tokens + completion_tokens,
                    },
                },
                headers=headers,
                dumps=lambda obj: json.dumps(obj, ensure_ascii=False),
            )
        finally:
            stats.in_flight -= 1

    async def models(self, _request: web.Request) -> web.Response:
        model = {"id": self.config.model, "object": "model", "created": 0, "owned_by": "reviewstream-simulator"}
        return web.json_response({"object": "list", "data": [model]})

    async def health(self, _request: web.Request) -> web.Response:
        return web.json_response({"status": "ok"})

    async def stats_view(self, _request: web.Request) -> web.Response:
        return web.json_response(self.snapshot())

    def snapshot(self) -> dict[str, Any]:
        return dataclasses.asdict(self.stats)


@dataclass
class RunningSimulator:
    """A started simulator: `base_url` for `openai.AsyncOpenAI(base_url=...)`, live `config`, `stats()`, `close()`."""

    host: str
    port: int
    _sim: _Simulator = field(repr=False)
    _runner: web.AppRunner = field(repr=False)

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def base_url(self) -> str:
        return f"{self.url}/v1"

    @property
    def config(self) -> SimulatorConfig:
        return self._sim.config

    @property
    def requests(self) -> list[dict[str, Any]]:
        """The most recent chat request bodies (up to `config.record_requests`), oldest first."""
        return list(self._sim.requests)

    def stats(self) -> dict[str, Any]:
        return self._sim.snapshot()

    async def close(self) -> None:
        self._sim.closing.set()  # releases requests held to simulate timeouts
        await self._runner.cleanup()

    async def __aenter__(self) -> RunningSimulator:
        return self

    async def __aexit__(self, *_exc: object) -> None:
        await self.close()


async def start_simulator(
    config: SimulatorConfig | None = None, host: str = "127.0.0.1", port: int = 0
) -> RunningSimulator:
    """Serve the simulator on `host:port` (0 picks a free port) until `close()`."""
    sim = _Simulator(config or SimulatorConfig())
    app = web.Application(client_max_size=32 * 1024 * 1024)
    app.router.add_post("/v1/chat/completions", sim.chat_completions)
    app.router.add_get("/v1/models", sim.models)
    app.router.add_get("/health", sim.health)
    app.router.add_get("/stats", sim.stats_view)
    # handler_cancellation: a client that gives up (timeout) frees its handler; short shutdown keeps tests fast.
    runner = web.AppRunner(app, access_log=None, handler_cancellation=True, shutdown_timeout=1.0)
    await runner.setup()
    site = web.TCPSite(runner, host, port)
    await site.start()
    bound_port = int(runner.addresses[0][1])
    log.info("LLM simulator listening on http://%s:%d/v1", host, bound_port)
    return RunningSimulator(host=host, port=bound_port, _sim=sim, _runner=runner)


# ---------------------------------------------------------------------------------------------------------- CLI
def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="reviewstream simulate-llm", description="Serve a fake OpenAI-compatible LLM.")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8000, help="0 picks a free port (printed on start)")
    p.add_argument("--latency-median-s", type=float, default=0.0)
    p.add_argument("--latency-p99-s", type=float, default=None, help="lognormal tail; omit for fixed latency")
    p.add_argument("--rpm", type=int, default=10_000, help="requests per minute before 429")
    p.add_argument("--tpm", type=int, default=10_000_000, help="tokens per minute before 429")
    p.add_argument("--window-s", type=float, default=60.0, help="length of the rate-limit window")
    p.add_argument("--error-rate", type=float, default=0.0, help="share of requests answered 500/503")
    p.add_argument("--timeout-rate", type=float, default=0.0, help="share of requests held without an answer")
    p.add_argument("--timeout-hold-s", type=float, default=300.0)
    p.add_argument("--invalid-rate", type=float, default=0.0, help="share of replies that break the JSON contract")
    p.add_argument("--seed", type=int, default=None)
    p.add_argument("--model", default="reviewstream-sim")
    return p


async def _serve(config: SimulatorConfig, host: str, port: int) -> None:
    sim = await start_simulator(config, host, port)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    print(f"LLM simulator listening on {sim.base_url}", flush=True)
    try:
        await stop.wait()
    finally:
        await sim.close()
        print(json.dumps(sim.stats()), flush=True)


def main(argv: list[str] | None = None) -> int:
    """`reviewstream simulate-llm`: serve until SIGINT/SIGTERM, then print the final stats as one JSON line."""
    args = _parser().parse_args(argv)
    for name in ("error_rate", "timeout_rate", "invalid_rate"):
        if not 0.0 <= getattr(args, name) <= 1.0:
            print(f"--{name.replace('_', '-')} must be between 0 and 1, got {getattr(args, name)}")
            return 2
    if args.rpm < 1 or args.tpm < 1 or args.window_s <= 0:
        print(f"--rpm, --tpm and --window-s must be positive, got {args.rpm}, {args.tpm}, {args.window_s}")
        return 2
    config = SimulatorConfig(
        latency_median_s=args.latency_median_s,
        latency_p99_s=args.latency_p99_s,
        rpm=args.rpm,
        tpm=args.tpm,
        window_s=args.window_s,
        error_rate=args.error_rate,
        timeout_rate=args.timeout_rate,
        timeout_hold_s=args.timeout_hold_s,
        invalid_rate=args.invalid_rate,
        seed=args.seed,
        model=args.model,
    )
    asyncio.run(_serve(config, args.host, args.port))
    return 0
