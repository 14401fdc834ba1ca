"""The product stage: assess each new review against its product's recent reviews, and revise earlier verdicts.

The agent partitioned by product keeps one `ProductIntegrity` per product (table `integrity_products`, key
product_id) and calls, for every review that arrives with its author's `AccountEvidence` and text signature,

>>> outcome = assess_review(table.get(pid), review, evidence, signature, source)      # doctest: +SKIP
>>> table[pid] = outcome.state                                                         # doctest: +SKIP
>>> publish(outcome.records, outcome.alerts)                                          # doctest: +SKIP
>>> for key in outcome.band_keys: send(bands_topic, key=key, value=outcome.probe)      # doctest: +SKIP

What the row holds, all bounded:
- `recent`: the latest `recent_reviews` reviews of the last `recent_span_s`, each with its signature (172 bytes),
  the signals that fired for it and its near-duplicate ids — to compare new texts with (exactly: a vectorised
  comparison of 64 signatures costs less than an LSH lookup and misses nothing) and to revise earlier verdicts;
- `hours`, `days`: review counts for the burst signals (`burst.py`), ~25 hours and ~30 days of them;
- `incidents`: the open `review_campaign` incident, with the alert machinery of `models.alerts`;
- `folded_offsets`: the replay guard. With the defaults a busy product's row is ~30-50 KB of JSON (64 entries of
  ~0.5-0.8 KB), ~100 KB at worst (every entry with full duplicate lists and many signals).

Later evidence revises earlier verdicts: a new review that copies an earlier one adds itself to that review's
near-duplicates, and a burst that builds up in the window re-reads the window's earlier reviews. An earlier review
that this flags gets a new `ReviewIntegrity` record (`revision` + 1); nothing is ever unflagged, so each review is
published at most twice in practice, and a campaign's first reviews are caught with its later ones.

Campaigns (`campaign.py`): enough flagged reviews of the product at once open a `review_campaign` incident.

Replays: the row remembers the highest offset per source partition (`source`: the position of the message this
stage read, or of the original message its forwarder kept, as `ProfileEvent` does) and the ids of its recent
reviews, so a replayed review, or a text match applied twice, changes nothing and publishes nothing.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Final

import numpy as np

from models.alerts import expire_quiet
from models.integrity.account import AccountEvidence, AccountFlag, ReviewTaint
from models.integrity.bands import BandProbe, TextMatch
from models.integrity.burst import BurstFigures, add_to_buckets, burst_figures
from models.integrity.campaign import open_campaign_id, open_or_join_campaign
from models.integrity.config import DEFAULT_INTEGRITY_CONFIG, IntegrityConfig
from models.integrity.facts import ReviewFacts
from models.integrity.records import ReviewIntegrity
from models.integrity.scoring import (
    ACCOUNT_SIGNALS,
    BURST_SIGNALS,
    SCORER,
    Evidence,
    account_points,
    account_signals,
    burst_signals,
    duplicate_signals,
    explain,
    score,
)
from models.integrity.state import IntegrityOutcome, ProductIntegrity, RecentReview
from models.integrity.text import NUM_PERM, TextSignature, band_keys, signature_bytes
from models.profile import SourceRef, already_folded, remember_offset

__all__ = ["apply_taint", "apply_text_match", "assess_review"]

_MAX_NEAR_DUPLICATES: Final = 20


def assess_review(
    state: ProductIntegrity | None,
    review: ReviewFacts,
    account: AccountEvidence,
    signature: TextSignature,
    source: SourceRef,
    cfg: IntegrityConfig = DEFAULT_INTEGRITY_CONFIG,
) -> IntegrityOutcome:
    """Assess a review of this product (None: its first); the input state is not modified. A replay returns the
    input state itself, with nothing to publish."""
    if state is not None:
        _check_product(state, review.product_id, review.review_id)
        if already_folded(state.folded_offsets, source) or any(e.review_id == review.review_id for e in state.recent):
            return IntegrityOutcome.unchanged(state)
    if account.user_id != review.user_id:
        raise ValueError(f"account evidence of user {account.user_id!r} given for review {review.review_id!r} of "
                         f"user {review.user_id!r}")
    now = review.at
    product_id = review.product_id
    incidents, alerts = expire_quiet(state.incidents if state else {}, "product", product_id, now, cfg.alerts)
    recent = _still_recent(list(state.recent) if state else [], now, cfg)
    comparable = signature.shingles >= cfg.min_shingles

    # Copies on this product: the new review and each earlier one it matches list each other.
    matched: dict[str, float] = {}
    if comparable and recent:
        similarities = _similarities(signature, recent)
        for entry, similarity in zip(recent, similarities, strict=True):
            if (similarity >= cfg.similarity_threshold and entry.user_id != review.user_id
                    and entry.shingles >= cfg.min_shingles):
                matched[entry.review_id] = float(similarity)
    own = account_signals(account, review, cfg)
    suspect = account_points(own) >= cfg.suspect_points
    hours, days = add_to_buckets(state.hours if state else {}, state.days if state else {}, now, review.rating,
                                 suspect, cfg)
    burst = burst_figures(hours, days, now, cfg)
    similarity = max(matched.values(), default=0.0)
    evidence: Evidence = {**own, **duplicate_signals(list(matched), [], similarity, signature.shingles, cfg),
                          **burst_signals(burst, review.rating, suspect)}
    strengths = {name: strength for name, (strength, _) in evidence.items()}
    value = score(strengths)
    entry = RecentReview(
        review_id=review.review_id, user_id=review.user_id, at=now, rating=review.rating, suspect=suspect,
        signature=signature.to_wire(), shingles=signature.shingles, strengths=strengths,
        figures={name: figures for name, (_, figures) in evidence.items()}, duplicates=_bounded(matched, cfg),
        cross_duplicates=[], similarity=similarity, score=value, flagged=value >= cfg.threshold, revision=0)

    # Earlier reviews not flagged yet are scored again when this one copies them, or when a window shows a burst
    # they are in. A flagged review's verdict is out: later copies of it change nothing more.
    bursting = _bursting(burst)
    burst_by_kind: dict[tuple[int | None, bool], Evidence] = {}
    revised: list[RecentReview] = []
    newly_flagged: list[RecentReview] = []
    for old in recent:
        copied = None if old.flagged else matched.get(old.review_id)
        in_window = bursting and not old.flagged and now - old.at < cfg.mix_window_s
        if copied is not None or in_window:
            kind = (old.rating, old.suspect)
            if in_window and kind not in burst_by_kind:
                burst_by_kind[kind] = burst_signals(burst, *kind)
            window = burst_by_kind[kind] if in_window else {}
            strengths = old.strengths
            if copied is not None or any(s > strengths.get(name, 0.0) for name, (s, _) in window.items()):
                old = _rescored(old, cfg, burst=window, duplicate=(review.review_id, copied) if copied else None)
                if old.flagged:
                    newly_flagged.append(old)
        revised.append(old)
    if revised and revised[-1].at > now:  # a late review: put it where it belongs in time
        revised = sorted([*revised, entry], key=lambda e: (e.at, e.review_id))
    else:
        revised.append(entry)
    if entry.flagged:
        newly_flagged.append(entry)
    recent = revised[-cfg.recent_reviews:]

    suppressed: list[str] = []
    for flagged in sorted(newly_flagged, key=lambda e: (e.at, e.review_id)):
        open_or_join_campaign(incidents, alerts, suppressed, product_id, recent, flagged, now, cfg)
    alert_id = open_campaign_id(incidents)
    records = [_record(e, product_id, now, alert_id, cfg)
               for e in [entry, *(e for e in newly_flagged if e.review_id != entry.review_id)]]
    probe = None if not comparable else BandProbe(
        review_id=review.review_id, product_id=product_id, user_id=review.user_id, at=now,
        signature=entry.signature, shingles=signature.shingles)
    keys = band_keys(signature, cfg.bands, cfg.rows_per_band, cfg.band_buckets) if comparable else []
    new_state = ProductIntegrity(product_id=product_id, recent=recent, hours=hours, days=days, incidents=incidents,
                                 folded_offsets=remember_offset(state.folded_offsets if state else {}, source),
                                 partition=state.partition if state else -1)
    return IntegrityOutcome(new_state, records, alerts, suppressed, probe, keys, _flags(newly_flagged, product_id))


def apply_text_match(state: ProductIntegrity, match: TextMatch,
                     cfg: IntegrityConfig = DEFAULT_INTEGRITY_CONFIG) -> IntegrityOutcome:
    """Record that review `match.review_id` of this product has a near-duplicate elsewhere (from the band index).

    Returns the input state itself, with nothing to publish, when the review is no longer among the recent ones, is
    flagged already, or knows this match (a replay). A product with no row has nothing to revise: don't call this
    for it.
    """
    _check_product(state, match.product_id, match.review_id)

    def add(entry: RecentReview) -> RecentReview | None:
        other = match.other_review_id
        if entry.flagged or other in entry.duplicates or other in entry.cross_duplicates:
            return None  # a flagged review's verdict is out, or the match is known (a replay)
        found = (other, match.similarity)
        if match.other_product_id == state.product_id:
            return _rescored(entry, cfg, duplicate=found)
        return _rescored(entry, cfg, cross_duplicate=found)

    return _revise(state, match.review_id, add, match.at, cfg)


def apply_taint(state: ProductIntegrity, taint: ReviewTaint,
                cfg: IntegrityConfig = DEFAULT_INTEGRITY_CONFIG) -> IntegrityOutcome:
    """Add the `account_flagged` signal to review `taint.review_id` of this product: another review of its author
    was flagged (`account.flag_account`). Returns the input state itself, with nothing to publish, when the review
    is no longer among the recent ones, is flagged already or carries the signal. Don't call it for a product with
    no row."""
    _check_product(state, taint.product_id, taint.review_id)

    def add(entry: RecentReview) -> RecentReview | None:
        if entry.flagged or "account_flagged" in entry.strengths:
            return None
        why = {"flagged_review_id": taint.flagged_review_id, "flagged_product_id": taint.flagged_product_id}
        return _rescored(entry, cfg, added={"account_flagged": (1.0, why)})

    return _revise(state, taint.review_id, add, taint.flagged_at, cfg)


def _revise(state: ProductIntegrity, review_id: str, change: Callable[[RecentReview], RecentReview | None],
            at: float, cfg: IntegrityConfig) -> IntegrityOutcome:
    """Apply new evidence to one recent review (`change` scores it again, or says None: nothing new); flagging it
    may open or join a campaign."""
    position = next((i for i, e in enumerate(state.recent) if e.review_id == review_id), None)
    if position is None:
        return IntegrityOutcome.unchanged(state)
    before = state.recent[position]
    entry = change(before)
    if entry is None:
        return IntegrityOutcome.unchanged(state)
    recent = [*state.recent[:position], entry, *state.recent[position + 1:]]
    now = max(at, entry.at)
    incidents, alerts = expire_quiet(state.incidents, "product", state.product_id, now, cfg.alerts)
    suppressed: list[str] = []
    records = []
    flagged = entry.flagged and not before.flagged
    if flagged:
        open_or_join_campaign(incidents, alerts, suppressed, state.product_id, recent, entry, now, cfg)
        records.append(_record(entry, state.product_id, now, open_campaign_id(incidents), cfg))
    new_state = state.derive(recent=recent, incidents=incidents)
    return IntegrityOutcome(new_state, records, alerts, suppressed, None, [],
                            _flags([entry] if flagged else [], state.product_id))


# ---------------------------------------------------------------------------------------------------- internals


def _check_product(state: ProductIntegrity, product_id: str, review_id: str) -> None:
    if state.product_id != product_id:
        # A keying bug in the caller: folding it would mix two products' evidence.
        raise ValueError(f"review {review_id!r} of product {product_id!r} assessed in the row of "
                         f"{state.product_id!r}")


def _still_recent(recent: list[RecentReview], now: float, cfg: IntegrityConfig) -> list[RecentReview]:
    """The entries of the last `recent_span_s` before the newest review (the list is in event-time order)."""
    if not recent:
        return []
    oldest = max(now, recent[-1].at) - cfg.recent_span_s
    first = 0
    while first < len(recent) and recent[first].at < oldest:
        first += 1
    return recent[first:]


def _similarities(signature: TextSignature, recent: list[RecentReview]) -> np.ndarray:
    raw = b"".join(signature_bytes(e.signature) for e in recent)
    matrix = np.frombuffer(raw, dtype="<u2").reshape(len(recent), NUM_PERM)
    matches: np.ndarray = np.count_nonzero(matrix == signature.values, axis=1)
    return matches / NUM_PERM


def _bounded(ids: Iterable[str], cfg: IntegrityConfig) -> list[str]:
    return list(dict.fromkeys(ids))[-cfg.max_duplicate_ids:]


def _bursting(burst: BurstFigures) -> bool:
    """True when some review in the window could get a burst signal (see `scoring.burst_signals`)."""
    return max(burst.rate_surprise, burst.five.surprise, burst.one.surprise, burst.suspect.surprise,
               burst.five_suspect.surprise, burst.one_suspect.surprise) > 2.0


def _rescored(entry: RecentReview, cfg: IntegrityConfig, *, burst: Evidence | None = None,
              duplicate: tuple[str, float] | None = None, cross_duplicate: tuple[str, float] | None = None,
              added: Evidence | None = None) -> RecentReview:
    """The entry with new evidence, scored again: a near-duplicate (id, similarity) on this product or another, the
    current window's burst signals (the larger of each then and now: evidence only accumulates), or signals `added`
    outright. A review this flags gets the next revision. One new record at most (records are slow to build)."""
    duplicates, cross, similarity = entry.duplicates, entry.cross_duplicates, entry.similarity
    if duplicate is not None:
        duplicates, similarity = _bounded([*duplicates, duplicate[0]], cfg), max(similarity, duplicate[1])
    if cross_duplicate is not None:
        cross, similarity = _bounded([*cross, cross_duplicate[0]], cfg), max(similarity, cross_duplicate[1])
    strengths, figures = entry.strengths, entry.figures
    evidence: Evidence = {name: (strengths[name], figures.get(name, {}))
                          for name in strengths if name in ACCOUNT_SIGNALS or name in BURST_SIGNALS}
    evidence.update(duplicate_signals(duplicates, cross, similarity, entry.shingles, cfg))
    for name, (strength, why) in (burst or {}).items():
        if strength > evidence.get(name, (0.0, {}))[0]:
            evidence[name] = (strength, why)
    evidence.update(added or {})
    new_strengths = {name: strength for name, (strength, _) in evidence.items()}
    value = score(new_strengths)
    flagged = entry.flagged or value >= cfg.threshold
    return entry.derive(strengths=new_strengths, figures={name: why for name, (_, why) in evidence.items()},
                        duplicates=duplicates, cross_duplicates=cross, similarity=similarity, score=value,
                        flagged=flagged, revision=entry.revision + 1 if flagged and not entry.flagged
                        else entry.revision)


def _flags(flagged: Iterable[RecentReview], product_id: str) -> list[AccountFlag]:
    return [AccountFlag(user_id=e.user_id, review_id=e.review_id, product_id=product_id, at=e.at) for e in flagged]


def _record(entry: RecentReview, product_id: str, assessed_at: float, campaign: str | None,
            cfg: IntegrityConfig) -> ReviewIntegrity:
    evidence: Evidence = {name: (strength, entry.figures.get(name, {})) for name, strength in entry.strengths.items()}
    return ReviewIntegrity(
        review_id=entry.review_id, user_id=entry.user_id, product_id=product_id, score=entry.score,
        flagged=entry.flagged, threshold=cfg.threshold, signals=explain(evidence),
        near_duplicates=[*entry.duplicates, *entry.cross_duplicates][:_MAX_NEAR_DUPLICATES],
        campaign_alert_id=campaign if entry.flagged else None, review_created_at=entry.at, assessed_at=assessed_at,
        revision=entry.revision, scorer=SCORER)
