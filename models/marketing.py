"""Marketing triggers: pure functions deciding when a customer gets a message, and what the writer may know.

Three triggers, all in event time:
- `abandoned_cart`: items in the cart and no purchase for `abandon_after_s` since the cart last changed;
- `win_back`: a customer with `winback_min_orders`+ orders whose last order is `winback_after_s` old;
- `thank_you`: a positive review (score ≥ `thank_you_min_score`), with a cross-sell from the customer's interests.

Per user, a `MarketingState` (a table row) holds the schedule of time-based triggers and the messages sent lately.
`admit` applies the rules every message must pass: the opt-out flag, a frequency cap (`cap_messages` per
`cap_window_s`), and no second message for the same occasion. The occasion decides the `message_id` (a hash of user,
kind and the cart/order/review it is about), so a replay produces the same id and the state refuses it.

A `MarketingTrigger` carries only what the profile holds: interests, cart lines (product ids, categories, brands,
prices), segment, language. No name, e-mail, address or review text: nothing personal reaches the writer.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final, NamedTuple

import faust

from models.bounds import DEFAULT_BOUNDS, LANGUAGE_CODE, FieldBounds
from models.errors import InvalidEvent
from models.profile import PRICE_BANDS, SEGMENTS, InsightFacts, UserProfile
from models.records import WireRecord
from models.wire import (
    bounded_int,
    bounded_number,
    decode_json_object,
    event_time,
    optional_id,
    optional_text,
    required_id,
)

__all__ = [
    "DEFAULT_MARKETING_CONFIG",
    "MARKETING_KINDS",
    "MarketingConfig",
    "MarketingDecision",
    "MarketingMessage",
    "MarketingState",
    "MarketingTrigger",
    "admit",
    "due_triggers",
    "message_id",
    "parse_marketing_trigger",
    "schedule",
    "thank_you_trigger",
    "triggers_due",
]

DAY_S: Final = 86400.0
MARKETING_KINDS: Final = ("abandoned_cart", "win_back", "thank_you")


@dataclass(frozen=True)
class MarketingConfig:
    abandon_after_s: float = 3600.0
    winback_after_s: float = 60 * DAY_S
    winback_min_orders: int = 2
    thank_you_min_score: float = 0.5
    cap_messages: int = 2
    cap_window_s: float = 7 * DAY_S
    # Message ids remembered per user to refuse a second message for the same occasion.
    remember_sent: int = 20
    max_items: int = 5
    max_interests: int = 3

    def __post_init__(self) -> None:
        if min(self.abandon_after_s, self.winback_after_s, self.cap_window_s) <= 0:
            raise ValueError(f"durations must be positive, got {self}")
        if self.cap_messages < 0 or self.remember_sent < 1:
            raise ValueError(f"cap_messages must be >= 0 and remember_sent >= 1, got {self}")


DEFAULT_MARKETING_CONFIG: Final = MarketingConfig()


class MarketingState(faust.Record, include_metadata=False, serializer="json"):
    user_id: str
    # The table partition the row lives in: a timer-driven sweep of one partition handles only its own rows.
    partition: int
    # kind → [due_at, anchor]: when the trigger fires and the occasion it is about (cart change or last order time).
    scheduled: dict[str, list[float]]
    # [message_id, sent_at], oldest first, at most `remember_sent`.
    sent: list[list[Any]]


class MarketingTrigger(faust.Record, include_metadata=False, serializer="json"):
    """What the message writer gets: the occasion and the profile facts it may use, nothing else."""

    message_id: str
    user_id: str
    kind: str
    at: float
    language: str
    segment: str
    interests: list[str]
    brands: list[str]
    # Cart lines: {"product_id", "qty", "price"} (price absent when no event carried one).
    items: list[dict[str, Any]]
    price_band: str | None = None
    reviewed_product_id: str | None = None


class MarketingMessage(WireRecord):
    """One record on `marketing-messages`, keyed by `message_id`, for a CRM to send."""

    message_id: str
    user_id: str
    kind: str
    channel: str
    language: str
    subject: str
    body: str
    # "llm" (the model wrote it), "template" (no LLM configured, or it failed: the text says nothing more).
    generated_by: str
    model: str | None
    trigger_at: float
    created_at: float
    items: list[dict[str, Any]]


class MarketingDecision(NamedTuple):
    state: MarketingState
    triggers: list[MarketingTrigger]
    # (kind, reason) for every trigger refused: opted_out, frequency_cap, already_sent, cart_empty, ordered_since.
    refused: list[tuple[str, str]]


def message_id(user_id: str, kind: str, anchor: str) -> str:
    raw = "\x1f".join([user_id, kind, anchor])
    return hashlib.sha256(raw.encode("utf-8")).hexdigest()[:24]


def empty_state(user_id: str, partition: int) -> MarketingState:
    return MarketingState(user_id=user_id, partition=partition, scheduled={}, sent=[])


def schedule(state: MarketingState | None, profile: UserProfile, partition: int,
             cfg: MarketingConfig = DEFAULT_MARKETING_CONFIG) -> MarketingState | None:
    """The schedule after the profile changed: cart reminders follow the cart, win-back follows the last order.

    Returns None when the user has nothing scheduled and nothing remembered (no row needed)."""
    scheduled = dict(state.scheduled) if state else {}
    if profile.cart and profile.cart_updated_at is not None:
        scheduled["abandoned_cart"] = [profile.cart_updated_at + cfg.abandon_after_s, profile.cart_updated_at]
    else:
        scheduled.pop("abandoned_cart", None)
    if profile.orders >= cfg.winback_min_orders and profile.last_order_at is not None:
        scheduled["win_back"] = [profile.last_order_at + cfg.winback_after_s, profile.last_order_at]
    else:
        scheduled.pop("win_back", None)
    sent = list(state.sent) if state else []
    if not scheduled and not sent:
        return None
    return MarketingState(user_id=profile.user_id, partition=partition, scheduled=scheduled, sent=sent)


def due_triggers(state: MarketingState, profile: UserProfile | None, now: float,
                 cfg: MarketingConfig = DEFAULT_MARKETING_CONFIG) -> MarketingDecision:
    """Fire the scheduled triggers due at `now` (event time) that still apply and pass `admit`."""
    scheduled = dict(state.scheduled)
    triggers: list[MarketingTrigger] = []
    refused: list[tuple[str, str]] = []
    for kind, (due_at, anchor) in sorted(state.scheduled.items()):
        if due_at > now:
            continue
        del scheduled[kind]  # fired or refused: either way this occasion is done
        if profile is None:
            continue
        if kind == "abandoned_cart":
            if not profile.cart or profile.cart_updated_at != anchor:
                refused.append((kind, "cart_changed"))
                continue
            if profile.last_order_at is not None and profile.last_order_at >= anchor:
                refused.append((kind, "ordered_since"))
                continue
        if kind == "win_back" and profile.last_order_at != anchor:
            refused.append((kind, "ordered_since"))
            continue
        trigger = _trigger(profile, kind, f"{anchor:.3f}", due_at, cfg)
        state, reason = admit(MarketingState(user_id=state.user_id, partition=state.partition,
                                             scheduled=scheduled, sent=state.sent), profile, trigger, cfg)
        if reason:
            refused.append((kind, reason))
        else:
            triggers.append(trigger)
    return MarketingDecision(MarketingState(user_id=state.user_id, partition=state.partition, scheduled=scheduled,
                                            sent=state.sent), triggers, refused)


def triggers_due(state: MarketingState) -> float | None:
    """When `due_triggers` next has a scheduled trigger to fire (or refuse); None with nothing scheduled."""
    return min((due for due, _ in state.scheduled.values()), default=None)


def thank_you_trigger(state: MarketingState | None, profile: UserProfile, facts: InsightFacts, partition: int,
                      cfg: MarketingConfig = DEFAULT_MARKETING_CONFIG) -> MarketingDecision:
    """A thank-you with a cross-sell after a positive review; the caller passes only NEW insights."""
    current = state or empty_state(profile.user_id, partition)
    if facts.sentiment != "positive" or facts.score < cfg.thank_you_min_score:
        return MarketingDecision(current, [], [])
    trigger = _trigger(profile, "thank_you", facts.review_id, facts.at, cfg, reviewed=facts.product_id)
    admitted, reason = admit(current, profile, trigger, cfg)
    return MarketingDecision(admitted, [] if reason else [trigger], [("thank_you", reason)] if reason else [])


def admit(state: MarketingState, profile: UserProfile, trigger: MarketingTrigger,
          cfg: MarketingConfig = DEFAULT_MARKETING_CONFIG) -> tuple[MarketingState, str | None]:
    """(state with the message recorded, None) when it may be sent, else (state unchanged, the reason)."""
    if profile.marketing_opt_out:
        return state, "opted_out"
    if any(sent_id == trigger.message_id for sent_id, _ in state.sent):
        return state, "already_sent"
    # Both sides of the trigger: insights of one user arrive in any order, and a message already sent for a later
    # review counts against an earlier one just the same.
    recent = [at for _, at in state.sent if abs(trigger.at - at) < cfg.cap_window_s]
    if len(recent) >= cfg.cap_messages:
        return state, "frequency_cap"
    sent = [*state.sent, [trigger.message_id, trigger.at]][-cfg.remember_sent:]
    return MarketingState(user_id=state.user_id, partition=state.partition, scheduled=dict(state.scheduled),
                          sent=sent), None


def _trigger(profile: UserProfile, kind: str, anchor: str, at: float, cfg: MarketingConfig,
             reviewed: str | None = None) -> MarketingTrigger:
    items: list[dict[str, Any]] = []
    if kind == "abandoned_cart":
        for product_id, line in sorted(profile.cart.items(), key=lambda kv: (-kv[1].added_at, kv[0])):
            items.append(_clean({"product_id": product_id, "qty": line.qty, "price": line.price}))
    return MarketingTrigger(
        message_id=message_id(profile.user_id, kind, anchor), user_id=profile.user_id, kind=kind, at=at,
        language=profile.language or "en", segment=profile.segment,
        interests=_top(profile.category_interest, cfg.max_interests),
        brands=_top(profile.brand_interest, cfg.max_interests), items=items[: cfg.max_items],
        price_band=profile.price_band, reviewed_product_id=reviewed)


def _top(scores: Mapping[str, float], n: int) -> list[str]:
    return [name for name, _ in sorted(scores.items(), key=lambda kv: (-kv[1], kv[0]))[:n]]


def _clean(item: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in item.items() if v is not None}


# A trigger lists a few interests, brands and cart lines (MarketingConfig.max_interests / max_items are smaller).
_MAX_LIST: Final = 20


def parse_marketing_trigger(raw: bytes | str | None, *, bounds: FieldBounds = DEFAULT_BOUNDS,
                            now: float | None = None) -> MarketingTrigger:
    """A trigger read back from `<app>-marketing-triggers`, as strictly as any input (the topic is writable by
    whoever can reach the broker); raise `InvalidEvent` when anything is off."""
    data = decode_json_object(raw)
    kind = data.get("kind")
    if kind not in MARKETING_KINDS:
        raise InvalidEvent("invalid_internal_event", f"trigger kind {kind!r:.60} is not one of "
                           f"{', '.join(MARKETING_KINDS)}")
    language = data.get("language")
    if not isinstance(language, str) or not LANGUAGE_CODE.fullmatch(language):
        raise InvalidEvent("invalid_internal_event", f"trigger language {language!r:.40} is not a language code")
    segment = data.get("segment")
    if segment not in SEGMENTS:
        raise InvalidEvent("invalid_internal_event", f"trigger segment {segment!r:.40} is not one of the segments")
    price_band = data.get("price_band")
    if price_band is not None and price_band not in PRICE_BANDS:
        raise InvalidEvent("invalid_internal_event", f"trigger price band {price_band!r:.40} is unknown")
    at = event_time(data.get("at"), "at", bounds, now)
    if at is None:
        raise InvalidEvent("missing_field", "required field 'at' is missing")
    return MarketingTrigger(
        message_id=required_id(data, "message_id", bounds), user_id=required_id(data, "user_id", bounds), kind=kind,
        at=at, language=language, segment=segment,
        interests=_names(data, "interests", bounds), brands=_names(data, "brands", bounds),
        items=[_cart_line(line, bounds) for line in _list(data, "items")],
        price_band=price_band, reviewed_product_id=optional_id(data, "reviewed_product_id", bounds))


def _list(data: Mapping[str, Any], name: str) -> list[Any]:
    value = data.get(name) or []
    if not isinstance(value, list) or len(value) > _MAX_LIST:
        raise InvalidEvent("invalid_internal_event", f"field {name!r} must be a list of at most {_MAX_LIST} items")
    return value


def _names(data: Mapping[str, Any], name: str, bounds: FieldBounds) -> list[str]:
    names = []
    for item in _list(data, name):
        text = optional_text({name: item}, name, bounds.max_id_chars)
        if text is None:
            raise InvalidEvent("invalid_internal_event", f"field {name!r} holds an empty name")
        names.append(text)
    return names


def _cart_line(line: Any, bounds: FieldBounds) -> dict[str, Any]:
    if not isinstance(line, dict):
        raise InvalidEvent("invalid_internal_event", f"a cart line must be an object, got {type(line).__name__}")
    return _clean({"product_id": required_id(line, "product_id", bounds),
                   "qty": bounded_int(line, "qty", low=0, high=bounds.max_quantity),
                   "price": bounded_number(line, "price", low=0.0, high=bounds.max_price)})
