"""Text signatures: near-duplicates in Chinese and English, stable bytes, band keys, and the band table."""

from __future__ import annotations

import pytest

from models.integrity import DEFAULT_INTEGRITY_CONFIG, BandBucket, BandProbe, TextSignature, band_keys, probe_band
from models.integrity.config import IntegrityConfig
from models.integrity.text import text_signature
from tests.unit.integrity_factories import CAMPAIGN_TEXT, ORGANIC_TEXTS, T0

# The signature of "Great kettle, boils fast" with datasketch 2.x, 64 permutations, seed 1, low 16 bits.
GOLDEN = ("oqfd/kOqreFKW8tjkAcnBzl4tH9iwNexpWUiQocjjB+n366Noo+PTdhw3oRbXDHr/Eto5iqgWmosRuUPTSAoF+DuF1fXvhSs+"
          "DSLgd03XWMEiYju7wB8WH0Nt9rYz2qsLikAiP1RajHtpOK5pg62XXEE+U2lG2RU1awzcll8SOo=")
ZH = "房间很仿古，舒服！早餐品种花样多，口感好，服务人员态度和意识很好，下次还会再来"


def test_a_lightly_edited_copy_is_a_near_duplicate_in_english_and_chinese() -> None:
    edited_en = CAMPAIGN_TEXT.replace("Absolutely", "Really").replace("!", "!!!") + " 5 stars"
    edited_zh = ZH.replace("舒服", "很舒服").replace("下次", "以后")
    assert text_signature(CAMPAIGN_TEXT).similarity(text_signature(edited_en)) >= 0.6
    assert text_signature(ZH).similarity(text_signature(edited_zh)) >= 0.6
    # Case, width and punctuation do not make a copy look different.
    assert text_signature("ＧＲＥＡＴ kettle!!!").similarity(text_signature("great, kettle")) == 1.0


def test_unrelated_reviews_are_far_apart() -> None:
    signatures = [text_signature(t) for t in ORGANIC_TEXTS]
    for i, a in enumerate(signatures):
        for b in signatures[i + 1:]:
            assert a.similarity(b) < 0.3


def test_chinese_is_cut_in_character_pairs_and_english_in_triples() -> None:
    assert text_signature("服务很好").shingles == 3  # 服务 务很 很好
    assert text_signature("good").shingles == 2  # goo ood
    assert text_signature("好").shingles == 1  # shorter than a shingle: one shingle
    assert text_signature("!!! ...").shingles == 0


def test_a_signature_is_the_same_in_every_process() -> None:
    # Signatures live in tables across restarts and hosts: a change here (a new datasketch scheme, another hash)
    # would make every stored signature incomparable. If this fails on purpose, bump the scorer version.
    assert text_signature("Great kettle, boils fast").to_wire() == GOLDEN


def test_the_wire_form_round_trips_and_a_foreign_one_is_refused() -> None:
    signature = text_signature(CAMPAIGN_TEXT)
    again = TextSignature.from_wire(signature.to_wire(), signature.shingles)
    assert again.similarity(signature) == 1.0 and again.shingles == signature.shingles
    with pytest.raises(ValueError, match="compute it again from the text"):
        TextSignature.from_wire("AAAA", 3)


def test_band_keys_are_stable_bounded_and_shared_by_near_duplicates() -> None:
    a, b = text_signature(CAMPAIGN_TEXT), text_signature(CAMPAIGN_TEXT + " Love it!")
    keys = band_keys(a, 10, 3, 1 << 16)
    assert keys == band_keys(a, 10, 3, 1 << 16) and len(keys) == 10
    assert all(k.startswith(f"{i}:") and int(k.split(":")[1], 16) < 1 << 16 for i, k in enumerate(keys))
    assert set(keys) & set(band_keys(b, 10, 3, 1 << 16))
    assert not set(keys) & set(band_keys(text_signature(ORGANIC_TEXTS[0]), 10, 3, 1 << 16))
    assert all(int(k.split(":")[1], 16) < 7 for k in band_keys(a, 10, 3, 7))
    with pytest.raises(ValueError, match="a signature has 64"):
        band_keys(a, 22, 3, 100)


def probe(review_id: str, text: str, *, user_id: str, product_id: str, at: float = T0) -> BandProbe:
    signature = text_signature(text)
    return BandProbe(review_id=review_id, product_id=product_id, user_id=user_id, at=at,
                     signature=signature.to_wire(), shingles=signature.shingles)


def test_a_band_matches_copies_by_other_accounts_on_any_product_once() -> None:
    first = probe_band(None, "0:1", probe("r1", CAMPAIGN_TEXT, user_id="u1", product_id="kettle"))
    assert first.matches == []
    same_account = probe_band(first.bucket, "0:1", probe("r2", CAMPAIGN_TEXT, user_id="u1", product_id="toaster"))
    assert same_account.matches == []
    copied = probe("r3", CAMPAIGN_TEXT + " Love it!", user_id="u3", product_id="toaster", at=T0 + 60)
    outcome = probe_band(same_account.bucket, "0:1", copied)
    assert [(m.review_id, m.other_review_id, m.other_product_id) for m in outcome.matches] == [
        ("r3", "r1", "kettle"), ("r3", "r2", "toaster")]
    assert outcome.matches[0].similarity >= 0.6 and outcome.matches[0].at == T0 + 60
    mirrored = outcome.matches[0].mirrored()
    assert (mirrored.review_id, mirrored.product_id, mirrored.other_review_id) == ("r1", "kettle", "r3")
    replay = probe_band(outcome.bucket, "0:1", copied)
    assert replay.matches == [] and replay.bucket is outcome.bucket
    unrelated = probe_band(outcome.bucket, "0:1", probe("r4", ORGANIC_TEXTS[0], user_id="u4", product_id="kettle"))
    assert unrelated.matches == []


def test_a_bucket_keeps_its_newest_members_of_the_span_in_time_order() -> None:
    cfg = IntegrityConfig(band_members=3)
    bucket: BandBucket | None = None
    for i, at in enumerate([T0, T0 + 300, T0 + 100, T0 + 200]):
        bucket = probe_band(bucket, "0:1", probe(f"r{i}", f"text number {i}", user_id=f"u{i}", product_id="p", at=at),
                            cfg).bucket
    assert bucket is not None
    assert [m.review_id for m in bucket.members] == ["r2", "r3", "r1"]
    later = probe_band(bucket, "0:1", probe("r9", "another", user_id="u9", product_id="p",
                                     at=T0 + DEFAULT_INTEGRITY_CONFIG.band_span_s + 150), cfg).bucket
    assert [m.review_id for m in later.members] == ["r3", "r1", "r9"]  # r2 is older than the span now
