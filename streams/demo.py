"""`reviewstream demo`: the whole pipeline on this machine — local Kafka, a worker, sample reviews, results live.

With `--once` it exits after every sample review has come out as an insight or a dead letter, printing a summary;
the exit status says whether everything was accounted for.
"""

from __future__ import annotations

import collections
import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import orjson
from aiokafka import AIOKafkaConsumer

from models.errors import InvalidEvent
from models.review import parse_review
from streams.replay import read_records, replay_file
from streams.settings import PROJECT_ROOT, Settings
from streams.topics import bootstrap_servers, ensure_topics

__all__ = ["DemoResult", "run_demo"]

SAMPLE = PROJECT_ROOT / "data" / "sample_reviews.jsonl"


@dataclass
class DemoResult:
    expected_insights: int = 0
    expected_dead_letters: int = 0
    insights: dict[str, dict[str, object]] = field(default_factory=dict)
    dead_letters: list[dict[str, object]] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def complete(self) -> bool:
        return len(self.insights) >= self.expected_insights and len(self.dead_letters) >= self.expected_dead_letters


def _expected(sample: Path, max_text_chars: int) -> tuple[set[str], int]:
    valid: set[str] = set()
    invalid = 0
    for value in read_records(sample):
        try:
            valid.add(parse_review(value, max_text_chars=max_text_chars).review_id)
        except InvalidEvent:
            invalid += 1
    return valid, invalid


def _start_kafka(settings: Settings) -> None:
    port = bootstrap_servers(settings.broker).split(",")[0].rsplit(":", 1)[-1]
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


def _start_worker(log_path: Path, web_port: int) -> subprocess.Popen[bytes]:
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with log_path.open("ab") as log:
        return subprocess.Popen(
            [sys.executable, "-m", "streams.cli", "worker", "--loglevel", "warning", "--web-port", str(web_port)],
            stdout=log, stderr=subprocess.STDOUT, cwd=PROJECT_ROOT, start_new_session=True,
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
        f"time:          {result.seconds:.1f}s",
        "result:        " + ("complete: every sample event accounted for" if result.complete else "INCOMPLETE"),
    ]
    return "\n".join(lines)


async def run_demo(settings: Settings, *, once: bool, sample: Path = SAMPLE, timeout_s: float = 300.0) -> DemoResult:
    _start_kafka(settings)
    await ensure_topics(settings)
    valid_ids, invalid = _expected(sample, settings.max_text_chars)
    result = DemoResult(expected_insights=len(valid_ids), expected_dead_letters=invalid)
    outputs = [settings.insights_topic, settings.dead_letters_topic]
    web_port = _web_port(settings.web_port)
    worker = _start_worker(PROJECT_ROOT / ".local" / "demo-worker.log", web_port)
    consumer = AIOKafkaConsumer(*outputs, bootstrap_servers=bootstrap_servers(settings.broker), group_id=None,
                                enable_auto_commit=False, auto_offset_reset="earliest")
    started = time.monotonic()
    # Only what this run produces counts: a second demo run must not be satisfied by the first run's output.
    since_ms = int(time.time() * 1000)
    try:
        await consumer.start()
        sent = await replay_file(sample, broker=settings.broker, topic=settings.reviews_topic, progress=True)
        print(f"replayed {sent} sample events ({len(valid_ids)} valid reviews, {invalid} malformed) "
              f"into '{settings.reviews_topic}'; worker log: .local/demo-worker.log; "
              f"metrics: http://127.0.0.1:{web_port}/metrics", flush=True)
        deadline = time.monotonic() + timeout_s
        while (not once or not result.complete) and time.monotonic() < deadline:
            if worker.poll() is not None:
                print(f"the worker exited with status {worker.returncode}; see .local/demo-worker.log", file=sys.stderr)
                break
            batches = await consumer.getmany(timeout_ms=500)
            for tp, records in batches.items():
                for record in records:
                    if record.timestamp < since_ms:
                        continue
                    data = orjson.loads(record.value) if record.value else {}
                    if tp.topic == settings.insights_topic:
                        if data.get("review_id") in valid_ids:
                            result.insights[str(data["review_id"])] = data
                        print(_show_insight(data), flush=True)
                    else:
                        result.dead_letters.append(data)
                        print(f"dead     {data.get('reason', '?'):<15} {str(data.get('detail', ''))[:100]}", flush=True)
    finally:
        result.seconds = time.monotonic() - started
        _stop_worker(worker)
        await consumer.stop()
    print(_summary(result), flush=True)
    return result
