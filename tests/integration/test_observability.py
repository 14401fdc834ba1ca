"""The dashboard and the alert rules against a real Prometheus scraping a real worker.

A worker (LLM provider: the OpenAI-compatible simulator) processes valid, duplicate, PII-bearing and malformed reviews
and clicks from the real broker; a real Prometheus (Debian package `prometheus`, installed by .ci/run) scrapes it
every second with deploy/prometheus/rules.yml loaded. Then every dashboard panel query must return data, every alert
rule must evaluate without error, and promtool must accept the config, the rules and the worker's exposition.
"""

from __future__ import annotations

import asyncio
import json
import math
import shutil
import subprocess
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import orjson
import pytest
import pytest_asyncio
import yaml

from tests.conftest import ROOT, free_port, sample_reviews
from tests.integration.conftest import Deployment, poll

pytestmark = pytest.mark.integration

PROMETHEUS_DIR = ROOT / "deploy" / "prometheus"
DASHBOARD = ROOT / "deploy" / "grafana" / "dashboards" / "reviewstream.json"
# What Grafana puts in place of the dashboard's variables; `$job` is the job name of prometheus.yml.
GRAFANA_VARIABLES = {"$__rate_interval": "1m", "$instance": ".+"}

MALFORMED = [b"not json at all", b"[1, 2]", b'{"review_id": "bad-1", "user_id": "u1", "product_id": "p1"}',
             b'{"review_id": "bad-2", "user_id": "u1", "product_id": "p1", "text": ""}', b"\xff\xfe\x80"]
# Panels that must show a rate above zero while reviews flow (the others must at least show a number, not NaN).
MOVING = ("Events consumed", "Events produced", "Dead letters / s", "Analyses by", "LLM requests / s", "Tokens / s",
          "LLM cost per hour (USD) [A]", "Insights / s", "PII redactions")

def binaries() -> tuple[str, str]:
    prometheus, promtool = shutil.which("prometheus"), shutil.which("promtool")
    if not (prometheus and promtool):
        pytest.fail("prometheus and promtool are needed: apt-get install prometheus (.ci/run does it)")
    return prometheus, promtool


def promtool(*args: str, stdin: bytes | None = None) -> subprocess.CompletedProcess[str]:
    _, tool = binaries()
    return subprocess.run([tool, *args], input=stdin.decode() if stdin is not None else None, capture_output=True,
                          text=True, timeout=60, check=False)


def dashboard_queries() -> list[tuple[str, str]]:
    dash = json.loads(DASHBOARD.read_text(encoding="utf-8"))
    panels = [p for top in dash["panels"] for p in [top, *top.get("panels", [])]]
    return [(f"{p['title']} [{t['refId']}]", t["expr"]) for p in panels for t in p.get("targets", [])]


def dashboard_variables() -> list[tuple[str, str, str]]:
    """(name, metric selector, label) of each `label_values(selector, label)` variable."""
    dash = json.loads(DASHBOARD.read_text(encoding="utf-8"))
    out = []
    for var in dash["templating"]["list"]:
        query = var["query"]["query"]
        assert query.startswith("label_values(") and query.endswith(")"), query
        selector, label = query[len("label_values("):-1].rsplit(",", 1)
        out.append((var["name"], selector.strip(), label.strip()))
    return out


def alert_rules() -> list[dict[str, Any]]:
    rules = yaml.safe_load((PROMETHEUS_DIR / "rules.yml").read_text(encoding="utf-8"))
    return [r for g in rules["groups"] for r in g["rules"]]


def reviewstream_job() -> dict[str, Any]:
    config = yaml.safe_load((PROMETHEUS_DIR / "prometheus.yml").read_text(encoding="utf-8"))
    return next(j for j in config["scrape_configs"] if j["job_name"] == "reviewstream")


def scrape_config_for_test() -> dict[str, Any]:
    """deploy/prometheus/prometheus.yml with the workers' discovery replaced by one static target filled in later."""
    config = yaml.safe_load((PROMETHEUS_DIR / "prometheus.yml").read_text(encoding="utf-8"))
    config["global"].update(scrape_interval="1s", scrape_timeout="1s", evaluation_interval="1s")
    config["rule_files"] = [str(PROMETHEUS_DIR / f) for f in config["rule_files"]]
    job = {k: v for k, v in reviewstream_job().items() if not k.endswith("_sd_configs")}
    config["scrape_configs"] = [job]
    return config


# ------------------------------------------------------------------------------------------------ static checks
def test_promtool_accepts_config_rules_and_rule_tests() -> None:
    config = promtool("check", "config", str(PROMETHEUS_DIR / "prometheus.yml"))
    assert config.returncode == 0, config.stdout + config.stderr
    rules = promtool("check", "rules", str(PROMETHEUS_DIR / "rules.yml"))
    assert rules.returncode == 0, rules.stdout + rules.stderr
    unit = subprocess.run([binaries()[1], "test", "rules", "rules_test.yml"], cwd=PROMETHEUS_DIR, capture_output=True,
                          text=True, timeout=60, check=False)
    assert unit.returncode == 0, unit.stdout + unit.stderr


