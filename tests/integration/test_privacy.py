"""Personal data under control, on the real broker: erasure (`reviewstream forget`) takes a user out of every table,
compacted topic and API answer, for good — a restart from the changelog and a replay of the inputs do not bring the
user back — and dead letters keep originals only sealed, with `dead-letters show|redrive` as the way back."""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import aiohttp
import orjson
import pytest
from aiokafka import AIOKafkaConsumer

from tests.conftest import ROOT
from tests.integration.conftest import API_HEADERS, Deployment, poll
from tests.integration.test_alerts_marketing import reset_input_offsets
from tests.integration.test_profiles_pipeline import make_clicks, profiles_match
from tests.unit.reference_profile import reference_profiles

pytestmark = pytest.mark.integration

VICTIM = "u-erase"
FAST_TIME = {"REVIEWSTREAM_SESSION_GAP_S": "60", "REVIEWSTREAM_MARKETING_ABANDON_AFTER_S": "120",
             "REVIEWSTREAM_TIMER_TICK_S": "1"}


def cli(deployment: Deployment, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "streams", *args], env=env or deployment.env, cwd=ROOT,
                          capture_output=True, text=True, timeout=120, check=False)


def victim_clicks(start: float) -> list[dict[str, Any]]:
    """Two sessions (a gap of 10 minutes) and a cart left behind: a profile, closed sessions, an abandoned-cart
    message — a record about the user in every compacted output."""
    base = {"user_id": VICTIM, "category": "kitchen", "brand": "Acme", "price": 49.0, "product_id": "p-kettle"}
    return [{**base, "event_id": "v1", "type": "view", "ts": start},
            {**base, "event_id": "v2", "type": "add_to_cart", "ts": start + 30, "quantity": 1},
            {**base, "event_id": "v3", "type": "view", "ts": start + 600}]


async def latest_values(deployment: Deployment, topics: list[str]) -> dict[str, dict[bytes, Any]]:
    """Latest value per key of each topic (None for a tombstone): what compaction keeps."""
    consumer = AIOKafkaConsumer(*topics, **deployment.kafka_kwargs, group_id=None, enable_auto_commit=False,
                                auto_offset_reset="earliest")
    await consumer.start()
    latest: dict[str, dict[bytes, Any]] = {t: {} for t in topics}
    try:
        idle = 0
        while idle < 4:
            batch = await consumer.getmany(timeout_ms=500)
            idle = 0 if batch else idle + 1
            for tp, records in batch.items():
                for record in records:
                    latest[tp.topic][record.key] = None if record.value is None else orjson.loads(record.value)
    finally:
        await consumer.stop()
    return latest


def about_victim(latest: dict[str, dict[bytes, Any]]) -> list[Any]:
    return [value for values in latest.values() for value in values.values()
            if value is not None and VICTIM in orjson.dumps(value).decode()]


async def profile_status(port: int, user_id: str) -> int:
    async with aiohttp.ClientSession(headers=API_HEADERS) as session, \
            session.get(f"http://127.0.0.1:{port}/profiles/{user_id}/") as response:
        return response.status


