"""The broker goes away under load — stopped with SIGTERM, then with SIGKILL — and comes back from its data folder:
the worker rides it out by itself (nobody restarts it), every review gets its insight, and the profiles, rebuilt from
their changelogs, equal the independent reference: nothing lost, nothing counted twice.

The broker is the test's own (`private_kafka_broker`), never the session's. The scenario is bench/chaos.py's, short;
`python -m bench.chaos` runs it longer, with worker kills on top, and prints the figures.
"""

from __future__ import annotations

import signal
from pathlib import Path

import pytest

from bench.chaos import ChaosPlan, run_chaos
from bench.harness import LocalBroker

pytestmark = pytest.mark.integration


@pytest.mark.timeout(600)
async def test_a_worker_rides_out_its_broker_stopped_with_sigterm_then_sigkill(
    private_kafka_broker: LocalBroker, tmp_path: Path,
) -> None:
    # Outages of 3 s plus the broker's own start (longer after SIGKILL: it recovers its logs), well inside the
    # producer's 60 s request timeout, past which a worker may exit for its supervisor to restart (README).
    plan = ChaosPlan(workers=1, rate_per_s=50, users=120, warmup_s=3,
                     broker_faults=(signal.SIGTERM, signal.SIGKILL), outage_s=3, worker_kills=0,
                     supervise=False, settle_timeout_s=240)
    result = await run_chaos(plan, private_kafka_broker.url, tmp_path, private_kafka_broker)
    fleet, verdict = result.fleet, result.verdict
    assert fleet.unexpected_exits == [] and fleet.restarts == 0, fleet.log_tail("w1", 80)
    # The worker itself went on: the insight of a review sent after each restart came out.
    assert [r.signal for r in result.broker_restarts] == ["SIGTERM", "SIGKILL"]
    assert all(r.recover_s is not None for r in result.broker_restarts), result.broker_restarts
    assert verdict.reviews > 20 and verdict.clicks > 500, "the load must have been on during the faults"
    assert verdict.input_duplicates == 0
    assert verdict.reviews_without_insight == [], verdict.summary()
    assert verdict.counted_twice == 0 and verdict.missing_from_profiles == 0, verdict.summary()
    assert verdict.profiles_differing == {}, verdict.summary() + "\n" + fleet.log_tail("checker", 60)
