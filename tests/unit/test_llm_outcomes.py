"""One error tree, one map from an error to its metric label: the gateway and the review processor use the same words,
and they are the words the alert rules and the dashboard match on."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import orjson
import pytest
import yaml

from streams.llm.analyzer import ReviewText
from streams.llm.errors import (
    OUTCOMES,
    CircuitOpen,
    InvalidReply,
    LLMError,
    LLMRateLimited,
    LLMTimeout,
    PermanentLLMError,
    TransientLLMError,
    outcome_of,
)
from streams.llm.gateway import GatewayConfig, LLMGateway
from streams.llm.mock_transport import ChatRequest, MockTransport
from streams.llm.transport import ChatReply
from streams.metrics import Metrics
from streams.review_processor import ReviewProcessor, SourceMessage
from tests.unit.fakes import FailingAnalyzer, FakeAnalyzer

ROOT = Path(__file__).resolve().parents[2]
ERRORS = [InvalidReply("prose"), TransientLLMError("503"), LLMRateLimited("429", 1.0), LLMTimeout("slow"),
          CircuitOpen("open"), PermanentLLMError("401")]


def test_every_error_class_has_a_documented_label() -> None:
    assert [outcome_of(e) for e in ERRORS] == ["invalid_reply", "server_error", "rate_limited", "timeout",
                                               "circuit_open", "rejected"]
    assert {outcome_of(e) for e in ERRORS} | {"ok"} == set(OUTCOMES)
    assert outcome_of(LLMError("?")) in OUTCOMES


def _exprs(node: Any) -> list[str]:
    """Every PromQL `expr` string in a parsed rules file or dashboard."""
    if isinstance(node, dict):
        own = [node["expr"]] if isinstance(node.get("expr"), str) else []
        return own + [e for v in node.values() for e in _exprs(v)]
    return [e for v in node for e in _exprs(v)] if isinstance(node, list) else []


def test_the_alert_rules_and_the_dashboard_match_on_labels_the_map_gives() -> None:
    rules = yaml.safe_load((ROOT / "deploy/prometheus/rules.yml").read_text(encoding="utf-8"))
    dashboard = orjson.loads((ROOT / "deploy/grafana/dashboards/reviewstream.json").read_bytes())
    exprs = _exprs(rules) + _exprs(dashboard)
    matched = {word for expr in exprs for group in re.findall(r'outcome(?:!=|=~|!~|=)"([a-z_|]+)"', expr)
               for word in group.split("|")}
    assert matched, "the rules match on outcome labels"
    assert matched <= set(OUTCOMES)
    runbook_words = {"timeout", "server_error", "invalid_reply", "rejected"}
    assert runbook_words <= set(OUTCOMES)


@pytest.mark.parametrize("error", ERRORS[:4] + ERRORS[5:], ids=lambda e: type(e).__name__)
async def test_the_gateway_and_the_review_processor_label_a_failure_alike(error: LLMError) -> None:
    def fail(request: ChatRequest) -> ChatReply:
        raise error

    metrics = Metrics()
    gateway = LLMGateway(MockTransport(fail), GatewayConfig(max_attempts=1, batch_max_items=1, deadline_s=5),
                         metrics=metrics)
    if isinstance(error, LLMRateLimited):
        # A 429 is retried after the cool-down, never given up: the request's label is what matters here.
        gateway.config = GatewayConfig(max_attempts=1, batch_max_items=1, deadline_s=0.2)
    with pytest.raises(LLMError):
        await gateway.analyze(ReviewText("The kettle leaks"))
    await gateway.aclose()
    sample = metrics.registry.get_sample_value
    assert (sample("reviewstream_llm_requests_total", {"model": "mock", "outcome": outcome_of(error)}) or 0) >= 1

    processor = ReviewProcessor(FailingAnalyzer(error), fallback=FakeAnalyzer(name="local"), metrics=metrics)
    review = {"review_id": "r1", "user_id": "u1", "product_id": "p1", "text": "The kettle leaks"}
    await processor.process(SourceMessage(value=orjson.dumps(review), key=None, topic="reviews"))
    assert sample("reviewstream_analyzer_requests_total", {"analyzer": "failing", "outcome": outcome_of(error)}) == 1
