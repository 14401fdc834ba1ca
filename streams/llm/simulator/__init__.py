"""A fake OpenAI chat-completions server over real HTTP, for tests and benchmarks of the LLM gateway.

    sim = await start_simulator(SimulatorConfig(rpm=60, latency_median_s=0.2, latency_p99_s=1.5, seed=7))
    client = openai.AsyncOpenAI(base_url=sim.base_url, api_key="anything")  # any key unless config.api_key is set
    ...
    print(sim.stats()["rate_limited_429"])
    await sim.close()

Command line: `reviewstream simulate-llm --port 8000 --rpm 500 --tpm 200000 --error-rate 0.01` (see `main`).

One module per job:

    config.py       SimulatorConfig: latency, limits, fault rates, a script of forced outcomes (mutable while running)
    server.py       the aiohttp server: endpoints, auth, the request's life, stats; `start_simulator`
    rate_limit.py   requests and tokens per sliding window, as the provider counts them; `x-ratelimit-*` headers
    answer.py       what the simulated model answers to a request (single, batch, marketing) and its token usage
    analysis.py     the analysis of one review: the offline analyzer's rules, a keyword count for its classifier
    marketing.py    the answer to a marketing request
    faults.py       which outcome a request gets (script, stuck fault, rates) and its latency (one seeded RNG)
    broken_replies.py  replies that break the JSON contract: random, truncated, wrong schema, extra fields, huge
    slow_reply.py   the slow drip: a reply a few bytes at a time
    hostile.py      a reply carrying personal data, links, an invented competitor, a one-letter quote, an attack
    cli.py          `reviewstream simulate-llm`

What it does like OpenAI: rate limits over a sliding window (60 s by default), counted by the server, with 429s that
carry `retry-after` / `retry-after-ms` and an OpenAI-style error body, and the `x-ratelimit-*` headers on every chat
response; latency fixed or lognormal (median, p99); `usage` from the project's token estimate; `max_tokens` cuts an
answer with `finish_reason: "length"`. Faults at configurable rates (500/503, timeouts, invalid replies), forced
in order by a script, or on every request while `SimulatorConfig.fault` names one (`config.Outcome`: 429s with or
without retry-after, a slow drip, truncated JSON, another schema, extra fields, several MB, an HTML page, a hostile
reply).
"""

from __future__ import annotations

from streams.llm.simulator.analysis import simulate_analysis
from streams.llm.simulator.cli import main
from streams.llm.simulator.config import Outcome, SimulatorConfig
from streams.llm.simulator.hostile import HostileReply
from streams.llm.simulator.rate_limit import RateLimitState, SlidingWindowLimiter
from streams.llm.simulator.server import RequestRecord, RunningSimulator, start_simulator

__all__ = [
    "HostileReply",
    "Outcome",
    "RateLimitState",
    "RequestRecord",
    "RunningSimulator",
    "SimulatorConfig",
    "SlidingWindowLimiter",
    "main",
    "simulate_analysis",
    "start_simulator",
]
