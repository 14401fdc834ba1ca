"""Fault injection: which outcome each request gets, how long the simulated model takes, how a broken reply looks.

Every draw comes from one RNG seeded by `SimulatorConfig.seed`, in the same order on every run: with a seed, a run's
sequence of faults and latencies is reproducible. Outcomes forced by `SimulatorConfig.script` come first.
"""

from __future__ import annotations

import json
import math
import random
from typing import Any, Final

from streams.llm.simulator.config import Outcome, SimulatorConfig

__all__ = ["FaultPlan"]

# z-score of the 99th percentile of a standard normal: turns (median, p99) into a lognormal sigma.
_Z99: Final = 2.3263478740408408


class FaultPlan:
    def __init__(self, config: SimulatorConfig) -> None:
        self.config = config
        self.rng = random.Random(config.seed)
        self._script = list(config.script)

    def scripted(self) -> Outcome | None:
        """The next outcome the script forces, if any (taken when the request arrives, before the rate limit)."""
        return self._script.pop(0) if self._script else None

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

    def invalid_content(self, valid: dict[str, Any], batch: bool) -> str:
        """A plausible way for a model to get the contract wrong."""
        rng = self.rng
        if batch:
            items = [dict(item) if isinstance(item, dict) else list(item) for item in valid["items"]]
            how = rng.choice(("unparsable", "drop_item", "break_item"))
            if how == "unparsable" or not items:
                return "Here are the analyses:\n" + json.dumps(valid, ensure_ascii=False)
            if how == "drop_item":
                items.pop(rng.randrange(len(items)))
            else:
                broken = items[rng.randrange(len(items))]
                if isinstance(broken, dict):
                    broken["s"] = "very positive"  # the sentiment code
                else:
                    broken[1] = "very positive"
            return json.dumps({"items": items}, ensure_ascii=False)
        data = dict(valid)
        how = rng.choice(("prose", "fenced", "missing", "enum", "range", "extra", "truncated"))
        text = json.dumps(data, ensure_ascii=False)
        if how == "prose":
            return "Sure! The customer seems " + str(data["sentiment"]) + " overall."
        if how == "fenced":
            return f"```json\n{text}\n```"
        if how == "truncated":
            return text[: max(1, len(text) // 2)]
        if how == "missing":
            data.pop("summary")
        elif how == "enum":
            data["sentiment"] = "very positive"
        elif how == "range":
            data["sentiment_score"] = 3.5
        else:
            data["hacked"] = True
        return json.dumps(data, ensure_ascii=False)
