"""`UserProfile` (topic `user-profiles`, compacted, key = user_id) and the pure fold that builds it.

A profile is a running summary of one user's clicks and reviews. The worker keeps it in a table and calls

>>> update = fold_click(None, click, SourceRef("clickstream", 0, 41))     # doctest: +SKIP
>>> update = fold_insight(update.profile, insight, SourceRef("review-insights", 3, 7))  # doctest: +SKIP
>>> if update.meaningful: publish(update.profile)                        # doctest: +SKIP

Guarantees, all without I/O and without reading a clock:

- **Idempotent replay.** The profile remembers the highest offset folded per source topic-partition
  (`folded_offsets`, "topic:partition" → offset) and ignores any event at or below it, so re-reading a partition after
  a crash never counts an event twice. This needs each partition folded in offset order (one agent per partition,
  as ARCHITECTURE.md prescribes) and `source` must be the offset of the message the agent read (after any
  repartitioning). Insights are also de-duplicated by `review_id` (bounded memory), because our own at-least-once
  publishing can put the same insight on `review-insights` twice, at two offsets.
- **Event time only.** Decay, recency and "last" fields use the click's `ts` and the review's time, so results do
  not depend on when the worker happens to run.
- **Bounded size.** Top-K interests, last-N prices, history and ids, capped cart lines (see `ProfileConfig`).

Interest decay: each event adds `weight(type)` to its category and brand. Scores are stored as of `interest_as_of`
(the latest event time that touched them), i.e. score(T) = Σ weight_i · 2^(-(T - t_i) / half_life). A newer event
first scales every score by 2^(-(t - as_of) / half_life); an older (out-of-order) one adds its weight already decayed.
Both give the same sum, so the order in which events arrive does not matter.

The cart and RFM rules are documented on `_fold_cart`, `_fold_purchase` and `rfm_segment`.

Shared folding plumbing also lives here because session and product-window state need it too: `SourceRef`,
`already_folded`, `remember_offset`, `insight_facts`.
"""

from __future__ import annotations

import bisect
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Final, Literal, NamedTuple, get_args

import msgspec

from models.click import ClickEvent
from models.insight import ReviewInsight
from models.structs import FrozenRecord, Record

__all__ = [
    "DEFAULT_CONFIG",
    "DEFAULT_RFM",
    "PRICE_BANDS",
    "SEGMENTS",
    "CartLine",
    "InsightFacts",
    "NegativeReview",
    "PriceBand",
    "ProfileConfig",
    "ProfileFacts",
    "ProfileUpdate",
    "RfmConfig",
    "Segment",
    "SentimentNote",
    "SourceRef",
    "UserProfile",
    "already_folded",
    "apply_click",
    "apply_insight",
    "bought_before",
    "copy_profile",
    "fold_click",
    "fold_insight",
    "insight_facts",
    "note_folded",
    "price_band",
    "profile_facts",
    "reasons",
    "remember_offset",
    "rfm_segment",
    "segment_as_of",
    "top_interests",
]

DAY_S: Final = 86_400.0

Segment = Literal["prospect", "new", "potential", "loyal", "champion", "at_risk", "hibernating"]
SEGMENTS: Final[tuple[str, ...]] = get_args(Segment)
PriceBand = Literal["budget", "mid", "premium"]
PRICE_BANDS: Final[tuple[str, ...]] = get_args(PriceBand)

# Why each event type counts as much as it does: intent grows from looking to paying; taking something out of the
# cart says nothing positive about the category, so it adds nothing.
DEFAULT_INTEREST_WEIGHTS: Final[Mapping[str, float]] = {
    "view": 1.0, "search": 0.5, "add_to_cart": 3.0, "remove_from_cart": 0.0, "checkout": 2.0, "purchase": 5.0,
}
# Which prices say what the user is willing to pay: the products looked at, carted or bought (unit prices).
_PRICED_TYPES: Final = frozenset({"view", "add_to_cart", "purchase"})
# Consent events from the shop's preference centre → the value of `marketing_opt_out` after them.
_CONSENT: Final = {"marketing_opt_out": True, "marketing_opt_in": False}
# The click types the cart rules look at.
_CART_TYPES: Final = frozenset({"add_to_cart", "remove_from_cart", "purchase"})


# ---------------------------------------------------------------------------------------------------- configuration


