"""The `reviewstream` command.

    reviewstream worker                     run the stream processor (Faust worker)
    reviewstream replay FILE [--topic T]    produce a CSV/JSONL file into a topic
    reviewstream analyze FILE -o OUT        offline batch analysis, no Kafka
    reviewstream demo [--once]              local Kafka + worker + sample data, results live
    reviewstream simulate-llm --port P      an OpenAI-compatible simulator for tests and benchmarks
    reviewstream profile USER_ID            a user's profile, from a running worker
    reviewstream product PRODUCT_ID         a product's sentiment windows, from a running worker
    reviewstream tail TOPIC                 print a topic's messages
    reviewstream forget USER_ID [--wait S]  erase a user's personal data (and print the audit record)
    reviewstream dead-letters show|redrive|keygen    look at dead letters, send them back, make a sealing key
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import logging
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import orjson
from pydantic import ValidationError

if TYPE_CHECKING:
    from streams.settings import Settings

__all__ = ["main"]


def _settings() -> Settings:
    from streams.settings import Settings

    return Settings()


def _connect_check(settings: Settings) -> None:
    """Fail now, with the reason, when the Kafka settings cannot work (incomplete, wrong password, untrusted CA)."""
    from streams.kafka.client import KafkaSecurityError
    from streams.kafka.preflight import KafkaUnreachable, preflight

    try:
        asyncio.run(preflight(settings.kafka()))
    except (KafkaSecurityError, KafkaUnreachable) as exc:
        raise SystemExit(f"reviewstream: {exc}") from None


def _cmd_worker(args: argparse.Namespace) -> int:
    from streams.settings import Settings, use_settings

    overrides = {"web_port": args.web_port, "datadir": args.datadir}
    # Before anything imports streams.app, which builds the app from these settings.
    _connect_check(use_settings(Settings(**{k: v for k, v in overrides.items() if v})))
    from faust.worker import Worker

    from streams import compat

    # Third-party fixes, explicitly, before the app exists (streams/compat/: each with its upstream issue).
    compat.apply()

    from streams.app import app, settings

    # Faust's own convention: the agents package is scanned and each module registers its agents, tables and pages
    # (streams/ never imports agents/).
    app.discover()
    from streams.llm.local import load_local_model
    from streams.topics import prepare_worker_topics

    # Train or load the offline model before joining the group, not inside the first rebalance.
    load_local_model(settings.local_model_dir)
    # Faust creates only the last level of its data folder (datadir/app_id).
    settings.datadir.mkdir(parents=True, exist_ok=True)
    asyncio.run(prepare_worker_topics(settings))
    asyncio.set_event_loop(asyncio.new_event_loop())
    worker = Worker(app, loglevel=args.loglevel, quiet=True)
    # Faust's terminal spinner (active at warning level and above) sets the root logger to DEBUG so that it can spin
    # on every record: every debug call in aiokafka and Faust then builds a LogRecord — a tenth of a busy worker's
    # time in profiles. A service has no terminal to spin on.
    worker.spinner = None
    # Everything built so far (modules, the offline model, Faust's app) lives as long as the process; frozen, it is no
    # longer walked by every full collection, which then takes a third of the time (bench.profiles' worker: ~4.5 % of
    # its run in full collections before, ~1.4 % after).
    gc.collect()
    gc.freeze()
    worker.execute_from_commandline()
    return 0


def _cmd_replay(args: argparse.Namespace) -> int:
    from streams.commands.replay import replay_file
    from streams.topics import ensure_topics

    settings = _settings()
    _connect_check(settings)
    topic = args.topic or settings.reviews_topic
    asyncio.run(ensure_topics(settings))
    sent = asyncio.run(replay_file(Path(args.file), connection=settings.kafka(), topic=topic,
                                   progress=not args.quiet))
    print(f"sent {sent} records to {topic}")
    return 0


def _cmd_analyze(args: argparse.Namespace) -> int:
    from streams.commands.analyze import analyze_file
    from streams.llm.factory import build_analyzers
    from streams.review_processor import ReviewProcessor
    from streams.settings import Settings

    settings = Settings(**({"llm_provider": args.provider} if args.provider else {}))

    async def run() -> int:
        analyzer, fallback = build_analyzers(settings)
        processor = ReviewProcessor(analyzer, fallback=fallback, bounds=settings.field_bounds(),
                                    allow_concessions=settings.reply_allow_concessions,
                                    competitors=settings.competitors)
        try:
            out = None if args.output in (None, "-") else Path(args.output)
            summary = await analyze_file(Path(args.file), out, processor,
                                         concurrency=args.concurrency or settings.llm_max_inflight,
                                         progress=not args.quiet)
        finally:
            await analyzer.aclose()
            if fallback is not None:
                await fallback.aclose()
        print(f"{summary.rows} rows: {summary.insights} analysed ({summary.degraded} degraded), "
              f"{summary.errors} errors → {args.output or 'stdout'}", file=sys.stderr)
        return 0

    return asyncio.run(run())


def _cmd_demo(args: argparse.Namespace) -> int:
    import signal

    from streams.commands.demo import SAMPLE, run_demo

    # A SIGTERM (make interrupted, `timeout`) must still run the demo's clean-up, which stops its worker: an orphaned
    # worker in the same consumer group would take partitions from the next demo's worker.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))

    result = asyncio.run(run_demo(_settings(), once=args.once, sample=Path(args.sample) if args.sample else SAMPLE,
                                  timeout_s=args.timeout))
    return 0 if (result.complete or not args.once) else 1


def _cmd_simulate(args: argparse.Namespace, rest: list[str]) -> int:
    from streams.llm.simulator import main as simulator_main

    return simulator_main(rest)


def _cmd_state(args: argparse.Namespace) -> int:
    """`profile USER_ID` / `product PRODUCT_ID`: ask a running worker (any worker: it routes to the owner)."""
    from urllib.parse import quote

    import aiohttp

    kind, key = ("profiles", args.user_id) if args.command == "profile" else ("products", args.product_id)
    settings = _settings()
    base = args.url or f"http://127.0.0.1:{settings.web_port}"
    # The views show personal data: they answer only with the worker's API token (streams/security/api_auth.py).
    token = settings.api_token.get_secret_value() if settings.api_token else ""
    headers = {"Authorization": f"Bearer {token}"} if token else {}

    async def fetch() -> tuple[int, bytes]:
        async with aiohttp.ClientSession(headers=headers) as session, \
                session.get(f"{base}/{kind}/{quote(key, safe='')}/") as response:
            return response.status, await response.read()

    try:
        status, body = asyncio.run(fetch())
    except aiohttp.ClientError as exc:
        print(f"cannot reach a worker at {base}: {exc}; is `reviewstream worker` running?", file=sys.stderr)
        return 2
    if status in (401, 403):
        print(f"the worker refused ({status}): set REVIEWSTREAM_API_TOKEN to the worker's API token"
              + ("" if token else " (none is set here)"), file=sys.stderr)
        return 1
    sys.stdout.write(body.decode("utf-8", errors="replace") + "\n")
    return 0 if status == 200 else 1


def _cmd_tail(args: argparse.Namespace) -> int:
    from aiokafka import AIOKafkaConsumer

    settings = _settings()

    async def run() -> None:
        consumer = AIOKafkaConsumer(args.topic, **settings.kafka().client_kwargs(),
                                    auto_offset_reset="earliest" if args.from_beginning else "latest",
                                    enable_auto_commit=False)
        await consumer.start()
        try:
            async for record in consumer:
                print((record.value or b"").decode("utf-8", errors="replace"), flush=True)
        finally:
            await consumer.stop()

    try:
        asyncio.run(run())
    except KeyboardInterrupt:
        pass
    return 0


def _cmd_forget(args: argparse.Namespace) -> int:
    from streams.commands.forget import request_erasure

    settings = _settings()
    _connect_check(settings)
    request_id, audit = asyncio.run(request_erasure(settings, args.user_id, request_id=args.request_id,
                                                    wait_s=args.wait))
    print(f"erasure requested: {request_id}", file=sys.stderr)
    if args.wait <= 0:
        return 0
    if audit is None:
        print(f"no audit record within {args.wait:.0f} s; is a worker running? The request stays queued.",
              file=sys.stderr)
        return 1
    sys.stdout.write(orjson.dumps(audit).decode() + "\n")
    return 0


def _cmd_dead_letters(args: argparse.Namespace) -> int:
    from streams.commands.dead_letters import LetterFilter, open_original, read_letters, redrive
    from streams.security.sealing import SealingError, new_key_spec

    if args.action == "keygen":
        print(new_key_spec(args.key_id))
        return 0
    settings = _settings()
    _connect_check(settings)
    match = LetterFilter(reason=args.reason, source_topic=args.source_topic, positions=frozenset(args.letter or ()))
    letters = asyncio.run(read_letters(settings.kafka(), settings.dead_letters_topic, match))
    keys = settings.dead_letter_keyring()
    if args.action == "show":
        for letter in letters[-args.limit:]:
            if args.open:
                try:
                    if keys is None:
                        raise SealingError("no REVIEWSTREAM_DEAD_LETTER_KEYS configured to open it")
                    _, value = open_original(letter, keys)
                    letter = {**letter, "original": value.decode("utf-8", errors="replace"), "sealed": "(opened)"}
                except SealingError as exc:
                    letter = {**letter, "original": f"(cannot open: {exc})"}
            sys.stdout.write(orjson.dumps(letter).decode() + "\n")
        print(f"{len(letters)} letters match", file=sys.stderr)
        return 0
    if args.value_file and len(letters) != 1:
        print(f"--value-file replaces one letter's original; {len(letters)} match (name one with --letter)",
              file=sys.stderr)
        return 2
    replacement = Path(args.value_file).read_bytes() if args.value_file else None
    summary = asyncio.run(redrive(settings.kafka(), letters, keys, replacement=replacement, dry_run=args.dry_run))
    for position in summary.sent:
        print(f"{'would send' if args.dry_run else 'sent'} {position}", file=sys.stderr)
    for position, why in summary.skipped.items():
        print(f"skipped {position}: {why}", file=sys.stderr)
    return 0 if not summary.skipped else 1


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="reviewstream", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    w = sub.add_parser("worker", help="run the stream processor")
    w.add_argument("--loglevel", default=os.environ.get("REVIEWSTREAM_LOGLEVEL", "info"))
    w.add_argument("--web-port", type=int, help="HTTP port for /metrics and /health (default REVIEWSTREAM_WEB_PORT)")
    w.add_argument("--datadir", help="table state folder, one per worker")
    r = sub.add_parser("replay", help="produce a CSV or JSONL file into a topic")
    r.add_argument("file")
    r.add_argument("--topic", help="target topic (default: the reviews topic)")
    r.add_argument("--quiet", action="store_true")
    a = sub.add_parser("analyze", help="analyse a reviews file offline (no Kafka)")
    a.add_argument("file", help="CSV (header-less one column of texts, or with a 'text' column) or JSONL")
    a.add_argument("-o", "--output", help="output .csv or .jsonl (default: JSONL on stdout)")
    a.add_argument("--provider", choices=["local", "openai"], help="override REVIEWSTREAM_LLM_PROVIDER")
    a.add_argument("--concurrency", type=int, help="reviews in flight (default REVIEWSTREAM_LLM_MAX_INFLIGHT)")
    a.add_argument("--quiet", action="store_true")
    d = sub.add_parser("demo", help="local Kafka + worker + sample data, results live")
    d.add_argument("--once", action="store_true", help="exit after the sample is processed, with a summary")
    d.add_argument("--sample", help="JSONL or CSV of reviews to replay (default: data/sample_reviews.jsonl)")
    d.add_argument("--timeout", type=float, default=300.0, help="give up after this many seconds (with --once)")
    sub.add_parser("simulate-llm", help="serve the OpenAI-compatible simulator (see --help of the subcommand)",
                   add_help=False)
    p = sub.add_parser("profile", help="print a user's profile from a running worker")
    p.add_argument("user_id")
    p.add_argument("--url", help="worker web address (default http://127.0.0.1:REVIEWSTREAM_WEB_PORT)")
    q = sub.add_parser("product", help="print a product's sentiment windows from a running worker")
    q.add_argument("product_id")
    q.add_argument("--url", help="worker web address (default http://127.0.0.1:REVIEWSTREAM_WEB_PORT)")
    t = sub.add_parser("tail", help="print a topic's messages")
    t.add_argument("topic")
    t.add_argument("--from-beginning", action="store_true")
    f = sub.add_parser("forget", help="erase a user's personal data from every table and compacted topic")
    f.add_argument("user_id")
    f.add_argument("--request-id", help="your id for the request (default: a new one); the audit record carries it")
    f.add_argument("--wait", type=float, default=60.0, help="seconds to wait for the audit record (0: do not wait)")
    dl = sub.add_parser("dead-letters", help="look at dead letters, send them back to their topic, make a key")
    dl.add_argument("action", choices=["show", "redrive", "keygen"])
    dl.add_argument("key_id", nargs="?", default="k1", help="keygen: the id of the new key")
    dl.add_argument("--reason", help="only letters with this reason")
    dl.add_argument("--source-topic", help="only letters from this topic")
    dl.add_argument("--letter", action="append", metavar="TOPIC:PARTITION:OFFSET", help="only this letter (repeat)")
    dl.add_argument("--limit", type=int, default=100, help="show: the newest N letters")
    dl.add_argument("--open", action="store_true", help="show: print the opened original (personal data!)")
    dl.add_argument("--value-file", help="redrive: send this file's bytes instead of the original (the fix)")
    dl.add_argument("--dry-run", action="store_true", help="redrive: say what would be sent, send nothing")
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    if argv[:1] == ["simulate-llm"]:
        return _cmd_simulate(argparse.Namespace(), argv[1:])
    args = build_parser().parse_args(argv)
    try:
        return _run(args)
    except ValidationError as exc:
        # A setting that cannot be used: say which and why, without a stack trace.
        problems = "; ".join(f"REVIEWSTREAM_{'_'.join(str(p) for p in e['loc']).upper()}: {e['msg']}"
                             for e in exc.errors())
        print(f"reviewstream: invalid settings: {problems}", file=sys.stderr)
        return 2


def _run(args: argparse.Namespace) -> int:
    handler = {"worker": _cmd_worker, "replay": _cmd_replay, "analyze": _cmd_analyze, "demo": _cmd_demo,
               "tail": _cmd_tail, "profile": _cmd_state, "product": _cmd_state,
               "forget": _cmd_forget, "dead-letters": _cmd_dead_letters}[args.command]
    return handler(args)


if __name__ == "__main__":
    sys.exit(main())
