"""`reviewstream simulate-llm`: serve the simulator until SIGINT/SIGTERM, then print its stats as one JSON line.

    reviewstream simulate-llm --port 8000 --rpm 500 --tpm 200000 --error-rate 0.01
"""

from __future__ import annotations

import argparse
import asyncio
import json
import signal
from typing import get_args

from streams.llm.simulator.config import Outcome, SimulatorConfig
from streams.llm.simulator.server import start_simulator

__all__ = ["main"]


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="reviewstream simulate-llm", description="Serve a fake OpenAI-compatible LLM.")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8000, help="0 picks a free port (printed on start)")
    p.add_argument("--latency-median-s", type=float, default=0.0)
    p.add_argument("--latency-p99-s", type=float, default=None, help="lognormal tail; omit for fixed latency")
    p.add_argument("--rpm", type=int, default=10_000, help="requests per minute before 429")
    p.add_argument("--tpm", type=int, default=10_000_000, help="tokens per minute before 429")
    p.add_argument("--window-s", type=float, default=60.0, help="length of the rate-limit window")
    p.add_argument("--error-rate", type=float, default=0.0, help="share of requests answered 500/503")
    p.add_argument("--timeout-rate", type=float, default=0.0, help="share of requests held without an answer")
    p.add_argument("--timeout-hold-s", type=float, default=300.0)
    p.add_argument("--invalid-rate", type=float, default=0.0, help="share of replies that break the JSON contract")
    p.add_argument("--seed", type=int, default=None)
    p.add_argument("--model", default="reviewstream-sim")
    p.add_argument("--fault", choices=[o for o in get_args(Outcome) if o != "ok"], default=None,
                   help="every request gets this fault (see streams.llm.simulator.config.Outcome)")
    return p


async def _serve(config: SimulatorConfig, host: str, port: int) -> None:
    sim = await start_simulator(config, host, port)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    print(f"LLM simulator listening on {sim.base_url}", flush=True)
    try:
        await stop.wait()
    finally:
        await sim.close()
        print(json.dumps(sim.stats()), flush=True)


def main(argv: list[str] | None = None) -> int:
    """`reviewstream simulate-llm`: serve until SIGINT/SIGTERM, then print the final stats as one JSON line."""
    args = _parser().parse_args(argv)
    for name in ("error_rate", "timeout_rate", "invalid_rate"):
        if not 0.0 <= getattr(args, name) <= 1.0:
            print(f"--{name.replace('_', '-')} must be between 0 and 1, got {getattr(args, name)}")
            return 2
    if args.rpm < 1 or args.tpm < 1 or args.window_s <= 0:
        print(f"--rpm, --tpm and --window-s must be positive, got {args.rpm}, {args.tpm}, {args.window_s}")
        return 2
    config = SimulatorConfig(
        latency_median_s=args.latency_median_s,
        latency_p99_s=args.latency_p99_s,
        rpm=args.rpm,
        tpm=args.tpm,
        window_s=args.window_s,
        error_rate=args.error_rate,
        timeout_rate=args.timeout_rate,
        timeout_hold_s=args.timeout_hold_s,
        invalid_rate=args.invalid_rate,
        seed=args.seed,
        model=args.model,
        fault=args.fault,
    )
    asyncio.run(_serve(config, args.host, args.port))
    return 0
