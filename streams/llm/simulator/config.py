"""How the simulator behaves: one mutable `SimulatorConfig`, read afresh on every request."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

from streams.llm.simulator.hostile import HostileReply

__all__ = ["Outcome", "SimulatorConfig"]

# What happens to one request. "ok" answers; "invalid" breaks the JSON contract in a random plausible way; "error" is a
# 500/503; "timeout" holds the request for `timeout_hold_s`; "rate_limit" is a 429 with retry-after,
# "rate_limit_no_retry_after" one without. The rest are named breakages of a 200 reply (`broken_replies`,
# `slow_reply`, `hostile`): "drip" sends it a few bytes at a time, "truncated" cuts the JSON in half,
# "wrong_schema" is valid JSON of another shape, "extra_fields" adds keys the schema forbids, "huge" is several MB,
# "wrong_content_type" is an HTML error page, "hostile" carries what an output guard must catch.
Outcome = Literal["ok", "invalid", "error", "timeout", "rate_limit", "rate_limit_no_retry_after", "drip",
                  "truncated", "wrong_schema", "extra_fields", "huge", "wrong_content_type", "hostile"]


@dataclass
class SimulatorConfig:
    """How the fake endpoint behaves. Mutable on purpose: a test may raise `error_rate` while a server runs."""

    latency_median_s: float = 0.0
    # None (or not above the median): every request takes exactly `latency_median_s`.
    latency_p99_s: float | None = None
    rpm: int = 10_000
    tpm: int = 10_000_000
    # OpenAI counts per minute; tests shrink the window so a 429 clears within a second.
    window_s: float = 60.0
    error_rate: float = 0.0
    timeout_rate: float = 0.0
    timeout_hold_s: float = 300.0
    invalid_rate: float = 0.0
    seed: int | None = None
    model: str = "reviewstream-sim"
    # When set, any other bearer token gets 401 like OpenAI's "Incorrect API key provided".
    api_key: str | None = None
    # A badly behaved provider that echoes the whole key in its 401 body: tests that callers scrub it.
    echo_key_in_errors: bool = False
    # Outcomes forced on the first requests, in order, before the random rates apply (deterministic tests).
    script: Sequence[Outcome] = ()
    # After the script, every request gets this outcome, whatever the rates: a provider stuck in one failure (set it
    # back to None on the live config to heal it).
    fault: Outcome | None = None
    # The retry-after of a forced 429 ("rate_limit"); the rate limit itself says when it would have room.
    retry_after_s: float = 1.0
    # "drip": the reply's bytes come `drip_bytes` at a time, `drip_interval_s` apart.
    drip_bytes: int = 8
    drip_interval_s: float = 0.1
    # "huge": about this many bytes of reply.
    huge_reply_bytes: int = 4_000_000
    # "hostile": what the reply carries.
    hostile: HostileReply = field(default_factory=HostileReply)
    # How many recent request bodies `RunningSimulator.requests` keeps for tests to inspect.
    record_requests: int = 100