@dataclass(frozen=True)
class RfmConfig:
    """Thresholds of `rfm_segment`; day limits are inclusive ("at most N days ago")."""

    champion_min_orders: int = 5
    champion_min_spend: float = 500.0
    champion_max_recency_days: float = 30.0
    loyal_min_orders: int = 3
    new_max_recency_days: float = 30.0
    at_risk_after_days: float = 60.0
    at_risk_min_orders: int = 2
    hibernating_after_days: float = 180.0

    def __post_init__(self) -> None:
        if not 0 < self.at_risk_after_days <= self.hibernating_after_days:
            raise ValueError(f"need 0 < at_risk_after_days <= hibernating_after_days, got {self}")
        if not 1 <= self.loyal_min_orders <= self.champion_min_orders:
            raise ValueError(f"need 1 <= loyal_min_orders <= champion_min_orders, got {self}")


@dataclass(frozen=True)
class ProfileConfig:
    """Knobs of the fold. With the defaults a profile never passes ~7 KB of JSON (every list and map full, long
    ids), an active shopper's is ~3.5 KB, a casual visitor's well under 1 KB: a million fit in a few GB of RocksDB."""

    half_life_s: float = 14 * DAY_S
    interest_weights: Mapping[str, float] = field(default_factory=lambda: dict(DEFAULT_INTEREST_WEIGHTS))
    top_k_interests: int = 20
    # Median price below `budget_below` → budget; at or above `premium_from` → premium; else mid.
    budget_below: float = 25.0
    premium_from: float = 100.0
    price_memory: int = 20
    history_size: int = 10
    # Real carts hold a handful of lines; the cap only stops a bot from growing one without limit.
    cart_max_lines: int = 30
    # Duplicate insights come from retries within minutes, so the last few ids catch them.
    recent_review_ids: int = 10
    # Purchases of one order arrive as several line events; remembering the last few order ids counts it once.
    recent_order_ids: int = 5
    # Products bought, for "did this reviewer buy it?" (models/integrity). A review comes days or weeks after the
    # purchase, so the 20 latest first purchases cover all but wholesale buyers, at ~1 KB with long ids.
    purchased_products: int = 20
    rfm: RfmConfig = field(default_factory=RfmConfig)

    def __post_init__(self) -> None:
        if self.half_life_s <= 0:
            raise ValueError(f"half_life_s must be positive, got {self.half_life_s}")
        if not 0 <= self.budget_below <= self.premium_from:
            raise ValueError(f"need 0 <= budget_below <= premium_from, got {self.budget_below}, {self.premium_from}")
        sizes = (self.top_k_interests, self.price_memory, self.history_size, self.cart_max_lines,
                 self.recent_review_ids, self.recent_order_ids, self.purchased_products)
        if min(sizes) < 1:
            raise ValueError(f"every size limit must be at least 1, got {self}")


DEFAULT_RFM: Final = RfmConfig()
DEFAULT_CONFIG: Final = ProfileConfig()


# ---------------------------------------------------------------------------------------------------- records


class CartLine(FrozenRecord, frozen=True):
    qty: int
    # The latest unit price seen for the product, if any event carried one.
    price: float | None
    # When the product first entered the cart (event time); it stays while the line exists.
    added_at: float


class SentimentNote(FrozenRecord, frozen=True):
    review_id: str
    product_id: str
    sentiment: str
    score: float
    at: float


class NegativeReview(FrozenRecord, frozen=True):
    review_id: str
    product_id: str
    at: float
    summary: str


