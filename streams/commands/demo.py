"""`reviewstream demo`: the whole pipeline on this machine — local Kafka, a worker, sample reviews, results live.

With `--once` it exits after every sample review has come out as an insight or a dead letter (and a few more seconds
for the alerts and marketing messages the worker decides on its timer), printing a summary; the exit status says
whether everything was accounted for.
"""

from __future__ import annotations

import collections
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp
import orjson
from aiokafka import AIOKafkaConsumer

from models.bounds import FieldBounds
from models.click import parse_click
from models.errors import InvalidEvent
from models.review import parse_review
from streams.commands.replay import read_records, replay_file
from streams.security.sealing import new_key_spec
from streams.settings import PROJECT_ROOT, Settings
from streams.topics import ensure_topics

__all__ = ["DemoResult", "run_demo"]

SAMPLE = PROJECT_ROOT / "data" / "sample_reviews.jsonl"
SAMPLE_CLICKS = PROJECT_ROOT / "data" / "sample_clickstream.jsonl"


@dataclass
class DemoResult:
    expected_insights: int = 0
    expected_dead_letters: int = 0
    expected_profiles: set[str] = field(default_factory=set)
    insights: dict[str, dict[str, object]] = field(default_factory=dict)
    dead_letters: list[dict[str, object]] = field(default_factory=list)
    profiles: dict[str, dict[str, Any]] = field(default_factory=dict)
    windows: dict[str, dict[str, Any]] = field(default_factory=dict)
    alerts: dict[str, dict[str, Any]] = field(default_factory=dict)
    messages: dict[str, dict[str, Any]] = field(default_factory=dict)
    tickets: dict[str, dict[str, Any]] = field(default_factory=dict)
    # Profiles read from the worker's tables because this run's replay did not change them enough to publish them.
    profiles_from_tables: int = 0
    seconds: float = 0.0

    @property
    def complete(self) -> bool:
        return (len(self.insights) >= self.expected_insights
                and len(self.dead_letters) >= self.expected_dead_letters
                and self.expected_profiles <= self.profiles.keys())


def _expected_clicks(clicks: Path) -> tuple[set[str], int]:
    users: set[str] = set()
    invalid = 0
    for value in read_records(clicks):
        try:
            users.add(parse_click(value).user_id)
        except InvalidEvent:
            invalid += 1
    return users, invalid


def _expected(sample: Path, bounds: FieldBounds) -> tuple[set[str], int]:
    valid: set[str] = set()
    invalid = 0
    for value in read_records(sample):
        try:
            valid.add(parse_review(value, bounds=bounds).review_id)
        except InvalidEvent:
            invalid += 1
    return valid, invalid


def _start_kafka(settings: Settings) -> None:
    port = settings.kafka().servers[0].rsplit(":", 1)[-1]
    env = {**os.environ, "KAFKA_PORT": port}
    subprocess.run([str(PROJECT_ROOT / "deploy" / "kafka" / "kafka.sh"), "up"], check=True, env=env)


def _web_port(preferred: int) -> int:
    """The configured web port if free, else any free one: a worker the user already runs keeps its port."""
    with socket.socket() as probe:
        if probe.connect_ex(("127.0.0.1", preferred)) != 0:
            return preferred
    with socket.socket() as free:
        free.bind(("127.0.0.1", 0))
        return int(free.getsockname()[1])


def _demo_datadir(settings: Settings) -> Path:
    """Table state of the demo's worker, one folder per broker: RocksDB files that remember another broker's
    changelog offsets make Faust refuse to start (ConsistencyError). `kafka.sh reset` removes it with the broker."""
    port = settings.kafka().servers[0].rsplit(":", 1)[-1]
    return PROJECT_ROOT / ".local" / f"kafka-{port}" / "demo-worker-data"


def demo_secret(name: str, make: Callable[[], str]) -> str:
    """A secret of the demo's worker, made once and kept in .local/ (owner-only), unless the user configured one:
    the API token of the profile views, the dead-letter sealing key. Never printed."""
    path = PROJECT_ROOT / ".local" / f"demo-{name}"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.touch(mode=0o600)
        path.write_text(make())
    return path.read_text().strip()


def _start_worker(log_path: Path, web_port: int, datadir: Path, secrets: dict[str, str]) -> subprocess.Popen[bytes]:
    log_path.parent.mkdir(parents=True, exist_ok=True)
    # The sample spans a few days with a review every 47 minutes: daily windows show trends, hourly ones don't.
    # Marketing triggers are looked for every 2 s instead of 30 s, so the demo's messages show up while it runs.
    env = {"REVIEWSTREAM_WINDOW_SIZE_S": "86400", "REVIEWSTREAM_WINDOW_STEP_S": "86400",
           "REVIEWSTREAM_TIMER_TICK_S": "2", **secrets, **os.environ, "REVIEWSTREAM_DATADIR": str(datadir)}
    with log_path.open("ab") as log:
        return subprocess.Popen(
            [sys.executable, "-m", "streams", "worker", "--loglevel", "warning", "--web-port", str(web_port)],
            stdout=log, stderr=subprocess.STDOUT, cwd=PROJECT_ROOT, start_new_session=True, env=env,
        )


