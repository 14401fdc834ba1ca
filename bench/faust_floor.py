"""What Faust itself costs per event on this machine: the floor under any Faust agent, for bench.profiles.

    python -m bench.faust_floor   (configured by the environment; bench.profiles runs it)

A minimal Faust app with the worker's settings (RocksDB store, acks=all, the same producer linger, the fixes of
streams/compat/) reads the bench's events and either does nothing with them (`stateless`: Faust's consumer,
conductor and stream alone) or makes exactly one table read and one table write per event (`one_table_write`: a
counter per key as raw bytes, so RocksDB plus one changelog record and no model codec). It writes
`{"mode": ..., "events_per_s": ..., "cpu_s": ...}` (cpu_s: the process's CPU time over the same span) to
FLOOR_RESULT and exits once FLOOR_EVENTS events are handled. The profile worker does more per click than either (a
fold, outputs), so these are what it is measured against.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

import faust
import orjson
from faust.worker import Worker

from streams import compat
from streams.settings import Settings

MODES = ("stateless", "one_table_write")


def build(mode: str, broker: str, topic: str, partitions: int, events: int, result: Path, datadir: str,
          tag: str) -> faust.App:
    compat.apply()
    # The same connection settings as the worker's (REVIEWSTREAM_KAFKA_* apply).
    kafka = Settings(broker=broker).kafka()
    app = faust.App(f"bench-floor-{mode}-{tag}", broker=kafka.faust_broker,
                    broker_credentials=kafka.faust_credentials(), store="rocksdb://", datadir=datadir,
                    web_enabled=False, producer_acks=-1, producer_linger=0.02, topic_partitions=partitions,
                    producer_max_batch_size=512 * 1024, consumer_auto_offset_reset="earliest")
    source = app.topic(topic, key_type=bytes, value_type=bytes, key_serializer="raw", value_serializer="raw",
                       partitions=partitions)
    counts = app.Table("counts", default=None, key_type=bytes, value_type=bytes, partitions=partitions)
    state = {"n": 0, "first": 0.0, "first_cpu": 0.0}

    @app.agent(source, name="floor")
    async def handle(stream: Any) -> None:
        async for event in stream.events():
            if not state["n"]:
                state["first"], state["first_cpu"] = time.perf_counter(), time.process_time()
            if mode == "one_table_write":
                before = counts.get(event.key)
                counts[event.key] = b"1" if before is None else str(int(before) + 1).encode()
            state["n"] += 1
            if state["n"] == events:
                rate = events / (time.perf_counter() - state["first"])
                cpu_s = time.process_time() - state["first_cpu"]
                result.write_bytes(orjson.dumps({"mode": mode, "events_per_s": rate,  # noqa: ASYNC240 - exits next
                                                 "cpu_s": cpu_s}))
                os._exit(0)  # measured; no need for an orderly shutdown of a throwaway app

    return app


def main() -> None:
    env = os.environ
    mode = env["FLOOR_MODE"]
    if mode not in MODES:
        raise SystemExit(f"FLOOR_MODE must be one of {MODES}")
    app = build(mode, env["FLOOR_BROKER"], env["FLOOR_TOPIC"], int(env["FLOOR_PARTITIONS"]), int(env["FLOOR_EVENTS"]),
                Path(env["FLOOR_RESULT"]), env["FLOOR_DATADIR"], env.get("FLOOR_TAG", "x"))
    worker = Worker(app, loglevel="warning", quiet=True)
    worker.spinner = None  # see streams/commands/cli.py: the spinner turns on DEBUG logging
    worker.execute_from_commandline()


if __name__ == "__main__":
    main()
