"""The Faust application: settings, topics, web pages (/metrics, /health). Agents live in `agents/`.

Run it with `reviewstream worker` (or `faust -A streams.app worker`).
"""

from __future__ import annotations

import faust
from faust.web import Request, Response, View
from prometheus_client import generate_latest

from models.dead_letter import DeadLetter
from models.insight import ReviewInsight
from streams.metrics import Metrics
from streams.settings import Settings

__all__ = ["app", "dead_letters_topic", "insights_topic", "metrics", "reviews_topic", "settings"]

settings = Settings()
metrics = Metrics()

app = faust.App(
    settings.app_id,
    broker=settings.broker,
    # Faust would otherwise read bare variables such as WEB_PORT, which Kubernetes sets for a service named `web`.
    env_prefix="REVIEWSTREAM_FAUST_",
    autodiscover=False,
    origin="streams.app",
    datadir=str(settings.datadir),
    store="memory://",
    web_enabled=True,
    web_host=settings.web_host,
    web_bind=settings.web_host,
    web_port=settings.web_port,
    web_in_thread=False,
    topic_partitions=settings.topic_partitions,
    topic_replication_factor=settings.topic_replication,
    # A new consumer group (first deployment, or the tests) starts from the beginning: no review is skipped.
    consumer_auto_offset_reset="earliest",
    producer_acks=-1,
    key_serializer="raw",
    value_serializer="json",
    web_tables_enabled=False,
)

# Inputs are read as raw bytes so that the agent, not Faust's decoder, decides what is malformed and dead-letters it.
reviews_topic = app.topic(
    settings.reviews_topic, key_type=bytes, value_type=bytes, key_serializer="raw", value_serializer="raw",
    partitions=settings.topic_partitions,
)
insights_topic = app.topic(
    settings.insights_topic, key_serializer="raw", value_type=ReviewInsight, value_serializer="json",
    partitions=settings.topic_partitions,
)
dead_letters_topic = app.topic(
    settings.dead_letters_topic, key_serializer="raw", value_type=DeadLetter, value_serializer="json",
    partitions=settings.topic_partitions,
)


@app.page("/metrics")
class MetricsView(View):
    async def get(self, request: Request) -> Response:
        return self.bytes(generate_latest(metrics.registry), content_type="text/plain; version=0.0.4")


@app.page("/health")
class HealthView(View):
    async def get(self, request: Request) -> Response:
        assigned = sorted(f"{tp.topic}:{tp.partition}" for tp in app.consumer.assignment()) if app.consumer else []
        ready = bool(assigned) and not app.rebalancing
        body = {"status": "ready" if ready else "starting", "assigned": assigned}
        return self.json(body, status=200 if ready else 503)