class UserProfile(Record):
    """One user's running summary. Nested records are frozen: a fold replaces them, never changes them in place, so
    a copy of a profile (`copy_profile`) needs to copy only its containers."""

    user_id: str
    first_seen: float
    last_seen: float
    # Clicks by type (keys from models.click.CLICK_TYPES).
    counts: dict[str, int]
    # Decayed interest scores as of `interest_as_of` (the latest time of an event that carried a category or brand,
    # None before the first), so equal event sets give equal numbers whatever the arrival order; top-K each.
    category_interest: dict[str, float]
    brand_interest: dict[str, float]
    interest_as_of: float | None
    # [event time, unit price] of the latest priced views/carts/purchases, oldest first; `price_band` is their median.
    recent_prices: list[list[float]]
    price_band: str | None
    cart: dict[str, CartLine]
    cart_updated_at: float | None
    # Time of the latest whole-order purchase, which empties the cart; cart events older than it are late, ignored.
    cart_cleared_at: float | None
    # RFM: frequency = orders, monetary = spend, recency = days from last_order_at to last_seen.
    orders: int
    spend: float
    last_order_at: float | None
    recent_order_ids: list[str]
    recency_days: float | None
    segment: str
    review_count: int
    mean_sentiment: float | None
    sentiment_history: list[SentimentNote]
    last_negative_review: NegativeReview | None
    recent_review_ids: list[str]
    folded_offsets: dict[str, int]
    # Set and cleared by `marketing_opt_out` / `marketing_opt_in` events on the clickstream (the shop's preference
    # centre); marketing honours it.
    marketing_opt_out: bool = False
    # Language of the customer's latest review (ISO 639-1), for messages; None until they write one.
    language: str | None = None
    # Product id → event time of its first purchase: the `purchased_products` products first bought most recently.
    # Replaced, never changed in place, so `copy_profile` may share it.
    purchased_products: dict[str, float] = {}  # noqa: RUF012  # msgspec copies an empty default per instance

    @classmethod
    def empty(cls, user_id: str, at: float) -> UserProfile:
        """A profile that has seen nothing yet; `at` is the first event's time."""
        # Positional, in declaration order: six times faster than by keyword, and the worst case (a click from a new
        # user) does this for every click. tests/unit/test_profile.py checks it against the fields by name.
        return cls(user_id, at, at, {}, {}, {}, None, [], None, {}, None, None, 0, 0.0, None, [], None, "prospect", 0,
                   None, [], None, [], {})


@dataclass(frozen=True)
class ProfileUpdate:
    """What a fold produced: the profile to store, and whether to publish it."""

    profile: UserProfile
    # False when the event was a replay (or a duplicate insight) and `profile` is the input, untouched.
    changed: bool
    # Why the change is worth publishing (see `reasons`); empty for routine changes such as one more view.
    reasons: tuple[str, ...] = ()

    @property
    def meaningful(self) -> bool:
        return bool(self.reasons)


# ---------------------------------------------------------------------------------------------------- plumbing


class SourceRef(NamedTuple):
    """Where an event was read from; the unit of replay protection."""

    topic: str
    partition: int
    offset: int

    @property
    def key(self) -> str:
        return f"{self.topic}:{self.partition}"


def already_folded(folded_offsets: Mapping[str, int], source: SourceRef) -> bool:
    """True when `source` is at or below the highest offset already folded from its topic-partition."""
    seen = folded_offsets.get(source.key)
    return seen is not None and source.offset <= seen


def remember_offset(folded_offsets: Mapping[str, int], source: SourceRef) -> dict[str, int]:
    """A new mapping that records `source` as folded (one entry per topic-partition, so it stays small)."""
    return {**folded_offsets, source.key: max(source.offset, folded_offsets.get(source.key, -1))}


class InsightFacts(NamedTuple):
    """The parts of a `ReviewInsight` that profiles and product windows fold, read from a record or a wire dict."""

    review_id: str
    user_id: str
    product_id: str
    sentiment: str
    score: float
    # Event time: when the review was written, else when it was analysed.
    at: float
    summary: str
    aspects: tuple[tuple[str, str], ...]  # (name, sentiment)
    issues: tuple[str, ...]
    competitors: tuple[str, ...]
    degraded: bool


def insight_facts(insight: ReviewInsight | Mapping[str, Any]) -> InsightFacts:
    """Read an insight given as a `ReviewInsight` or as its wire dict (already valid against its schema)."""
    data: Mapping[str, Any] = insight.to_dict() if isinstance(insight, ReviewInsight) else insight
    created = data.get("review_created_at")
    aspects = tuple((str(a["name"]), str(a["sentiment"])) for a in data.get("aspects") or ())
    return InsightFacts(
        review_id=str(data["review_id"]),
        user_id=str(data["user_id"]),
        product_id=str(data["product_id"]),
        sentiment=str(data["sentiment"]),
        score=float(data["sentiment_score"]),
        at=float(created) if created is not None else float(data.get("analyzed_at") or 0.0),
        summary=str(data.get("summary") or ""),
        aspects=aspects,
        issues=tuple(str(i) for i in data.get("issues") or ()),
        competitors=tuple(str(c) for c in data.get("competitors") or ()),
        degraded=bool(data.get("degraded", False)),
    )


# ---------------------------------------------------------------------------------------------------- pure rules


