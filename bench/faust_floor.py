"""What Faust itself costs per event on this machine: the floors under any Faust agent, for bench.profiles.

    python -m bench.faust_floor   (configured by the environment; bench.profiles runs it)

A minimal Faust app with the worker's settings (RocksDB store, acks=all, the same producer linger, the fixes of
streams/compat/) reads the bench's events and
- `stateless`: does nothing with them (Faust's consumer, conductor and stream alone);
- `one_table_write`: makes exactly one table read and one table write per event (a counter per key as raw bytes:
  RocksDB plus one changelog record, no model codec);
- `distinct_users_io`: does the I/O the profile worker cannot avoid when every click is a new user's: the user's row
  read and written when the click creates it (a stored row's size, 250 bytes) and the new profile published (800
  bytes, its JSON); then, as the worker does when that session closes a session gap later (here `CLOSE_AFTER` events
  later), the row read and written again and the closed session published (250 bytes). Two reads, two writes, two
  output records per event, nothing computed.
It writes `{"mode": ..., "events_per_s": ..., "cpu_s": ...}` (cpu_s: the process's CPU time over the same span) to
FLOOR_RESULT and exits once FLOOR_EVENTS events are handled.
"""

from __future__ import annotations

import collections
import os
import time
from pathlib import Path
from typing import Any

import faust
import orjson
from faust.worker import Worker

from streams import compat
from streams.compat.current_event import current_event
from streams.settings import Settings

MODES = ("stateless", "one_table_write", "distinct_users_io")
# Events between a user's click and the close of that user's session in bench.profiles' distinct-users workload:
# clicks are half a second apart, the session gap is 30 minutes.
CLOSE_AFTER = 3600
_ROW, _PROFILE, _SESSION = b"r" * 250, b"p" * 800, b"s" * 250


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
    outputs = app.topic(f"{topic}-floor-out-{tag}", key_type=bytes, value_type=bytes, key_serializer="raw",
                        value_serializer="raw", partitions=partitions)
    state = {"n": 0, "first": 0.0, "first_cpu": 0.0}
    # (key, partition) of the clicks whose sessions have not closed yet, oldest first.
    open_sessions: collections.deque[tuple[bytes, Any]] = collections.deque()

    @app.agent(source, name="floor")
    async def handle(stream: Any) -> None:
        if mode == "distinct_users_io":
            # An output topic is created by the app that declares it (the worker's admin set-up does the same).
            await outputs.maybe_declare()
        async for event in stream.events():
            if not state["n"]:
                state["first"], state["first_cpu"] = time.perf_counter(), time.process_time()
            if mode == "one_table_write":
                before = counts.get(event.key)
                counts[event.key] = b"1" if before is None else str(int(before) + 1).encode()
            elif mode == "distinct_users_io":
                await _distinct_users_io(event, counts, outputs, open_sessions)
            state["n"] += 1
            if state["n"] == events:
                rate = events / (time.perf_counter() - state["first"])
                cpu_s = time.process_time() - state["first_cpu"]
                result.write_bytes(orjson.dumps({"mode": mode, "events_per_s": rate,  # noqa: ASYNC240 - exits next
                                                 "cpu_s": cpu_s}))
                os._exit(0)  # measured; no need for an orderly shutdown of a throwaway app

    return app


async def _distinct_users_io(event: Any, rows: Any, outputs: Any,
                             open_sessions: collections.deque[tuple[bytes, Any]]) -> None:
    rows.get(event.key)
    rows[event.key] = _ROW
    await outputs.send(key=event.key, value=_PROFILE, force=True)
    open_sessions.append((event.key, event))
    if len(open_sessions) > CLOSE_AFTER:
        key, opened = open_sessions.popleft()
        with current_event(opened):  # the row lives in that event's partition
            rows.get(key)
            rows[key] = _ROW
        await outputs.send(key=key, value=_SESSION, force=True)


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
