"""Clickstreams to run the worker on: the demo's, and the benches' realistic mix.

`python -m bench.make_clickstream [--out data/sample_clickstream.jsonl]` writes the demo clickstream: sessions for
the 30 users who wrote the sample reviews, around the days of their reviews (2024-06-02 … 06-07): browsing and
searching, carts that are bought, carts that are abandoned, remove-from-cart, repeat buyers and window shoppers, on
the products the sample reviews are about; then 2 malformed events so the demo shows click dead letters.

`realistic_mix(n)` is a day of a mid-size shop for bench.profiles (`MixShape` says what "realistic" means here).

Both are deterministic: the same seed gives the same events.
"""

from __future__ import annotations

import argparse
import bisect
import itertools
import math
import random
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson

from streams.settings import PROJECT_ROOT

# The sample reviews' products, with a category, a brand and a plausible unit price.
PRODUCTS: dict[str, tuple[str, str, float]] = {
    "book-03": ("books", "Penguin", 18.5),
    "camera-05": ("cameras", "Canon", 549.0),
    "camera-06": ("cameras", "Nikon", 479.0),
    "dvd-player-04": ("electronics", "Apex", 59.9),
    "hotel-01": ("travel", "Hilton", 129.0),
    "kettle-09": ("kitchen", "Xiaomi", 29.9),
    "laptop-02": ("computers", "Lenovo", 899.0),
    "mp3-player-08": ("audio", "Creative", 79.0),
    "phone-07": ("phones", "Nokia", 199.0),
}
START = datetime(2024, 6, 2, 8, 0, tzinfo=UTC).timestamp()
USERS = [f"u{i:03d}" for i in range(1, 31)]
# What a session ends with: most browse, some abandon a cart, some buy.
ENDINGS = (("browse", 45), ("abandon", 25), ("buy", 30))


def _session(rng: random.Random, user: str, start: float, n: int) -> list[dict[str, Any]]:
    favourite = rng.choice(list(PRODUCTS))
    events: list[dict[str, Any]] = []
    ts = start

    def add(kind: str, product: str | None = None, **extra: Any) -> None:
        nonlocal ts
        ts += rng.uniform(20, 240)
        event: dict[str, Any] = {"event_id": f"{user}-{int(ts)}-{len(events)}", "user_id": user, "type": kind,
                                 "ts": round(ts, 3), "session_id": f"{user}-{int(start)}"}
        if product is not None:
            category, brand, price = PRODUCTS[product]
            event.update(product_id=product, category=category, brand=brand, price=price)
        events.append({**event, **extra})

    add("search", query=PRODUCTS[favourite][0])
    for _ in range(rng.randint(1, 5)):
        add("view", rng.choice([favourite, *rng.sample(list(PRODUCTS), 2)]))
    ending = rng.choices([e for e, _ in ENDINGS], weights=[w for _, w in ENDINGS])[0]
    if ending != "browse":
        add("add_to_cart", favourite, quantity=rng.randint(1, 2))
        if rng.random() < 0.3:
            extra = rng.choice(list(PRODUCTS))
            add("add_to_cart", extra, quantity=1)
            add("remove_from_cart", extra)
    if ending == "buy":
        add("purchase", favourite, quantity=1, order_id=f"o-{user}-{n}")
    return events


def sample_clickstream(seed: int = 11) -> list[dict[str, Any]]:
    rng = random.Random(seed)
    events: list[dict[str, Any]] = []
    for user in USERS:
        for n in range(rng.randint(1, 4)):
            start = START + rng.uniform(0, 5.5 * 86400)
            events.extend(_session(rng, user, start, n))
    events.sort(key=lambda e: e["ts"])
    return events


def malformed_lines() -> list[bytes]:
    return [
        b'{"event_id": "bad-1", "user_id": "u001", "type": "teleport", "ts": 1717400000}',
        b'{"event_id": "bad-2", "user_id": "u002", "type": "purchase", "ts": 1717400000, "product_id": "kettle-09"}',
    ]


@dataclass(frozen=True)
class MixShape:
    """What the realistic mix looks like. Users come back according to a Zipf law (a few regulars, a long tail of
    one-time visitors; no one visits more than `max_visits` times in the span), and so do products. A visit is a
    session of 5–30 clicks with seconds to minutes between them, and the same user's visits are at least the
    session gap apart; clicks run view ≫ search > add to cart > checkout > purchase; a few percent of clicks reach
    Kafka later than their neighbours (mobile apps sending in bursts). Visits start uniformly over `span_s`, which
    sets how many are open at once: 1,000,000 clicks in a day are ~57,000 visits of ~29,000 users, ~500 of them
    open at any moment."""

    span_s: float = 86_400.0
    users_per_event: float = 0.2
    user_zipf: float = 1.1
    max_visits: int = 12
    products: int = 5_000
    product_zipf: float = 1.0
    min_clicks: int = 5
    max_clicks: int = 30
    # Seconds between two clicks of a visit: log-uniform between these.
    min_gap_s: float = 2.0
    max_gap_s: float = 300.0
    # Time between two visits of one user, at least (the worker's default session gap is 30 minutes).
    between_visits_s: float = 31 * 60.0
    late_share: float = 0.03
    # How far a late click falls behind: up to this many clicks of the whole stream.
    late_by_events: int = 40