def rfm_segment(recency_days: float | None, frequency: int, monetary: float, cfg: RfmConfig = DEFAULT_RFM) -> str:
    """The RFM segment of a customer; the first matching rule wins.

    >>> rfm_segment(None, 0, 0.0), rfm_segment(3.0, 1, 20.0), rfm_segment(10.0, 6, 900.0)
    ('prospect', 'new', 'champion')

    1. never ordered (frequency 0)                                           → prospect
    2. last order more than `hibernating_after_days` ago                     → hibernating
    3. more than `at_risk_after_days` ago: `at_risk_min_orders`+ orders      → at_risk, else hibernating
    4. `champion_min_orders`+ orders, `champion_min_spend`+ spent, and at most
       `champion_max_recency_days` ago                                       → champion
    5. `loyal_min_orders`+ orders                                            → loyal
    6. exactly one order, at most `new_max_recency_days` ago                  → new
    7. otherwise (a few orders, recent enough)                               → potential
    """
    if frequency <= 0 or recency_days is None:
        return "prospect"
    if recency_days > cfg.hibernating_after_days:
        return "hibernating"
    if recency_days > cfg.at_risk_after_days:
        return "at_risk" if frequency >= cfg.at_risk_min_orders else "hibernating"
    if (frequency >= cfg.champion_min_orders and monetary >= cfg.champion_min_spend
            and recency_days <= cfg.champion_max_recency_days):
        return "champion"
    if frequency >= cfg.loyal_min_orders:
        return "loyal"
    if frequency == 1 and recency_days <= cfg.new_max_recency_days:
        return "new"
    return "potential"


def segment_as_of(profile: UserProfile, now: float, cfg: RfmConfig = DEFAULT_RFM) -> str:
    """The segment the profile would have at time `now` with no new events (for win-back timers).

    Folds measure recency up to the user's own last event, so a user who stopped coming keeps their last segment;
    a timer that wants "at_risk by now" asks this with an explicit `now` instead.
    """
    recency = None if profile.last_order_at is None else max(0.0, now - profile.last_order_at) / DAY_S
    return rfm_segment(recency, profile.orders, profile.spend, cfg)


def price_band(median_price: float | None, cfg: ProfileConfig = DEFAULT_CONFIG) -> str | None:
    """budget / mid / premium for a median unit price, None without prices."""
    if median_price is None:
        return None
    if median_price < cfg.budget_below:
        return "budget"
    return "premium" if median_price >= cfg.premium_from else "mid"


def top_interests(scores: Mapping[str, float], n: int = 3) -> list[str]:
    """The `n` highest-scored names, ties broken by name so the answer is deterministic."""
    # A sort of at most top_k_interests names: faster than heapq.nsmallest at these sizes.
    return sorted(scores, key=lambda name: (-scores[name], name))[:n]


# ---------------------------------------------------------------------------------------------------- folds


def fold_click(
    profile: UserProfile | None, click: ClickEvent, source: SourceRef, cfg: ProfileConfig = DEFAULT_CONFIG
) -> ProfileUpdate:
    """Fold one click into a profile (None = first event of this user); the input profile is not modified."""
    if profile is not None:
        _check_user(profile, click.user_id)
        if already_folded(profile.folded_offsets, source):
            return ProfileUpdate(profile=profile, changed=False)
    p = UserProfile.empty(click.user_id, click.ts) if profile is None else copy_profile(profile)
    apply_click(p, click, cfg)
    note_folded(p.folded_offsets, source)
    return ProfileUpdate(profile=p, changed=True, reasons=reasons(profile_facts(profile), p))


def fold_insight(
    profile: UserProfile | None,
    insight: ReviewInsight | Mapping[str, Any],
    source: SourceRef,
    cfg: ProfileConfig = DEFAULT_CONFIG,
) -> ProfileUpdate:
    """Fold one review insight (record or wire dict) into the author's profile; the input is not modified."""
    facts = insight_facts(insight)
    if profile is not None:
        _check_user(profile, facts.user_id)
        if already_folded(profile.folded_offsets, source) or facts.review_id in profile.recent_review_ids:
            return ProfileUpdate(profile=profile, changed=False)
    p = UserProfile.empty(facts.user_id, facts.at) if profile is None else copy_profile(profile)
    language = (insight.language if isinstance(insight, ReviewInsight) else insight.get("language")) or None
    apply_insight(p, facts, language, cfg)
    note_folded(p.folded_offsets, source)
    return ProfileUpdate(profile=p, changed=True, reasons=reasons(profile_facts(profile), p))


