"""The `reviewstream` command.

    reviewstream worker                     run the stream processor (Faust worker)
    reviewstream replay FILE [--topic T]    produce a CSV/JSONL file into a topic
    reviewstream analyze FILE -o OUT        offline batch analysis, no Kafka
    reviewstream demo [--once]              local Kafka + worker + sample data, results live
    reviewstream simulate-llm --port P      an OpenAI-compatible simulator for tests and benchmarks
    reviewstream profile USER_ID            a user's profile, from a running worker
    reviewstream product PRODUCT_ID         a product's sentiment windows, from a running worker
    reviewstream tail TOPIC                 print a topic's messages
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import logging
import os
import sys
from pathlib import Path

__all__ = ["main"]


def _settings():  # type: ignore[no-untyped-def]
    from streams.settings import Settings

    return Settings()


def _cmd_worker(args: argparse.Namespace) -> int:
    if args.web_port:
        os.environ["REVIEWSTREAM_WEB_PORT"] = str(args.web_port)
    if args.datadir:
        os.environ["REVIEWSTREAM_DATADIR"] = args.datadir
    from faust.worker import Worker

    import agents.clickstream
    import agents.insights
    import agents.marketing
    import agents.products
    import agents.profiles
    import agents.reviews  # noqa: F401 - importing registers the agents, tables and pages with the app
    from streams.app import app, settings
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
    from streams.replay import replay_file
    from streams.topics import ensure_topics

    settings = _settings()
    topic = args.topic or settings.reviews_topic
    asyncio.run(ensure_topics(settings))
    sent = asyncio.run(replay_file(Path(args.file), broker=settings.broker, topic=topic, progress=not args.quiet))
    print(f"sent {sent} records to {topic}")
    return 0


def _cmd_analyze(args: argparse.Namespace) -> int:
    from streams.batch import analyze_file
    from streams.llm.factory import build_analyzers
    from streams.review_processor import ReviewProcessor

    if args.provider:
        os.environ["REVIEWSTREAM_LLM_PROVIDER"] = args.provider
    settings = _settings()

    async def run() -> int:
        analyzer, fallback = build_analyzers(settings)
        processor = ReviewProcessor(analyzer, fallback=fallback, max_text_chars=settings.max_text_chars,
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

    from streams.demo import SAMPLE, run_demo

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
    import aiohttp

    kind, key = ("profiles", args.user_id) if args.command == "profile" else ("products", args.product_id)
    base = args.url or f"http://127.0.0.1:{_settings().web_port}"

    async def fetch() -> tuple[int, bytes]:
        async with aiohttp.ClientSession() as session, session.get(f"{base}/{kind}/{key}/") as response:
            return response.status, await response.read()

    try:
        status, body = asyncio.run(fetch())
    except aiohttp.ClientError as exc:
        print(f"cannot reach a worker at {base}: {exc}; is `reviewstream worker` running?", file=sys.stderr)
        return 2
    sys.stdout.write(body.decode("utf-8", errors="replace") + "\n")
    return 0 if status == 200 else 1


def _cmd_tail(args: argparse.Namespace) -> int:
    from aiokafka import AIOKafkaConsumer

    from streams.topics import bootstrap_servers

    settings = _settings()

    async def run() -> None:
        consumer = AIOKafkaConsumer(args.topic, bootstrap_servers=bootstrap_servers(settings.broker),
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
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    if argv[:1] == ["simulate-llm"]:
        return _cmd_simulate(argparse.Namespace(), argv[1:])
    args = build_parser().parse_args(argv)
    handler = {"worker": _cmd_worker, "replay": _cmd_replay, "analyze": _cmd_analyze, "demo": _cmd_demo,
               "tail": _cmd_tail, "profile": _cmd_state, "product": _cmd_state}[args.command]
    return handler(args)


if __name__ == "__main__":
    sys.exit(main())
