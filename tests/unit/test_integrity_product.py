"""The product stage: verdicts, later evidence revising them, campaigns as incidents, replays and restarts."""

from __future__ import annotations

import random

import pytest

from models.integrity import (
    CAMPAIGN,
    DEFAULT_INTEGRITY_CONFIG,
    ProductIntegrity,
    ReviewTaint,
    TextMatch,
    apply_taint,
    apply_text_match,
    assess_review,
    campaign_due,
    expire_campaigns,
    text_signature,
)
from models.profile import SourceRef
from tests.unit.integrity_factories import (
    CAMPAIGN_TEXT,
    DAY,
    HOUR,
    T0,
    Shop,
    evidence,
    facts,
    fake_account,
    organic_text,
)

COOLDOWN = DEFAULT_INTEGRITY_CONFIG.alerts.cooldown_s


def edited(text: str, seed: int, rate: float = 0.08) -> str:
    """A copy with about `rate` of its words changed, as a review farm would vary one text."""
    rng = random.Random(seed)
    words = text.split()
    return " ".join(rng.choice(["really", "so", "very"]) if rng.random() < rate else w for w in words)


def campaign(shop: Shop, n: int = 8, start: float = T0, product_id: str = "kettle", prefix: str = "c") -> list[str]:
    ids = []
    for i in range(n):
        review_id, user = f"{prefix}{i}", f"{prefix}-fake{i}"
        shop.review(facts(review_id, user_id=user, product_id=product_id, at=start + i * 900), edited(CAMPAIGN_TEXT, i),
                    fake_account(user))
        ids.append(review_id)
    return ids


def test_organic_reviews_get_one_low_verdict_each_and_no_alert() -> None:
    shop = Shop()
    shop.organic("kettle", days=10)
    assert len(shop.records) == 20 and all(r.revision == 0 for r in shop.records)
    assert not any(r.flagged for r in shop.records) and shop.alerts == []
    assert max(r.score for r in shop.records) < 0.1


def test_a_copy_paste_campaign_is_flagged_whole_and_raises_one_alert() -> None:
    shop = Shop()
    shop.organic("kettle", days=10)
    ids = campaign(shop)
    assert all(shop.verdicts[i].flagged for i in ids)
    # The first copy had nothing to be compared with when it arrived: the next copies flagged it afterwards.
    first = [r for r in shop.records if r.review_id == "c0"]
    assert [(r.flagged, r.revision) for r in first] == [(False, 0), (True, 1)]
    assert "c1" in first[-1].near_duplicates
    signals = {s.name for s in shop.verdicts["c5"].signals}
    assert {"unverified_purchase", "new_account", "near_duplicate"} <= signals
    firing = [a for a in shop.alerts if a.kind == CAMPAIGN]
    assert len(firing) == 1 and firing[0].status == "firing" and firing[0].subject_id == "kettle"
    alert = firing[0]
    assert set(alert.review_ids) >= {"c0", "c1"} and alert.figures["account_count"] >= 2
    assert alert.figures["similarity"] >= 0.6 and alert.figures["signals"]["near_duplicate"] >= 2
    assert alert.figures["window_start"] <= alert.figures["window_end"]
    assert shop.verdicts["c7"].campaign_alert_id == alert.alert_id
    assert not any(r.flagged for r in shop.records if r.review_id.startswith("o-"))


def test_the_campaign_ends_after_a_quiet_cooldown_with_the_same_alert_id() -> None:
    shop = Shop()
    campaign(shop)
    state = shop.products["kettle"]
    due = campaign_due(state)
    assert due is not None
    assert expire_campaigns(state, due - 1).alerts == []
    ended = expire_campaigns(state, due)
    firing = next(a for a in shop.alerts if a.kind == CAMPAIGN)
    assert [(a.status, a.alert_id) for a in ended.alerts] == [("resolved", firing.alert_id)]
    assert ended.state.incidents == {} and campaign_due(ended.state) is None
    # A campaign that comes back after the cooldown is a new incident.
    shop.products["kettle"] = ended.state
    campaign(shop, start=due + DAY, n=4, prefix="again")
    assert len([a for a in shop.alerts if a.status == "firing"]) == 2