def apply_click(p: UserProfile, click: ClickEvent, cfg: ProfileConfig = DEFAULT_CONFIG) -> None:
    """Fold one click into `p` in place: the rules of `fold_click`, for a caller that owns `p` (a batch fold that
    read it from its table) and has already checked that the click is new and the user's."""
    ts, kind = click.ts, click.type
    if ts < p.first_seen:
        p.first_seen = ts
    if ts > p.last_seen:
        p.last_seen = ts
    counts = p.counts
    counts[kind] = counts.get(kind, 0) + 1
    weight = cfg.interest_weights.get(kind, 0.0)
    if weight > 0 and (click.category is not None or click.brand is not None):
        _add_interest(p, click.category, click.brand, weight, ts, cfg)
    if kind in _PRICED_TYPES and click.product_id is not None and click.price is not None:
        _add_price(p, ts, click.price, cfg)
    if kind == "purchase":
        _remember_purchased(p, click, cfg)  # before the cart rules: a whole order buys what is in the cart
    if kind in _CART_TYPES:
        _fold_cart(p, click, cfg)
    elif kind in _CONSENT:
        p.marketing_opt_out = _CONSENT[kind]
    if kind == "purchase":
        _fold_purchase(p, click, cfg)
    _refresh_rfm(p, cfg)


def apply_insight(p: UserProfile, facts: InsightFacts, language: str | None,
                  cfg: ProfileConfig = DEFAULT_CONFIG) -> None:
    """Fold one review into `p` in place (see `apply_click`; the caller checked offset and review id)."""
    _touch(p, facts.at)
    p.review_count += 1
    previous_mean = p.mean_sentiment if p.mean_sentiment is not None else 0.0
    p.mean_sentiment = _clamp(previous_mean + (facts.score - previous_mean) / p.review_count)
    note = SentimentNote(review_id=facts.review_id, product_id=facts.product_id, sentiment=facts.sentiment,
                         score=facts.score, at=facts.at)
    # Kept in event-time order, so a late insight lands where it belongs and the newest N survive.
    history = sorted([*p.sentiment_history, note], key=lambda n: (n.at, n.review_id))
    p.sentiment_history = history[-cfg.history_size:]
    last = p.last_negative_review
    if facts.sentiment == "negative" and (last is None or (facts.at, facts.review_id) >= (last.at, last.review_id)):
        p.last_negative_review = NegativeReview(review_id=facts.review_id, product_id=facts.product_id, at=facts.at,
                                                summary=facts.summary)
    p.recent_review_ids = [*p.recent_review_ids, facts.review_id][-cfg.recent_review_ids:]
    if language and (p.sentiment_history[-1].review_id == facts.review_id):  # the newest review speaks for now
        p.language = str(language)
    _refresh_rfm(p, cfg)


def note_folded(folded_offsets: dict[str, int], source: SourceRef) -> None:
    """Record `source` as folded, in place (`remember_offset` returns a new mapping instead)."""
    key = source.key
    seen = folded_offsets.get(key)
    if seen is None or source.offset > seen:
        folded_offsets[key] = source.offset


def copy_profile(p: UserProfile) -> UserProfile:
    """A copy a fold may change in place without touching `p`: the containers are copied one level deep, the nested
    records (frozen) are shared."""
    return msgspec.structs.replace(
        p, counts=dict(p.counts), category_interest=dict(p.category_interest), brand_interest=dict(p.brand_interest),
        recent_prices=list(p.recent_prices), cart=dict(p.cart), recent_order_ids=list(p.recent_order_ids),
        sentiment_history=list(p.sentiment_history), recent_review_ids=list(p.recent_review_ids),
        folded_offsets=dict(p.folded_offsets))


def _check_user(profile: UserProfile, user_id: str) -> None:
    if profile.user_id != user_id:
        # A keying bug in the caller: folding it would merge two people.
        raise ValueError(f"event of user {user_id!r} folded into the profile of {profile.user_id!r}")


def _clamp(score: float) -> float:
    # A running mean of scores in [-1, 1] can drift one rounding step outside; the schema promises [-1, 1].
    return min(1.0, max(-1.0, score))


def _touch(p: UserProfile, at: float) -> None:
    p.first_seen = min(p.first_seen, at)
    p.last_seen = max(p.last_seen, at)


