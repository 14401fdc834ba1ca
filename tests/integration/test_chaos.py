"""Chaos, short: two workers under load, one of them killed with SIGKILL and started again (same data folder, as a
crashed pod is) every few seconds; then every review has its insight and the profiles, rebuilt from their changelogs,
equal the independent reference: nothing lost, nothing counted twice.

The scenario is bench/chaos.py's; `python -m bench.chaos` runs it longer, with broker restarts, and prints the figures.
Workers are killed here, not the broker, so the session's broker serves.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from bench.chaos import ChaosPlan, run_chaos

pytestmark = pytest.mark.integration


@pytest.mark.timeout(600)
async def test_two_workers_one_killed_and_restarted_every_few_seconds_lose_and_double_nothing(
    kafka_broker: str, tmp_path: Path,
) -> None:
    plan = ChaosPlan(workers=2, rate_per_s=50, users=120, warmup_s=3, broker_faults=(), worker_kills=3,
                     kill_every_s=4, supervise=True, settle_timeout_s=240)
    result = await run_chaos(plan, kafka_broker, tmp_path)
    fleet, verdict = result.fleet, result.verdict
    assert result.worker_kills == 3 and fleet.restarts == 3
    assert fleet.unexpected_exits == [], [fleet.log_tail(e.worker, 60) for e in fleet.unexpected_exits]
    assert verdict.reviews > 20 and verdict.clicks > 300, "the load must have been on during the kills"
    assert verdict.input_duplicates == 0
    assert verdict.reviews_without_insight == [], verdict.summary()
    assert verdict.counted_twice == 0 and verdict.missing_from_profiles == 0, verdict.summary()
    assert verdict.profiles_differing == {}, verdict.summary() + "\n" + fleet.log_tail("checker", 60)