# ------------------------------------------------------------------------------------------------ live checks
@dataclass
class Prometheus:
    url: str
    session: aiohttp.ClientSession

    async def get(self, path: str, **params: str) -> dict[str, Any]:
        async with self.session.get(self.url + path, params=params) as response:
            body: dict[str, Any] = await response.json(content_type=None)
            return {"http_status": response.status, **body}

    async def query(self, expr: str) -> dict[str, Any]:
        return await self.get("/api/v1/query", query=expr)


@pytest_asyncio.fixture
async def prometheus_server(tmp_path: Path) -> AsyncIterator[Callable[[int], Any]]:
    """A factory: `await start(worker_port)` runs a real Prometheus scraping that worker every second."""
    binary, _ = binaries()
    procs: list[subprocess.Popen[bytes]] = []
    sessions: list[aiohttp.ClientSession] = []

    async def start(worker_port: int) -> Prometheus:
        config = scrape_config_for_test()
        config["scrape_configs"][0]["static_configs"] = [{"targets": [f"127.0.0.1:{worker_port}"]}]
        config_path = tmp_path / "prometheus.yml"
        config_path.write_text(yaml.safe_dump(config, sort_keys=False), encoding="utf-8")
        checked = await asyncio.to_thread(promtool, "check", "config", str(config_path))
        assert checked.returncode == 0, checked.stdout + checked.stderr
        port = free_port()
        with (tmp_path / "prometheus.log").open("ab") as log:  # the child keeps its own descriptor
            procs.append(subprocess.Popen(
                [binary, f"--config.file={config_path}", f"--storage.tsdb.path={tmp_path / 'tsdb'}",
                 f"--web.listen-address=127.0.0.1:{port}"],
                stdout=log, stderr=subprocess.STDOUT, start_new_session=True))
        session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10))
        sessions.append(session)
        prom = Prometheus(f"http://127.0.0.1:{port}", session)

        async def ready() -> bool:
            if procs[-1].poll() is not None:
                raise AssertionError("prometheus exited:\n" + (tmp_path / "prometheus.log").read_text()[-3000:])
            try:
                async with session.get(prom.url + "/-/ready") as response:
                    return response.status == 200
            except aiohttp.ClientError:
                return False

        assert await poll(ready, 30), "prometheus did not become ready within 30 s"
        return prom

    yield start
    for session in sessions:
        await session.close()
    for proc in procs:
        proc.terminate()
    for proc in procs:
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def wave(n: int, size: int) -> tuple[list[bytes], set[str]]:
    """`size` real reviews not seen in other waves (a few texts twice, for cache hits), two with a phone number or
    an e-mail address (redaction counters) and the malformed events (dead letters)."""
    texts = [r["text"] for r in sample_reviews()][n * size: (n + 1) * size]
    texts[-4:] = [texts[0], texts[1], f"The kettle leaks after a week, call me on 138 1234 56{n:02d} for a refund.",
                  f"Great blender. Questions? Mail me at buyer{n}@example.com, happy to help."]
    values, ids = [], set()
    for i, text in enumerate(texts):
        review_id = f"obs-{n}-{i:03d}"
        ids.add(review_id)
        values.append(orjson.dumps({"review_id": review_id, "user_id": f"u{i % 7}", "product_id": f"p{i % 5}",
                                    "text": text, "rating": 1 + i % 5}))
    for k, raw in enumerate(MALFORMED):
        values.insert(k * 5, raw)
    return values, ids


def click_wave(n: int, size: int = 40) -> list[dict[str, Any]]:
    """Clicks of the reviewers (profiles, sessions, carts, marketing triggers), one malformed."""
    now = time.time()
    kinds = ["view", "search", "add_to_cart", "view", "purchase"]
    clicks: list[dict[str, Any]] = []
    for i in range(size):
        kind = kinds[i % len(kinds)]
        click: dict[str, Any] = {"event_id": f"obs-c{n}-{i}", "user_id": f"u{i % 7}", "type": kind,
                                 "ts": now - size + i}
        if kind == "search":
            click["query"] = "kettle"
        else:
            click.update(product_id=f"p{i % 5}", category="kitchen", price=20.0 + i)
        if kind in ("add_to_cart", "purchase"):
            click["quantity"] = 1
        clicks.append(click)
    clicks.append({"event_id": f"obs-bad-{n}", "user_id": "u1", "type": "teleport", "ts": now})
    return clicks


def numbers(body: dict[str, Any]) -> list[float]:
    return [float(sample["value"][1]) for sample in body.get("data", {}).get("result", [])]