def _add_interest(p: UserProfile, category: str | None, brand: str | None, weight: float, at: float,
                  cfg: ProfileConfig) -> None:
    as_of = p.interest_as_of
    if as_of is None:
        p.interest_as_of = as_of = at
    elif at > as_of:
        factor = 0.5 ** ((at - as_of) / cfg.half_life_s)
        for decayed in (p.category_interest, p.brand_interest):
            for name in decayed:
                decayed[name] *= factor
        p.interest_as_of = as_of = at
    # For a late event this is the weight decayed to `interest_as_of`; for the newest event it is the weight itself.
    amount = weight * 0.5 ** ((as_of - at) / cfg.half_life_s)
    if category is not None:
        scores = p.category_interest
        scores[category] = scores.get(category, 0.0) + amount
        if len(scores) > cfg.top_k_interests:
            p.category_interest = _top_k(scores, cfg.top_k_interests)
    if brand is not None:
        scores = p.brand_interest
        scores[brand] = scores.get(brand, 0.0) + amount
        if len(scores) > cfg.top_k_interests:
            p.brand_interest = _top_k(scores, cfg.top_k_interests)


def _top_k(scores: dict[str, float], k: int) -> dict[str, float]:
    return {name: scores[name] for name in top_interests(scores, k)}


def _add_price(p: UserProfile, at: float, price: float, cfg: ProfileConfig) -> None:
    prices = p.recent_prices
    bisect.insort(prices, [at, price])  # kept sorted by (time, price), oldest first
    if len(prices) > cfg.price_memory:
        del prices[: len(prices) - cfg.price_memory]
    p.price_band = price_band(_median(sorted([pp[1] for pp in prices])), cfg)


def _median(ordered: list[float]) -> float:
    # statistics.median's arithmetic, on a list the caller has sorted.
    middle = len(ordered) // 2
    return ordered[middle] if len(ordered) % 2 else (ordered[middle - 1] + ordered[middle]) / 2


def _fold_cart(p: UserProfile, click: ClickEvent, cfg: ProfileConfig) -> None:
    """Cart rules.

    - add_to_cart adds `quantity` (default 1) to the line, keeps its first `added_at`, takes the newest price;
      beyond `cart_max_lines` the line added longest ago is dropped.
    - remove_from_cart subtracts `quantity`, or removes the whole line without one; a line at 0 disappears.
    - purchase with a product_id removes that line (it was bought); a purchase without one is a whole order and
      empties the cart, and cart events older than it (late arrivals) are ignored so they cannot reopen it.
    """
    late = p.cart_cleared_at is not None and click.ts < p.cart_cleared_at
    if late and click.type != "purchase":
        return
    pid = click.product_id
    if click.type == "add_to_cart" and pid is not None:
        line = p.cart.get(pid)
        p.cart[pid] = CartLine(
            qty=(line.qty if line else 0) + (click.quantity or 1),
            price=click.price if click.price is not None else (line.price if line else None),
            added_at=min(line.added_at, click.ts) if line else click.ts,
        )
        if len(p.cart) > cfg.cart_max_lines:
            oldest = min(p.cart, key=lambda k: (p.cart[k].added_at, k))
            del p.cart[oldest]
    elif click.type == "remove_from_cart" and pid is not None and pid in p.cart:
        line = p.cart[pid]
        left = line.qty - click.quantity if click.quantity is not None else 0
        if left > 0:
            p.cart[pid] = CartLine(qty=left, price=line.price, added_at=line.added_at)
        else:
            del p.cart[pid]
    elif click.type == "purchase" and pid is not None and pid in p.cart:
        del p.cart[pid]
    elif click.type == "purchase" and pid is None:
        if not late:
            p.cart.clear()
        p.cart_cleared_at = max(p.cart_cleared_at or click.ts, click.ts)
    else:
        return  # nothing in the cart changed (e.g. removing a product that is not in it)
    p.cart_updated_at = max(p.cart_updated_at or click.ts, click.ts)


