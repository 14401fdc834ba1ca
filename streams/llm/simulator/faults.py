"""Fault injection: which outcome each request gets and how long the simulated model takes.

Every draw comes from one RNG seeded by `SimulatorConfig.seed`, in the same order on every run: with a seed, a run's
sequence of faults and latencies is reproducible (`broken_replies.random_invalid` draws from it too). Outcomes
forced by `SimulatorConfig.script`, then `SimulatorConfig.fault`, come before the rates.
"""

from __future__ import annotations

import math
import random
from typing import Final

from streams.llm.simulator.config import Outcome, SimulatorConfig

__all__ = ["FaultPlan"]

# z-score of the 99th percentile of a standard normal: turns (median, p99) into a lognormal sigma.
_Z99: Final = 2.3263478740408408


class FaultPlan:
    def __init__(self, config: SimulatorConfig) -> None:
        self.config = config
        self.rng = random.Random(config.seed)
        self._script = list(config.script)

    def forced(self) -> Outcome | None:
        """The outcome the script (first) or `config.fault` forces, if any; taken when the request arrives, before
        the rate limit."""
        return self._script.pop(0) if self._script else self.config.fault

    def draw(self) -> Outcome:
        """An outcome from the configured rates."""
        cfg = self.config
        u = self.rng.random()
        if u < cfg.timeout_rate:
            return "timeout"
        if u < cfg.timeout_rate + cfg.error_rate:
            return "error"
        if u < cfg.timeout_rate + cfg.error_rate + cfg.invalid_rate:
            return "invalid"
        return "ok"

    def latency(self) -> float:
        """Seconds of simulated model time: fixed, or lognormal with the configured median and p99."""
        cfg = self.config
        median = max(0.0, cfg.latency_median_s)
        if median <= 0 or cfg.latency_p99_s is None or cfg.latency_p99_s <= median:
            return median
        sigma = (math.log(cfg.latency_p99_s) - math.log(median)) / _Z99
        return self.rng.lognormvariate(math.log(median), sigma)

    def error_status(self) -> int:
        return self.rng.choice((500, 503))