async def test_every_panel_and_alert_evaluates_against_a_real_worker(
    deployment: Deployment, llm_simulator: str, prometheus_server: Callable[[int], Any],
) -> None:
    web_port = free_port()
    worker = deployment.start_worker(
        "w1", REVIEWSTREAM_WEB_PORT=str(web_port), REVIEWSTREAM_LLM_PROVIDER="openai", OPENAI_BASE_URL=llm_simulator,
        OPENAI_API_KEY="sk-test", REVIEWSTREAM_LLM_RPM="100000", REVIEWSTREAM_LLM_TPM="100000000")
    prom: Prometheus = await prometheus_server(web_port)
    job = reviewstream_job()["job_name"]
    expected_ids: set[str] = set()
    expected_dead = 0

    async def process(values: list[bytes], ids: set[str]) -> None:
        nonlocal expected_dead
        expected_ids.update(ids)
        expected_dead += len(MALFORMED) + 1  # and the malformed click
        clicks = click_wave(len(expected_ids))
        await deployment.produce([orjson.dumps(c) for c in clicks], topic=deployment.settings.clickstream_topic,
                                 keys=[c["user_id"].encode() for c in clicks])
        await deployment.produce(values)

        def complete(outputs: dict[str, list[dict[str, Any]]]) -> bool:
            seen = {o["review_id"] for o in outputs[deployment.settings.insights_topic]}
            return expected_ids <= seen and len(outputs[deployment.settings.dead_letters_topic]) >= expected_dead

        outputs = await deployment.collect(complete, timeout_s=60, proc=worker)
        assert complete(outputs), deployment.log_tail()

    async def scraped(expr: str) -> bool:
        return bool(numbers(await prom.query(expr)))

    # Wave 1 creates the labelled series; once Prometheus has them, wave 2 makes every rate move. (A counter's first
    # scrape is its baseline: increments that happen before it never show in rate().)
    values, ids = wave(0, 20)
    await process(values, ids)
    first = (f'sum(reviewstream_events_produced_total{{job="{job}"}}) >= {len(values)} and on() '
             f'count(reviewstream_consumer_lag_messages{{job="{job}"}}) > 0')
    assert await poll(lambda: scraped(first), 30), "Prometheus never scraped the worker\n" + deployment.log_tail()
    await process(*wave(1, 20))

    # Every panel query returns data, a number (not NaN) and, for throughput panels, a rate above zero; `or vector(0)`
    # covers series that can legitimately be missing (no retries, no 429s).
    queries = dashboard_queries()
    for name, value in {**GRAFANA_VARIABLES, "$job": job}.items():
        queries = [(title, expr.replace(name, value)) for title, expr in queries]
    assert not [e for _, e in queries if "$" in e], "a dashboard variable the test does not know"

    async def failing_panels() -> dict[str, Any]:
        failures = {}
        for title, expr in queries:
            body = await prom.query(expr)
            values = [v for v in numbers(body) if not math.isnan(v)]
            moving = title.startswith(MOVING) or title in MOVING
            if body.get("status") != "success" or not values or (moving and max(values) <= 0):
                failures[title] = {"expr": expr, "answer": body}
        return failures

    async def all_panels_show_data() -> bool:
        return not await failing_panels()

    await poll(all_panels_show_data, 30, interval_s=1)
    failures = await failing_panels()
    assert not failures, "panels without data:\n" + json.dumps(failures, indent=1)[:6000]

    # The variables' label_values() find the worker, as Grafana asks for them.
    for name, selector, label in dashboard_variables():
        body = await prom.get(f"/api/v1/label/{label}/values", **{"match[]": selector.replace("$job", job)})
        assert body.get("status") == "success" and body["data"], f"variable {name}: {body}"

    # Every alert expression evaluates, and Prometheus' own evaluation of the loaded rules is healthy.
    rules = alert_rules()
    for rule in rules:
        body = await prom.query(rule["expr"])
        assert body.get("status") == "success", f"{rule.get('alert') or rule.get('record')}: {body}"

    async def rules_evaluated() -> list[dict[str, Any]]:
        loaded = (await prom.get("/api/v1/rules"))["data"]["groups"]
        evaluated = [r for g in loaded for r in g["rules"] if not r.get("lastEvaluation", "0001").startswith("0001")]
        return evaluated if len(evaluated) == len(rules) else []

    evaluated = await poll(rules_evaluated, 15)
    assert len(evaluated) == len(rules), "Prometheus did not evaluate every rule of rules.yml"
    unhealthy = {r["name"]: r.get("lastError") for r in evaluated if r["health"] != "ok"}
    assert not unhealthy, unhealthy

    # The exposition passes promtool's linter.
    async with prom.session.get(f"http://127.0.0.1:{web_port}/metrics") as response:
        exposition = await response.read()
    assert b"reviewstream_pii_redactions_total{" in exposition and b"gen_ai_client_token_usage_bucket{" in exposition
    checked = await asyncio.to_thread(promtool, "check", "metrics", stdin=exposition)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert worker.poll() is None