def _remember_purchased(p: UserProfile, click: ClickEvent, cfg: ProfileConfig) -> None:
    """A purchase with a product_id buys that product; a whole order (no product_id) buys every line of the cart it
    empties (a late one, older than the last emptying, empties nothing and so buys nothing known). Each product keeps
    the time of its first purchase; beyond `purchased_products` the products first bought longest ago go."""
    if click.product_id is not None:
        bought = [click.product_id]
    elif p.cart_cleared_at is None or click.ts >= p.cart_cleared_at:
        bought = list(p.cart)
    else:
        return
    purchased = dict(p.purchased_products)
    for pid in bought:
        purchased[pid] = min(purchased.get(pid, click.ts), click.ts)
    if len(purchased) > cfg.purchased_products:
        # Ties by product id, so the same events always keep the same products.
        newest = sorted(purchased.items(), key=lambda kv: (kv[1], kv[0]))[-cfg.purchased_products:]
        purchased = dict(newest)
    p.purchased_products = purchased


def bought_before(profile: UserProfile | None, product_id: str, at: float) -> float | None:
    """When the user first bought `product_id`, if at or before `at` (event time); None if the profile shows no
    such purchase.

    >>> bought_before(profile, "kettle-01", review_time)     # doctest: +SKIP
    1717000000.0
    """
    if profile is None:
        return None
    first = profile.purchased_products.get(product_id)
    return first if first is not None and first <= at else None


def _fold_purchase(p: UserProfile, click: ClickEvent, cfg: ProfileConfig) -> None:
    """Orders and spend: spend grows by price × quantity (default 1); a purchase is a new order unless its
    `order_id` is one of the last `recent_order_ids` orders (line events of one order count once)."""
    p.spend += (click.price or 0.0) * (click.quantity or 1)
    if click.order_id is None or click.order_id not in p.recent_order_ids:
        p.orders += 1
    if click.order_id is not None and click.order_id not in p.recent_order_ids:
        p.recent_order_ids = [*p.recent_order_ids, click.order_id][-cfg.recent_order_ids:]
    p.last_order_at = max(p.last_order_at or click.ts, click.ts)


def _refresh_rfm(p: UserProfile, cfg: ProfileConfig) -> None:
    p.recency_days = None if p.last_order_at is None else (p.last_seen - p.last_order_at) / DAY_S
    p.segment = rfm_segment(p.recency_days, p.orders, p.spend, cfg.rfm)


# ---------------------------------------------------------------------------------------------------- publishing


class ProfileFacts(NamedTuple):
    """What decides whether a change is worth publishing, read from a profile before it changes: a fold that changes
    a profile in place keeps these instead of a copy of the whole profile."""

    orders: int
    segment: str
    has_cart: bool
    review_count: int
    # Top-3 as a set: two favourites swapping places is not news, a new favourite is.
    top_categories: frozenset[str]
    top_brands: frozenset[str]
    price_band: str | None
    marketing_opt_out: bool


# The facts of a profile that has seen nothing (`UserProfile.empty`).
_NOTHING_YET: Final = ProfileFacts(orders=0, segment="prospect", has_cart=False, review_count=0,
                                   top_categories=frozenset(), top_brands=frozenset(), price_band=None,
                                   marketing_opt_out=False)


def profile_facts(profile: UserProfile | None) -> ProfileFacts | None:
    if profile is None:
        return None
    return ProfileFacts(orders=profile.orders, segment=profile.segment, has_cart=bool(profile.cart),
                        review_count=profile.review_count,
                        top_categories=frozenset(top_interests(profile.category_interest)),
                        top_brands=frozenset(top_interests(profile.brand_interest)), price_band=profile.price_band,
                        marketing_opt_out=profile.marketing_opt_out)


def reasons(before: ProfileFacts | None, after: UserProfile) -> tuple[str, ...]:
    """Changes worth publishing to `user-profiles` and to the marketing triggers; a routine view is not one. `before`
    is None for a profile the change created."""
    # A first event is news by itself, and it may also open a cart or set interests: compare with an empty profile.
    found = ["first_seen"] if before is None else []
    if before is None:
        before = _NOTHING_YET
    if after.orders > before.orders:
        found.append("new_order")
    if after.segment != before.segment:
        found.append("segment_change")
    if after.cart and not before.has_cart:
        found.append("cart_opened")
    if before.has_cart and not after.cart:
        found.append("cart_closed")
    if after.review_count > before.review_count:
        found.append("new_review")
    if (frozenset(top_interests(after.category_interest)) != before.top_categories
            or frozenset(top_interests(after.brand_interest)) != before.top_brands):
        found.append("interest_change")
    if after.price_band != before.price_band:
        found.append("price_band_change")
    if after.marketing_opt_out != before.marketing_opt_out:
        found.append("consent_change")
    return tuple(found)
