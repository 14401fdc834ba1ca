"""Write the demo clickstream: `python -m bench.make_clickstream [--out data/sample_clickstream.jsonl]`.

Sessions for the 30 users who wrote the sample reviews, around the days of their reviews (2024-06-02 … 06-07):
browsing and searching, carts that are bought, carts that are abandoned, remove-from-cart, repeat buyers and
window shoppers, on the products the sample reviews are about; then 2 malformed events so the demo shows click
dead letters. Deterministic: the same seed writes the same bytes.
"""

from __future__ import annotations

import argparse
import random
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
