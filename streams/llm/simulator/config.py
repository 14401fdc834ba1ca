"""How the simulator behaves: one mutable `SimulatorConfig`, read afresh on every request."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

__all__ = ["Outcome", "SimulatorConfig"]

Outcome = Literal["ok", "invalid", "error", "timeout", "rate_limit"]


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
    # How many recent request bodies `RunningSimulator.requests` keeps for tests to inspect.
    record_requests: int = 100
