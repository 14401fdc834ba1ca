"""`reviewstream analyze`: one output row per input row, in order, concurrently."""

from __future__ import annotations

import csv
from pathlib import Path

import orjson

from streams.commands.analyze import analyze_file, read_input_rows
from streams.review_processor import ReviewProcessor
from tests.unit.fakes import FakeAnalyzer


def test_headerless_one_column_csv_reads_every_row_including_the_first(tmp_path: Path) -> None:
    path = tmp_path / "reviews.csv"
    path.write_text("Great phone\n\"Slow delivery, but, fine\"\n\n物流很快\n", encoding="utf-8")
    assert [r["text"] for r in read_input_rows(path)] == ["Great phone", "Slow delivery, but, fine", "", "物流很快"]


def test_csv_with_a_text_column(tmp_path: Path) -> None:
    path = tmp_path / "reviews.csv"
    path.write_text("id,Text,rating\n1,Nice,5\n2,Bad,1\n", encoding="utf-8")
    rows = list(read_input_rows(path))
    assert [(r["text"], r["rating"]) for r in rows] == [("Nice", "5"), ("Bad", "1")]


async def test_every_input_row_gives_one_output_row_in_order(tmp_path: Path) -> None:
    texts = [f"review number {i} is quite good" for i in range(200)]
    texts[17] = ""  # an empty row is reported, not dropped
    path = tmp_path / "reviews.csv"
    with path.open("w", newline="") as fh:
        csv.writer(fh).writerows([[t] for t in texts])
    out = tmp_path / "out.jsonl"
    analyzer = FakeAnalyzer(jitter_s=0.005)
    summary = await analyze_file(path, out, ReviewProcessor(analyzer), concurrency=16, progress=False)
    rows = [orjson.loads(line) for line in out.read_text().splitlines()]
    assert [r["row"] for r in rows] == list(range(1, 201))
    assert rows[17]["error"].startswith("empty_text")
    assert all(r["error"] is None for i, r in enumerate(rows) if i != 17)
    assert (summary.rows, summary.insights, summary.errors) == (200, 199, 1)
    assert 1 < analyzer.max_in_flight <= 16, "concurrent, and bounded by the window"


async def test_csv_output(tmp_path: Path) -> None:
    path = tmp_path / "in.csv"
    path.write_text("Works well\nStopped working\n", encoding="utf-8")
    out = tmp_path / "out.csv"
    await analyze_file(path, out, ReviewProcessor(FakeAnalyzer()), progress=False)
    with out.open(newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert [r["row"] for r in rows] == ["1", "2"]
    assert rows[0]["sentiment"] == "positive"