def _stop_worker(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def _show_insight(data: dict[str, object]) -> str:
    text = str(data.get("summary", ""))[:70]
    issues = ",".join(map(str, data.get("issues") or [])) or "-"  # type: ignore[call-overload]
    flag = " DEGRADED" if data.get("degraded") else ""
    return (f"insight  {data['review_id']:<10} {data.get('language', '?'):<3} {data['sentiment']:<8} "
            f"{float(data['sentiment_score']):+.2f}  intent={data['intent']:<14} urgency={data['urgency']:<8} "  # type: ignore[arg-type]
            f"issues={issues:<18} {text}{flag}")


def _show_profile(data: dict[str, Any]) -> str:
    cart = sum(line["qty"] for line in (data.get("cart") or {}).values())
    interests = ",".join(sorted(data.get("category_interest") or {}, key=lambda k: -data["category_interest"][k])[:2])
    return (f"profile  {data['user_id']:<10} segment={data.get('segment') or '-':<11} orders={data['orders']:<3} "
            f"spend={data['spend']:>8.2f}  cart={cart:<3} reviews={data['review_count']:<3} "
            f"sentiment={data.get('mean_sentiment') or 0:+.2f}  interests={interests or '-'}")


def _show_window(data: dict[str, Any]) -> str:
    counts = data.get("counts") or {}
    start = datetime.fromtimestamp(data["window_start"], UTC).strftime("%Y-%m-%d %H:%M")
    aspects = sorted((data.get("aspects") or {}).items(), key=lambda kv: -kv[1]["count"])[:3]
    top = ", ".join(f"{name}({a['count']})" for name, a in aspects) or "-"
    return (f"window   {data['product_id']:<14} {start}  n={data['n']:<3} +{counts.get('positive', 0)} "
            f"-{counts.get('negative', 0)} ~{counts.get('mixed', 0) + counts.get('neutral', 0)}  "
            f"mean={data['mean_score']:+.2f}  aspects: {top}")


def _show_alert(data: dict[str, Any]) -> str:
    return (f"alert    {data['status']:<8} {data['severity']:<8} {data['kind']:<16} {data['subject_type']} "
            f"{data['subject_id']:<14} {str(data.get('message', ''))[:90]}")


def _show_message(data: dict[str, Any]) -> str:
    return (f"message  {data['kind']:<14} {data['user_id']:<10} {data['language']:<3} ({data['generated_by']}) "
            f"{data['subject']!r}: {str(data['body'])[:80]}")


def _summary(result: DemoResult) -> str:
    sentiments = collections.Counter(str(i["sentiment"]) for i in result.insights.values())
    languages = collections.Counter(str(i.get("language")) for i in result.insights.values())
    intents = collections.Counter(str(i["intent"]) for i in result.insights.values())
    reasons = collections.Counter(str(d["reason"]) for d in result.dead_letters)
    lines = [
        "",
        "── summary " + "─" * 60,
        f"insights:      {len(result.insights)} of {result.expected_insights} expected",
        f"dead letters:  {len(result.dead_letters)} of {result.expected_dead_letters} expected",
        f"sentiment:     {dict(sentiments.most_common())}",
        f"language:      {dict(languages.most_common())}",
        f"intent:        {dict(intents.most_common())}",
        f"dead letters:  {dict(reasons.most_common())}",
        f"profiles:      {len(result.profiles)} users ({len(result.expected_profiles)} expected), segments "
        f"{dict(collections.Counter(str(p.get('segment')) for p in result.profiles.values()).most_common())}",
        f"windows:       {len(result.windows)} product sentiment windows",
        f"alerts:        {dict(collections.Counter(a['kind'] + ':' + a['status'] for a in result.alerts.values()))}",
        f"messages:      {dict(collections.Counter(str(m['kind']) for m in result.messages.values()))}",
        f"support queue: {len(result.tickets)} urgent insights",
        f"time:          {result.seconds:.1f}s",
        "result:        " + ("complete: every sample event accounted for" if result.complete else "INCOMPLETE"),
    ]
    if result.profiles_from_tables:
        lines.append(f"note:          this broker had seen the sample before: the folds skip events they have "
                     f"seen, so a replay publishes few profiles ({result.profiles_from_tables} were read from the "
                     f"worker's tables) and no new window, alert or message; `deploy/kafka/kafka.sh reset` (same "
                     f"KAFKA_PORT) starts afresh")
    return "\n".join(lines)


def _events_done(result: DemoResult) -> bool:
    return len(result.insights) >= result.expected_insights and len(result.dead_letters) >= result.expected_dead_letters


async def _fetch_missing_profiles(result: DemoResult, web_port: int, token: str) -> None:
    async with aiohttp.ClientSession(headers={"Authorization": f"Bearer {token}"}) as session:
        for user_id in sorted(result.expected_profiles - result.profiles.keys()):
            try:
                async with session.get(f"http://127.0.0.1:{web_port}/profiles/{user_id}/") as response:
                    if response.status == 200:
                        result.profiles[user_id] = (await response.json())["profile"]
                        result.profiles_from_tables += 1
            except aiohttp.ClientError:
                return


async def run_demo(settings: Settings, *, once: bool, sample: Path = SAMPLE, clicks: Path | None = SAMPLE_CLICKS,
                   timeout_s: float = 300.0) -> DemoResult:
    _start_kafka(settings)
    await ensure_topics(settings)
    valid_ids, invalid = _expected(sample, settings.field_bounds())
    click_users, invalid_clicks = _expected_clicks(clicks) if clicks else (set(), 0)
    result = DemoResult(expected_insights=len(valid_ids), expected_dead_letters=invalid + invalid_clicks,
                        expected_profiles=click_users)
    outputs = [settings.insights_topic, settings.dead_letters_topic, settings.profiles_topic,
               settings.product_sentiment_topic, settings.alerts_topic, settings.marketing_topic,
               settings.support_queue_topic]
    web_port = _web_port(settings.web_port)
    token = settings.api_token.get_secret_value() if settings.api_token else \
        demo_secret("api-token", lambda: secrets.token_urlsafe(32))
    demo_secrets = {"REVIEWSTREAM_API_TOKEN": token}
    if settings.dead_letter_keyring() is None:  # letters the demo shows can be opened and redriven
        demo_secrets["REVIEWSTREAM_DEAD_LETTER_KEYS"] = demo_secret("dead-letter-keys",
                                                                    lambda: new_key_spec("demo"))
    worker = _start_worker(PROJECT_ROOT / ".local" / "demo-worker.log", web_port, _demo_datadir(settings),
                           demo_secrets)
    connection = settings.kafka()
    consumer = AIOKafkaConsumer(*outputs, **connection.client_kwargs(), group_id=None,
                                enable_auto_commit=False, auto_offset_reset="earliest")
    started = time.monotonic()
    # Only what this run produces counts: a second demo run must not be satisfied by the first run's output.
    since_ms = int(time.time() * 1000)
    try:
        await consumer.start()
        if clicks:
            sent_clicks = await replay_file(clicks, connection=connection, topic=settings.clickstream_topic,
                                            progress=True)
            print(f"replayed {sent_clicks} clickstream events of {len(click_users)} users ({invalid_clicks} "
                  f"malformed) into '{settings.clickstream_topic}'", flush=True)
        sent = await replay_file(sample, connection=connection, topic=settings.reviews_topic, progress=True)
        print(f"replayed {sent} sample events ({len(valid_ids)} valid reviews, {invalid} malformed) "
              f"into '{settings.reviews_topic}'; worker log: .local/demo-worker.log; "
              f"metrics: http://127.0.0.1:{web_port}/metrics", flush=True)
        deadline = time.monotonic() + timeout_s
        # With --once, after the last event the demo keeps reading a few more trigger rounds: time-based marketing
        # triggers (abandoned carts) fire on the worker's ticks, not on an event.
        linger_until: float | None = None
        while time.monotonic() < deadline:
            if once and result.complete:
                linger_until = linger_until or time.monotonic() + 8.0
                if time.monotonic() >= linger_until:
                    break
            if worker.poll() is not None:
                print(f"the worker exited with status {worker.returncode}; see .local/demo-worker.log", file=sys.stderr)
                break
            batches = await consumer.getmany(timeout_ms=500)
            if not batches and once and _events_done(result):
                # A replay of clicks already folded changes little, so not every profile is published again:
                # the rest are read from the worker's tables.
                await _fetch_missing_profiles(result, web_port, token)
            for tp, records in batches.items():
                for record in records:
                    if record.timestamp < since_ms:
                        continue
                    data = orjson.loads(record.value) if record.value else {}
                    if tp.topic == settings.insights_topic:
                        if data.get("review_id") in valid_ids:
                            result.insights[str(data["review_id"])] = data
                        print(_show_insight(data), flush=True)
                    elif tp.topic == settings.profiles_topic:
                        result.profiles[str(data["user_id"])] = data
                        print(_show_profile(data), flush=True)
                    elif tp.topic == settings.product_sentiment_topic:
                        result.windows[f"{data['product_id']}:{data['window_start']}"] = data
                        print(_show_window(data), flush=True)
                    elif tp.topic == settings.alerts_topic:
                        result.alerts[f"{data['alert_id']}:{data['status']}"] = data
                        print(_show_alert(data), flush=True)
                    elif tp.topic == settings.marketing_topic:
                        result.messages[str(data["message_id"])] = data
                        print(_show_message(data), flush=True)
                    elif tp.topic == settings.support_queue_topic:
                        result.tickets[str(data["review_id"])] = data
                        print(f"support  {data['review_id']:<10} urgency={data['urgency']:<8} "
                              f"reply: {str(data.get('suggested_reply') or '')[:90]}", flush=True)
                    else:
                        result.dead_letters.append(data)
                        print(f"dead     {data.get('reason', '?'):<15} {str(data.get('detail', ''))[:100]}", flush=True)
    finally:
        result.seconds = time.monotonic() - started
        _stop_worker(worker)
        await consumer.stop()
    print(_summary(result), flush=True)
    return result
