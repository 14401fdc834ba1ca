"""`reviewstream analyze` as a user runs it: the real console script, the offline analyzer, real files."""

from __future__ import annotations

import csv
import os
import subprocess
import sys
from pathlib import Path

import orjson

ROOT = Path(__file__).resolve().parents[2]


def run_cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("REVIEWSTREAM_", "OPENAI_"))}
    script = Path(sys.executable).parent / "reviewstream"  # the console script pip installed
    return subprocess.run([str(script), *args], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=300)


def test_headerless_one_column_csv_gives_one_row_per_input_row(tmp_path: Path) -> None:
    texts = [
        "The battery died after two days, I want a refund.",
        "质量很好，物流也快，下次还会再来买",
        "",
        "Does it work with 220V outlets?",
        "The charger started to smoke and burned my hand!",
        "性价比不错，就是包装有点破损",
    ]
    source = tmp_path / "reviews.csv"
    with source.open("w", newline="", encoding="utf-8") as fh:
        csv.writer(fh).writerows([[t] for t in texts])
    out = tmp_path / "insights.csv"
    done = run_cli("analyze", str(source), "-o", str(out), "--quiet", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    with out.open(encoding="utf-8", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert [r["row"] for r in rows] == [str(i) for i in range(1, len(texts) + 1)]
    assert rows[2]["error"].startswith("empty_text")
    assert rows[0]["sentiment"] == "negative" and rows[0]["language"] == "en"
    assert rows[1]["sentiment"] == "positive" and rows[1]["language"] == "zh"
    assert "safety" in orjson.loads(rows[4]["issues"])
    assert "6 rows" in done.stderr


def test_jsonl_to_stdout(tmp_path: Path) -> None:
    source = tmp_path / "reviews.jsonl"
    source.write_text('{"review_id": "a", "text": "Love it"}\nnot json\n', encoding="utf-8")
    done = run_cli("analyze", str(source), "--quiet", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    rows = [orjson.loads(line) for line in done.stdout.splitlines()]
    assert rows[0]["review_id"] == "a" and rows[0]["error"] is None
    assert rows[1]["error"].startswith("invalid_json")