@pytest.mark.timeout(600)
async def test_forget_erases_a_user_everywhere_for_good_and_leaves_the_others(deployment: Deployment) -> None:
    settings = deployment.settings
    clicks = make_clicks(600, seed=43)
    victim = victim_clicks(clicks[0]["ts"] + 1)
    all_clicks = victim + clicks  # the victim's first: the others' later clicks move event time past the cart
    await deployment.produce([orjson.dumps(c) for c in all_clicks], topic=settings.clickstream_topic,
                             keys=[c["user_id"].encode() for c in all_clicks])
    worker = deployment.start_worker("w1", **FAST_TIME)
    outputs = [settings.profiles_topic, settings.sessions_topic, settings.marketing_topic]

    def victim_everywhere(out: dict[str, list[dict[str, Any]]]) -> bool:
        return all(any(r.get("user_id") == VICTIM for r in out[topic]) for topic in outputs)

    seen = await deployment.collect(victim_everywhere, topics=outputs, proc=worker, timeout_s=180)
    assert victim_everywhere(seen), deployment.log_tail("w1")

    erased = cli(deployment, "forget", VICTIM, "--request-id", "req-1", "--wait", "90")
    assert erased.returncode == 0, erased.stderr + deployment.log_tail("w1")
    audit = orjson.loads(erased.stdout)
    assert (audit["request_id"], audit["status"]) == ("req-1", "erased")
    # (the open-session row is gone already: the others' clicks moved event time past the victim's sessions)
    assert {"profiles", "marketing_state", "published_keys"} <= set(audit["rows_deleted"])
    assert audit["tombstones"][settings.profiles_topic] == 1
    assert audit["tombstones"][settings.sessions_topic] >= 1 and audit["tombstones"][settings.marketing_topic] >= 1
    assert VICTIM not in erased.stdout, "the audit record holds no personal data"

    port = deployment.web_ports["w1"]
    assert await profile_status(port, VICTIM) == 404
    others = reference_profiles(clicks, [])
    assert not await profiles_match(port, others)
    assert about_victim(await latest_values(deployment, outputs)) == []

    again = cli(deployment, "forget", VICTIM, "--wait", "90")
    assert again.returncode == 0 and orjson.loads(again.stdout)["status"] == "nothing_found", again.stderr

    # A restart from the changelog (a fresh data folder) and a replay of every input from offset 0.
    worker.send_signal(signal.SIGTERM)
    worker.wait(timeout=60)
    await reset_input_offsets(deployment)
    deployment.start_worker("w2", **FAST_TIME)
    port = deployment.web_ports["w2"]
    problems = await profiles_match(port, others)
    assert not problems, f"{list(problems.items())[:3]}\n" + deployment.log_tail("w2")
    async def victim_replayed() -> bool:
        return replays_left_out(await metrics_text(port)) >= len(victim)

    assert await poll(victim_replayed, 240), "the victim's clicks were read again and left out"
    assert await profile_status(port, VICTIM) == 404, "a replay must not bring the user back"
    assert about_victim(await latest_values(deployment, outputs)) == []


async def metrics_text(port: int) -> str:
    async with aiohttp.ClientSession() as session, session.get(f"http://127.0.0.1:{port}/metrics") as response:
        return await response.text()


def replays_left_out(metrics: str) -> float:
    for line in metrics.splitlines():
        if line.startswith("reviewstream_erased_replays_total "):
            return float(line.split()[1])
    return 0.0


async def test_dead_letters_keep_originals_sealed_and_redrive_sends_the_fix_back(deployment: Deployment,
                                                                                tmp_path: Path) -> None:
    settings = deployment.settings
    broken = b'{"review_id": "dl-1", "user_id": "u1", "product_id": "p1", "text": "mail jo@example.com" '
    await deployment.produce([broken])
    worker = deployment.start_worker("w1")
    out = await deployment.collect(lambda o: len(o[settings.dead_letters_topic]) >= 1, proc=worker)
    [letter] = out[settings.dead_letters_topic]
    assert letter["reason"] == "invalid_json" and b"jo@example.com" not in orjson.dumps(letter)
    position = f"{letter['source_topic']}:{letter['partition']}:{letter['offset']}"

    shown = cli(deployment, "dead-letters", "show", "--reason", "invalid_json")
    assert shown.returncode == 0 and "jo@example.com" not in shown.stdout and "[EMAIL]" in shown.stdout
    opened = cli(deployment, "dead-letters", "show", "--letter", position, "--open")
    assert "jo@example.com" in orjson.loads(opened.stdout)["original"]
    keyless = {k: v for k, v in deployment.env.items() if k != "REVIEWSTREAM_DEAD_LETTER_KEYS"}
    refused = cli(deployment, "dead-letters", "show", "--letter", position, "--open", env=keyless)
    assert "cannot open" in refused.stdout and "jo@example.com" not in refused.stdout

    as_is = cli(deployment, "dead-letters", "redrive", "--letter", position, "--dry-run")
    assert f"would send {position}" in as_is.stderr
    fixed = tmp_path / "fixed.json"
    fixed.write_bytes(broken + b"}")
    sent = cli(deployment, "dead-letters", "redrive", "--letter", position, "--value-file", str(fixed))
    assert sent.returncode == 0 and f"sent {position}" in sent.stderr, sent.stderr
    out = await deployment.collect(lambda o: any(i["review_id"] == "dl-1" for i in o[settings.insights_topic]),
                                   proc=worker)
    [insight] = [i for i in out[settings.insights_topic] if i["review_id"] == "dl-1"]
    assert insight["redacted"] == ["email"]
