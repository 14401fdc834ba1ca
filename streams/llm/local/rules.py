"""The rules of the offline analyzer: language, clauses, aspects, intent, issues, urgency, competitors.

Each function applies a table from `lexicons.py` to the text plus the sentiment scores the classifier gave it; none
of them calls the model, so they are cheap to test on their own. Clauses are `Span`s into the original text, so any
evidence cut from one is a verbatim quote by construction.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Final

from streams.llm.local.lexicons import (
    ASPECT_ISSUE,
    ASPECTS,
    CONTRAST_WORDS,
    DEFAULT_COMPETITORS,
    INTENT_CUES,
    ISSUE_CUES,
)
from streams.llm.local.model import ModelLanguage

__all__ = [
    "EVIDENCE_MAX",
    "CompetitorMatcher",
    "Facts",
    "Span",
    "clauses",
    "contrast_parts",
    "detect_language",
    "evidence_span",
    "find_aspects",
    "find_intent",
    "find_issue_cues",
    "has_words",
    "label_for",
    "urgency_for",
]

EVIDENCE_MAX: Final = 300  # the schema's limit on an aspect's evidence
# Past this many clauses a review is scored on its first ones only: bounds the cost of an 8000-character rant.
MAX_CLAUSES: Final = 48


def _either(en: str, zh: str) -> re.Pattern[str]:
    """One regex for both languages: a Chinese review quoting an English word ("wifi") still matches.

    Lookarounds instead of \\b around the English part: in Python every CJK character is a word character, so
    \\bcpu\\b misses "的CPU"."""
    parts = [rf"(?<![A-Za-z0-9])(?:{en})(?![A-Za-z0-9])"] + ([f"(?:{zh})"] if zh else [])
    return re.compile("|".join(parts), re.IGNORECASE)


_ASPECT_RX: Final = {name: _either(rule.en, rule.zh) for name, rule in ASPECTS.items()}
_ISSUE_RX: Final = {kind: _either(cue["en"], cue["zh"]) for kind, cue in ISSUE_CUES.items()}
_INTENT_RX: Final = [(cue, _either(cue.en, cue.zh)) for cue in INTENT_CUES]
_CONTRAST_RX: Final = _either(CONTRAST_WORDS["en"], CONTRAST_WORDS["zh"])
# Sentence ends; a dot between digits ("2.5 hours") is not one.
_SENTENCE_END: Final = re.compile(r"[!?。！？；;\n…]+|\.+(?!\d)")
_CLAUSE_BREAK: Final = re.compile(r"[,，、:：()（）\[\]【】~～]+|\s[-–—]+\s")
_TRIM: Final = " \t\r\n.,!?;:\"'`()[]{}<>*#~-–—。，、！？；：“”‘’（）【】《》…～·"
_CJK: Final = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")
_KANA: Final = re.compile(r"[\u3040-\u30ff]")
_HANGUL: Final = re.compile(r"[\uac00-\ud7af]")
_LATIN: Final = re.compile(r"[A-Za-z]")
_EN_FUNCTION_WORDS: Final = frozenset(
    "the a an and or but is are was were be been it this that i you he she we they my your its of to in on for with "
    "not no very so too just have has had do does did can will would should at from as if than then there what".split()
)
# Frequent words of French, German, Spanish, Italian, Portuguese and Dutch that are not English words.
_OTHER_FUNCTION_WORDS: Final = frozenset(
    "le la les des est une et je il elle pas pour avec que qui dans sur du au très und der die das ist nicht ein "
    "eine ich mit sehr auch el los las es muy pero por para con una lo del al y non che di per sono è ho molto "
    "não com uma os um het een en niet van ik zeer".split()
)


@dataclass(frozen=True, slots=True)
class Span:
    start: int
    end: int

    def of(self, text: str) -> str:
        return text[self.start:self.end]


# ── language ──


def detect_language(text: str, hint: str | None = None) -> tuple[str, ModelLanguage]:
    """(language to report, classifier to use). CJK-heavy text is `zh`; Latin text with English words is `en`.

    A hint (the review's `lang`) is honoured unless the script contradicts it, because upstream language tags are
    often a shop's default rather than the review's: "en" on a text of Chinese characters is reported as `zh`.
    Latin text is English unless it has more French/German/Spanish/... function words than English ones; anything
    else (French, Japanese...) is reported as the hint, "ja"/"ko", or "other", and scored by the English classifier,
    whose character n-grams degrade gracefully on other Latin-script text.
    """
    cjk = len(_CJK.findall(text))
    latin = len(_LATIN.findall(text))
    letters = cjk + latin + len(_KANA.findall(text)) + len(_HANGUL.findall(text))
    primary = (hint or "").strip().lower().replace("_", "-").split("-")[0][:8]
    chinese_script = letters > 0 and cjk / letters >= 0.3 and not _KANA.search(text)
    if primary == "zh" and cjk > 0:
        return "zh", "zh"
    if chinese_script:
        return "zh", "zh"
    if primary and primary != "zh" and len(primary) >= 2:
        return primary, "en"
    if _KANA.search(text):
        return "ja", "en"
    if _HANGUL.search(text) and len(_HANGUL.findall(text)) >= latin:
        return "ko", "en"
    words = re.findall(r"[^\W\d_]+", text.lower())
    english = sum(w in _EN_FUNCTION_WORDS for w in words)
    foreign = sum(w in _OTHER_FUNCTION_WORDS for w in words)
    return ("other", "en") if foreign > english else ("en", "en")


def has_words(text: str) -> bool:
    """Whether the text has any letter at all (not only emoji, digits or punctuation)."""
    return any(ch.isalpha() for ch in text)


# ── clauses ──


def _trimmed(text: str, start: int, end: int) -> Span | None:
    while start < end and text[start] in _TRIM:
        start += 1
    while end > start and text[end - 1] in _TRIM:
        end -= 1
    return Span(start, end) if end > start else None


def _cut(text: str, span: Span, breaks: Iterable[re.Match[str]], keep_break: bool) -> list[Span]:
    """Split `span` at each match; `keep_break` keeps the match at the start of the next piece ("but ...")."""
    pieces, start = [], span.start
    for m in breaks:
        cut_end = m.start()
        piece = _trimmed(text, start, cut_end)
        if piece:
            pieces.append(piece)
        start = m.start() if keep_break else m.end()
    last = _trimmed(text, start, span.end)
    if last:
        pieces.append(last)
    return pieces


def _sentences(text: str) -> list[Span]:
    return _cut(text, Span(0, len(text)), _SENTENCE_END.finditer(text), keep_break=False)


def _too_short(text: str, span: Span) -> bool:
    piece = span.of(text)
    return len(_CJK.findall(piece)) < 2 and len(re.findall(r"[A-Za-z]+", piece)) < 2


def _merge_short(text: str, spans: list[Span]) -> list[Span]:
    """Glue a fragment of one word ("Sadly,", "不过") to its neighbour so no clause is too short to judge."""
    out: list[Span] = []
    for span in spans:
        if out and (_too_short(text, span) or _too_short(text, out[-1])):
            out[-1] = Span(out[-1].start, span.end)
        else:
            out.append(span)
    return out


def contrast_parts(text: str) -> list[Span]:
    """Sentences, further cut before contrast words ("but", "但是"): the units compared to find mixed reviews."""
    parts: list[Span] = []
    for sentence in _sentences(text):
        inner = _CONTRAST_RX.finditer(text, sentence.start, sentence.end)
        parts.extend(_merge_short(text, _cut(text, sentence, inner, keep_break=True)))
    return parts[:MAX_CLAUSES]


def clauses(text: str) -> list[Span]:
    """Contrast parts further cut at commas: the units an aspect is judged and quoted from."""
    out: list[Span] = []
    for part in contrast_parts(text):
        out.extend(_merge_short(text, _cut(text, part, _CLAUSE_BREAK.finditer(text, part.start, part.end), False)))
    return out[:MAX_CLAUSES]


def evidence_span(text: str, clause: Span, match: re.Match[str] | None = None) -> Span:
    """The clause, or a window of it around the keyword when the clause is longer than the schema allows."""
    if clause.end - clause.start <= EVIDENCE_MAX:
        return clause
    center = match.start() if match else clause.start
    start = max(clause.start, min(center - EVIDENCE_MAX // 2, clause.end - EVIDENCE_MAX))
    trimmed = _trimmed(text, start, start + EVIDENCE_MAX)
    return trimmed or Span(start, start + EVIDENCE_MAX)


# ── aspects, issues, intent, urgency ──


def label_for(score: float, band: float) -> str:
    if abs(score) < band:
        return "neutral"
    return "positive" if score > 0 else "negative"


def find_aspects(text: str, spans: Sequence[Span]) -> list[tuple[str, Span, re.Match[str]]]:
    """(aspect, clause, keyword match) for the first clause naming each aspect, in text order."""
    found: dict[str, tuple[str, Span, re.Match[str]]] = {}
    for span in spans:
        for name, rx in _ASPECT_RX.items():
            if name in found:
                continue
            m = rx.search(text, span.start, span.end)
            if m:
                found[name] = (name, span, m)
    return sorted(found.values(), key=lambda item: (item[1].start, list(ASPECTS).index(item[0])))


def find_issue_cues(text: str, spans: Sequence[Span], clause_scores: Sequence[float],
                    band: float) -> dict[str, Span]:
    """Issue kinds (with the first clause saying so) whose problem words occur in a clause the classifier does not
    read as positive.

    The classifier check keeps "never had it crash" or "没有任何质量问题" from becoming an issue; safety and fraud
    words count anywhere, because missing one costs far more than a false alarm.
    """
    kinds: dict[str, Span] = {}
    for kind, rx in _ISSUE_RX.items():
        for span, score in zip(spans, clause_scores, strict=True):
            if rx.search(text, span.start, span.end) and (kind in ("safety", "fraud") or score < band):
                kinds[kind] = span
                break
    return kinds


def aspect_issues(aspects: Iterable[tuple[str, str]]) -> set[str]:
    return {ASPECT_ISSUE[name] for name, sentiment in aspects if sentiment == "negative" and name in ASPECT_ISSUE}


def find_intent(text: str, sentiment: str, score: float, has_problem: bool) -> str:
    for cue, rx in _INTENT_RX:
        if rx.search(text):
            if cue.yields_to_complaint and score <= -0.5:
                return "complaint"
            return cue.intent
    if sentiment == "negative" or (sentiment in ("mixed", "neutral") and has_problem):
        return "complaint"
    if sentiment == "positive":
        return "praise"
    return "other"


@dataclass(frozen=True, slots=True)
class Facts:
    intent: str
    sentiment: str
    score: float
    issues: frozenset[str]


_URGENCY_ORDER: Final = ("low", "medium", "high", "critical")
# Every rule that holds raises urgency to its level; the highest wins. Order is for reading only.
URGENCY_RULES: Final[tuple[tuple[str, Callable[[Facts], bool]], ...]] = (
    ("critical", lambda f: "safety" in f.issues),
    ("high", lambda f: "fraud" in f.issues),
    ("high", lambda f: f.intent == "return_request" and f.sentiment in ("negative", "mixed")),
    ("high", lambda f: f.intent == "complaint" and f.score <= -0.8 and len(f.issues) >= 2),
    ("medium", lambda f: f.intent in ("complaint", "return_request", "question")),
    ("medium", lambda f: f.sentiment == "negative"),
    ("medium", lambda f: "missing_parts" in f.issues),
)


def urgency_for(facts: Facts) -> str:
    levels = [level for level, holds in URGENCY_RULES if holds(facts)]
    return max(levels, key=_URGENCY_ORDER.index, default="low")


# ── competitors ──

_COMPARISON_EN: Final = re.compile(
    r"\b(?:better|worse|cheaper|nicer|faster|slower|superior|inferior|prefer\w*|compared|comparison|switched|"
    r"upgraded|instead|rather|unlike|vs\.?|versus)\s+(?:(?:than|to|with|from|of|over)\s+)?"
    r"(?:(?:the|my|an?|his|her|our|their|old|new|previous|cheap|cheaper|same)\s+)*"
    r"([A-Z][A-Za-z0-9&\-]+(?:\s+[A-Z0-9][A-Za-z0-9&\-]*)?)"
)
_COMPARISON_ZH: Final = re.compile(r"(?:比|不如|胜过|强过|优于|对比|相比|相比于|换掉)\s*([A-Za-z][A-Za-z0-9&\-]{1,20})")
_NOT_BRANDS: Final = frozenset(
    "I It This That The These Those My Mine Any Most All Others Other Expected Before Anything Everything Nothing "
    "Ever Never One Some Many Much More Less Last Next Monday Tuesday Wednesday Thursday Friday Saturday Sunday "
    "January February March April May June July August September October November December USB TV DVD CD MP3 "
    "LCD AA AAA OK".split()
)


class CompetitorMatcher:
    """Brands named in the text (from a configurable table) and names in comparisons ("better than X", "比X好")."""

    def __init__(self, table: Mapping[str, tuple[str, str]] | None = None) -> None:
        self._table = {name: _either(en, zh) for name, (en, zh) in (table or DEFAULT_COMPETITORS).items()}

    def canonical(self, name: str) -> str | None:
        for canonical, rx in self._table.items():
            if rx.fullmatch(name.strip()) or rx.search(name):
                return canonical
        return None

    def __call__(self, text: str) -> list[str]:
        hits: list[tuple[int, str]] = []
        for name, rx in self._table.items():
            m = rx.search(text)
            if m:
                hits.append((m.start(), name))
        for rx in (_COMPARISON_EN, _COMPARISON_ZH):
            for m in rx.finditer(text):
                raw = m.group(1).strip()
                first = raw.split()[0]
                if first in _NOT_BRANDS or len(raw) < 2:
                    continue
                hits.append((m.start(1), self.canonical(raw) or raw[:80]))
        names: list[str] = []
        for _, name in sorted(hits):
            if name not in names:
                names.append(name)
        return names[:10]