def test_replaying_everything_flags_nothing_twice_and_opens_the_same_incident() -> None:
    first, second = Shop(), Shop()
    for shop in (first, second):
        shop.organic("kettle", days=3)
        campaign(shop)
    assert [a.alert_id for a in first.alerts] == [a.alert_id for a in second.alerts]
    # The last review again, at its own source offset or published twice at another: nothing new.
    state = first.products["kettle"]
    review = facts("c7", user_id="c-fake7", product_id="kettle", at=T0 + 7 * 900)
    for source in (SourceRef("integrity-events", 0, first.offset), SourceRef("integrity-events", 0, 10_000)):
        again = assess_review(state, review, fake_account("c-fake7"), text_signature(edited(CAMPAIGN_TEXT, 7)),
                              source)
        assert again.state is state and again.records == again.alerts == again.band_keys == again.account_flags == []
        assert again.probe is None


def test_a_restart_from_the_stored_rows_continues_exactly() -> None:
    straight, restarted = Shop(), Shop()
    for shop in (straight, restarted):
        shop.organic("kettle", days=3)
        campaign(shop, n=3)
    # The restarted worker reads every row back from its JSON (RocksDB / the changelog) before going on.
    restarted.products = {k: ProductIntegrity.loads(v.dumps()) for k, v in restarted.products.items()}
    restarted.accounts = {k: type(v).loads(v.dumps()) for k, v in restarted.accounts.items()}
    restarted.bands = {k: type(v).loads(v.dumps()) for k, v in restarted.bands.items()}
    for shop in (straight, restarted):
        shop.records.clear()
        shop.alerts.clear()
        for i in range(3, 8):
            shop.review(facts(f"c{i}", user_id=f"c-fake{i}", product_id="kettle", at=T0 + i * 900),
                        edited(CAMPAIGN_TEXT, i), fake_account(f"c-fake{i}"))
    assert [r.to_dict() for r in straight.records] == [r.to_dict() for r in restarted.records]
    assert [a.to_dict() for a in straight.alerts] == [a.to_dict() for a in restarted.alerts]
    assert straight.products["kettle"].dumps() == restarted.products["kettle"].dumps()


def test_a_template_across_products_is_caught_through_the_band_index() -> None:
    shop = Shop()
    template = "Just got the {name}! " + CAMPAIGN_TEXT
    for i, name in enumerate(["Acme kettle K-204", "Nordic toaster T-310", "Zenith blender B-555"]):
        shop.organic(f"p{i}", days=3)
        user = f"farm{i}"
        shop.review(facts(f"t{i}", user_id=user, product_id=f"p{i}", at=T0 + i * HOUR), template.format(name=name),
                    fake_account(user))
    for i in range(3):
        verdict = shop.verdicts[f"t{i}"]
        assert verdict.flagged, verdict
        assert {s.name for s in verdict.signals} >= {"cross_product_duplicate", "unverified_purchase"}
        assert set(verdict.near_duplicates) == {f"t{j}" for j in range(3) if j != i}


def test_a_text_match_is_applied_once_and_not_to_rows_it_does_not_hold() -> None:
    shop = Shop()
    shop.review(facts("r1", user_id="u1", product_id="p1"), CAMPAIGN_TEXT, fake_account("u1"))
    state = shop.products["p1"]
    match = TextMatch(review_id="r1", product_id="p1", user_id="u1", other_review_id="x9", other_product_id="p2",
                      other_user_id="u9", similarity=0.8, at=T0 + 60)
    once = apply_text_match(state, match)
    assert once.state is not state and once.records == []  # one copy elsewhere: more evidence, not yet enough
    assert once.state.recent[0].cross_duplicates == ["x9"]
    assert apply_text_match(once.state, match).state is once.state  # replayed: nothing new
    twice = apply_text_match(once.state, match.derive(other_review_id="x8"))
    assert twice.records[0].flagged and twice.records[0].revision == 1
    assert twice.records[0].near_duplicates == ["x9", "x8"]
    assert [f.review_id for f in twice.account_flags] == ["r1"]
    gone = match.derive(review_id="r0")
    assert apply_text_match(state, gone).state is state  # not (or no longer) among the recent reviews
    with pytest.raises(ValueError, match="assessed in the row of 'p1'"):
        apply_text_match(state, match.derive(product_id="p2"))


