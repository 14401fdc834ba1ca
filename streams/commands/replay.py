"""`reviewstream replay FILE`: produce a CSV or JSONL file into a topic, line by line, as the shop's systems would.

Lines are sent as they are: a malformed line is not fixed or skipped here, it is the worker's job to dead-letter it.
"""

from __future__ import annotations

import csv
from collections.abc import Iterator
from pathlib import Path

import orjson
from aiokafka import AIOKafkaProducer
from tqdm import tqdm

from streams.kafka.client import KafkaConnection

__all__ = ["read_records", "replay_file"]

_KEY_FIELDS = {"reviews": "review_id", "clickstream": "user_id"}


def read_records(path: Path) -> Iterator[bytes]:
    """Yield each record of a JSONL file (one line each) or a CSV file with a header (each row as a JSON object)."""
    if path.suffix.lower() == ".csv":
        with path.open(newline="", encoding="utf-8") as fh:
            for row in csv.DictReader(fh):
                record: dict[str, object] = {k: v for k, v in row.items() if k is not None and v not in (None, "")}
                if "rating" in record:
                    try:
                        record["rating"] = int(str(record["rating"]))
                    except ValueError:
                        pass  # left as text: the worker dead-letters it with the reason
                yield orjson.dumps(record)
        return
    with path.open("rb") as fh:
        for line in fh:
            line = line.rstrip(b"\r\n")
            if line.strip():
                yield line


def _key_for(value: bytes, field: str) -> bytes | None:
    try:
        data = orjson.loads(value)
    except orjson.JSONDecodeError:
        return None
    if isinstance(data, dict) and isinstance(data.get(field), str | int):
        return str(data[field]).encode("utf-8")
    return None


async def replay_file(path: Path, *, connection: KafkaConnection, topic: str, key_field: str | None = None,
                      progress: bool = True) -> int:
    """Send every record of `path` to `topic`, keyed by `key_field` when present; return how many were sent."""
    key_field = key_field or _KEY_FIELDS.get(topic, "id")
    records = list(read_records(path))
    producer = AIOKafkaProducer(**connection.client_kwargs(), acks="all", linger_ms=5)
    await producer.start()
    try:
        futures = []
        bar = tqdm(total=len(records), desc=f"replay → {topic}", unit="msg", disable=not progress)
        for value in records:
            futures.append(await producer.send(topic, value=value, key=_key_for(value, key_field)))
            bar.update(1)
        for fut in futures:
            await fut
        bar.close()
    finally:
        await producer.stop()
    return len(records)