MIX_CATEGORIES = ["kitchen", "audio", "books", "toys", "phones", "garden", "sports", "beauty", "fashion", "shoes",
                  "computers", "cameras", "baby", "pets", "tools", "grocery", "health", "office", "games", "travel"]


def realistic_mix(n: int, seed: int = 7, shape: MixShape = MixShape(), now: float | None = None
                  ) -> list[dict[str, Any]]:
    """`n` clicks of a realistic day (see `MixShape`), in the order a tracker would deliver them, event times within
    the past `span_s` (+ the longest visit)."""
    rng = random.Random(seed)
    users = max(1, int(n * shape.users_per_event))
    user_weights = list(itertools.accumulate(1.0 / (rank + 1) ** shape.user_zipf for rank in range(users)))
    product_weights = list(itertools.accumulate(1.0 / (rank + 1) ** shape.product_zipf
                                                for rank in range(shape.products)))
    catalogue = [(f"p{i:05d}", MIX_CATEGORIES[rng.randrange(len(MIX_CATEGORIES))], f"brand{rng.randrange(300):03d}",
                  round(math.exp(rng.gauss(3.4, 1.0)), 2)) for i in range(shape.products)]
    start = (time.time() if now is None else now) - shape.span_s - 6 * 3600
    visits: dict[int, list[float]] = {}
    planned = 0
    while planned < n:
        user = bisect.bisect_left(user_weights, rng.random() * user_weights[-1])
        if len(visits.setdefault(user, [])) >= shape.max_visits:
            continue
        visits[user].append(start + rng.random() * shape.span_s)
        planned += (shape.min_clicks + shape.max_clicks) // 2
    events: list[dict[str, Any]] = []
    for user, starts in visits.items():
        free_from = 0.0
        for visit_start in sorted(starts):
            visit_start = max(visit_start, free_from)
            clicks = _visit(rng, f"m{user:07d}", visit_start, len(events), catalogue, product_weights, shape)
            events.extend(clicks)
            free_from = clicks[-1]["ts"] + shape.between_visits_s
    events.sort(key=lambda e: e["ts"])
    del events[n:]
    for i in rng.sample(range(len(events)), int(len(events) * shape.late_share)):
        j = min(len(events) - 1, i + rng.randint(1, shape.late_by_events))
        events.insert(j, events.pop(i))
    return events


def _visit(rng: random.Random, user: str, at: float, first_id: int, catalogue: list[tuple[str, str, str, float]],
           weights: list[float], shape: MixShape) -> list[dict[str, Any]]:
    length = rng.randint(shape.min_clicks, shape.max_clicks)
    clicks: list[dict[str, Any]] = []
    cart: dict[str, float] = {}
    ts = at
    session = f"s-{user}-{int(at)}"

    def add(kind: str, **fields: Any) -> None:
        clicks.append({"event_id": f"mx{first_id + len(clicks)}", "user_id": user, "type": kind, "ts": round(ts, 3),
                       "session_id": session, **fields})

    def product() -> dict[str, Any]:
        pid, category, brand, price = catalogue[bisect.bisect_left(weights, rng.random() * weights[-1])]
        return {"product_id": pid, "category": category, "brand": brand, "price": price}

    # The end of a visit: most only browse; some carts are bought (checkout, then the order).
    buys = rng.random() < 0.25
    while len(clicks) < length:
        if clicks:
            ts += math.exp(rng.uniform(math.log(shape.min_gap_s), math.log(shape.max_gap_s)))
        roll = rng.random()
        if roll < 0.14:
            add("search", query=rng.choice(MIX_CATEGORIES))
        elif roll < 0.22 and len(clicks) > 1:
            item = product()
            cart[item["product_id"]] = item["price"]
            add("add_to_cart", quantity=1, **item)
        elif roll < 0.23 and cart:
            pid = rng.choice(sorted(cart))
            add("remove_from_cart", product_id=pid)
            del cart[pid]
        else:
            add("view", **product())
        if buys and cart and len(clicks) >= length - 2:
            ts += math.exp(rng.uniform(math.log(shape.min_gap_s), math.log(shape.max_gap_s)))
            add("checkout")
            if rng.random() < 0.85:  # some checkouts are abandoned at the payment step
                ts += rng.uniform(5, 60)
                add("purchase", order_id=f"o-{session}", price=round(sum(cart.values()), 2))
            break
    return clicks


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.make_clickstream", description=__doc__)
    parser.add_argument("--out", type=Path, default=PROJECT_ROOT / "data" / "sample_clickstream.jsonl")
    args = parser.parse_args(argv)
    lines = [orjson.dumps(e) for e in sample_clickstream()] + malformed_lines()
    args.out.write_bytes(b"\n".join(lines) + b"\n")
    print(f"wrote {len(lines)} events to {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