def test_an_accounts_flagged_review_taints_its_others() -> None:
    shop = Shop()
    # A farm account first reviews two products quietly (new and unverified, but nothing else to go on) ...
    for i, product in enumerate(["a", "b"]):
        shop.organic(product, days=3)
        shop.review(facts(f"q{i}", user_id="farm", product_id=product, at=T0 + i * HOUR), organic_text(f"q{i}"))
    assert not shop.verdicts["q0"].flagged and not shop.verdicts["q1"].flagged
    # ... then joins a copy-paste campaign. (No profile: the user stage sees accounts whose reviews are all they do.)
    for i in range(4):
        user = "farm" if i == 3 else f"fake{i}"
        shop.review(facts(f"c{i}", user_id=user, product_id="kettle", at=T0 + 2 * HOUR + i * 600),
                    edited(CAMPAIGN_TEXT, i))
    assert shop.verdicts["c3"].flagged
    for review_id in ("q0", "q1"):
        verdict = shop.verdicts[review_id]
        assert verdict.flagged and verdict.revision == 1
        taint = next(s for s in verdict.signals if s.name == "account_flagged")
        assert taint.figures == {"flagged_review_id": "c3", "flagged_product_id": "kettle"}
    taint_again = ReviewTaint(review_id="q0", product_id="a", user_id="farm", flagged_review_id="c3",
                              flagged_product_id="kettle", flagged_at=T0)
    assert apply_taint(shop.products["a"], taint_again).state is shop.products["a"]


def test_a_burst_of_new_accounts_flags_its_first_reviews_afterwards() -> None:
    shop = Shop()
    shop.organic("lamp", days=14, per_day=1)
    for i in range(12):
        user = f"new{i}"
        shop.review(facts(f"b{i}", user_id=user, product_id="lamp", at=T0 + i * 600), organic_text(f"burst{i}"),
                    fake_account(user))
    assert all(shop.verdicts[f"b{i}"].flagged for i in range(12))
    assert any(r.review_id == "b0" and r.revision == 1 for r in shop.records)  # flagged once the burst showed
    verdict = shop.verdicts["b11"]
    assert {"review_burst", "suspect_mix"} <= {s.name for s in verdict.signals}


def test_evidence_of_another_user_or_product_is_refused() -> None:
    shop = Shop()
    shop.review(facts("r1", product_id="p1"), CAMPAIGN_TEXT, evidence())
    with pytest.raises(ValueError, match="account evidence of user 'u2'"):
        assess_review(None, facts("r2"), evidence("u2"), text_signature("x"), SourceRef("t", 0, 1))
    with pytest.raises(ValueError, match="of product 'p2' assessed in the row of 'p1'"):
        assess_review(shop.products["p1"], facts("r3", product_id="p2"), evidence(), text_signature("x"),
                      SourceRef("t", 0, 9))


def test_a_busy_products_row_stays_bounded_and_in_time_order() -> None:
    shop = Shop()
    rng = random.Random(3)
    for i in range(600):
        at = T0 + i * 1200 + rng.uniform(-3000, 0)  # some arrive a little late
        shop.review(facts(f"review-{i:012d}", user_id=f"user-{i:010d}", product_id="busy", at=at),
                    organic_text(f"busy{i}"), evidence(f"user-{i:010d}", purchased_at=at - 3 * DAY))
    state = shop.products["busy"]
    assert len(state.recent) == DEFAULT_INTEGRITY_CONFIG.recent_reviews
    assert [e.at for e in state.recent] == sorted(e.at for e in state.recent)
    assert len(state.hours) <= 26 and len(state.days) <= 40
    assert len(state.dumps()) < 64_000
