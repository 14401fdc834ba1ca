"""`reviewstream analyze FILE -o OUT`: the offline job this project started from, done properly.

Reads a CSV (header-less, one review text per row; or with a `text` column) or a JSONL file, analyses the reviews
concurrently through the same processor as the worker (validation, PII redaction, rate-limited analyzer, fallback),
and writes exactly one output row per input row, in input order, as CSV or JSONL (by the output's extension).
At most `concurrency` rows are in flight or waiting to be written, so memory stays flat on any input size.
"""

from __future__ import annotations

import asyncio
import csv
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import orjson
from tqdm import tqdm

from streams.review_processor import Processed, ReviewProcessor, SourceMessage

__all__ = ["BatchSummary", "analyze_file", "read_input_rows"]

OUTPUT_COLUMNS = (
    "row", "review_id", "sentiment", "sentiment_score", "intent", "urgency", "issues", "competitors", "aspects",
    "summary", "suggested_reply", "language", "model", "degraded", "redacted", "error",
)
_TEXT_HEADERS = ("text", "review", "review_text", "content", "comment", "body")


@dataclass(slots=True)
class BatchSummary:
    rows: int = 0
    insights: int = 0
    errors: int = 0
    degraded: int = 0


def read_input_rows(path: Path) -> Iterator[dict[str, Any]]:
    """Yield one dict per input row with at least `text` (possibly empty: it becomes an error row, not a gap)."""
    if path.suffix.lower() in (".jsonl", ".ndjson"):
        with path.open("rb") as fh:
            for line in fh:
                if not line.strip():
                    continue
                try:
                    value = orjson.loads(line)
                except orjson.JSONDecodeError:
                    value = {"_raw": line.rstrip(b"\r\n")}
                yield value if isinstance(value, dict) else {"_raw": line.rstrip(b"\r\n")}
        return
    with path.open(newline="", encoding="utf-8-sig") as fh:
        rows = csv.reader(fh)
        first = next(rows, None)
        if first is None:
            return
        header = [h.strip().lower() for h in first]
        text_col = next((header.index(h) for h in _TEXT_HEADERS if h in header), None)
        if text_col is None:
            # Header-less: every row, the first included, is a review text in its first column.
            yield {"text": first[0] if first else ""}
            for row in rows:
                yield {"text": row[0] if row else ""}
            return
        for row in rows:
            record: dict[str, Any] = {name: row[i] for i, name in enumerate(header) if i < len(row) and name}
            record["text"] = row[text_col] if text_col < len(row) else ""
            yield record


def _source_for(index: int, record: dict[str, Any]) -> SourceMessage:
    if "_raw" in record:
        return SourceMessage(value=record["_raw"], key=None, topic="file", offset=index)
    # Ids given in the file go to the parser as they are, so a malformed one is reported, not stringified.
    review = {
        "review_id": record.get("review_id") or f"row-{index + 1}",
        "user_id": record.get("user_id") or "batch",
        "product_id": record.get("product_id") or "batch",
        "text": record.get("text"),
    }
    if record.get("rating") not in (None, ""):
        rating = record["rating"]
        try:
            review["rating"] = int(rating)
        except (TypeError, ValueError):
            review["rating"] = rating
    if record.get("lang"):
        review["lang"] = record["lang"]
    return SourceMessage(value=orjson.dumps(review), key=None, topic="file", offset=index)


def _output_row(index: int, result: Processed) -> dict[str, Any]:
    if result.insight is None:
        dl = result.dead_letter
        assert dl is not None
        return {"row": index + 1, "error": f"{dl.reason}: {dl.detail}"}
    data = result.insight.to_dict()
    row = {k: data.get(k) for k in OUTPUT_COLUMNS if k in data}
    row.update(row=index + 1, error=None)
    return row


class _Writer:
    def __init__(self, out: IO[str], fmt: str) -> None:
        self.out = out
        self.fmt = fmt
        if fmt == "csv":
            self.csv = csv.DictWriter(out, fieldnames=OUTPUT_COLUMNS, extrasaction="ignore")
            self.csv.writeheader()

    def write(self, row: dict[str, Any]) -> None:
        if self.fmt == "jsonl":
            self.out.write(orjson.dumps(row).decode() + "\n")
            return
        flat = {
            k: (orjson.dumps(v).decode() if isinstance(v, list | dict) else ("" if v is None else v))
            for k, v in row.items()
        }
        self.csv.writerow(flat)


async def analyze_file(
    path: Path, out_path: Path | None, processor: ReviewProcessor, *, concurrency: int = 32, progress: bool = True
) -> BatchSummary:
    """Analyse every row of `path` and write one result per row, in order, to `out_path` ('-' or None: stdout)."""
    fmt = "csv" if out_path is not None and out_path.suffix.lower() == ".csv" else "jsonl"
    summary = BatchSummary()
    pending: dict[int, asyncio.Task[Processed]] = {}
    next_to_write = 0
    out: IO[str] = sys.stdout if out_path is None or str(out_path) == "-" else out_path.open("w", newline="",
                                                                                          encoding="utf-8")
    writer = _Writer(out, fmt)
    bar = tqdm(desc="analyze", unit="review", disable=not progress, file=sys.stderr)

    async def flush_ready(wait_for_head: bool) -> None:
        nonlocal next_to_write
        while next_to_write in pending:
            task = pending[next_to_write]
            if not task.done():
                if not wait_for_head:
                    return
                await task
            result = task.result()
            del pending[next_to_write]
            row = _output_row(next_to_write, result)
            writer.write(row)
            summary.rows += 1
            if row["error"]:
                summary.errors += 1
            else:
                summary.insights += 1
                summary.degraded += bool(row.get("degraded"))
            next_to_write += 1
            bar.update(1)

    try:
        for index, record in enumerate(read_input_rows(path)):
            # A row leaves the window only when written, so a slow head row cannot make finished rows pile up.
            while len(pending) >= concurrency:
                await flush_ready(wait_for_head=True)
            pending[index] = asyncio.create_task(processor.process(_source_for(index, record)))
            await flush_ready(wait_for_head=False)
        await flush_ready(wait_for_head=True)
    finally:
        bar.close()
        for task in pending.values():
            task.cancel()
        if out is not sys.stdout:
            out.close()
    return summary
