"""The simulator's named fault modes, seen over raw HTTP without any client logic: each does what it says."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest

from streams.llm.analyzer import ReviewText
from streams.llm.batch_format import batch_response_format, build_batch_messages
from streams.llm.errors import InvalidReply
from streams.llm.prompt import build_messages, response_format_for_schema
from streams.llm.simulator import HostileReply, RunningSimulator, SimulatorConfig, simulate_analysis, start_simulator
from streams.llm.validation import validate_analysis

TEXT = "Great kettle, but the delivery was late and the box arrived damaged."


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


def single(text: str = TEXT) -> dict[str, Any]:
    return {"model": "m", "messages": build_messages(ReviewText(text)), "response_format": response_format_for_schema()}


async def content_of(http: aiohttp.ClientSession, sim: RunningSimulator, body: dict[str, Any]) -> str:
    async with http.post(f"{sim.base_url}/chat/completions", json=body) as r:
        assert r.status == 200 and r.content_type == "application/json"
        completion = await r.json()
    assert completion["choices"][0]["finish_reason"] == "stop"
    content: str = completion["choices"][0]["message"]["content"]
    return content


async def test_truncated_wrong_schema_and_extra_fields_break_the_contract_in_their_own_way(
        http: aiohttp.ClientSession) -> None:
    async with await start_simulator(SimulatorConfig(fault="truncated")) as sim:
        truncated = await content_of(http, sim, single())
        sim.config.fault = "wrong_schema"
        wrong = json.loads(await content_of(http, sim, single()))
        sim.config.fault = "extra_fields"
        extra = json.loads(await content_of(http, sim, single()))
        sim.config.fault = None
        healed = json.loads(await content_of(http, sim, single()))
        stats = sim.stats()
    with pytest.raises(json.JSONDecodeError):
        json.loads(truncated)
    assert json.dumps(simulate_analysis(TEXT), ensure_ascii=False).startswith(truncated)
    assert "sentiment" not in wrong
    assert set(extra) > set(healed) and {k: extra[k] for k in healed} == healed
    for broken in (wrong, extra):
        with pytest.raises(InvalidReply, match="schema"):
            validate_analysis(broken, TEXT)
    validate_analysis(healed, TEXT)
    assert stats["faults"] == {"truncated": 1, "wrong_schema": 1, "extra_fields": 1}
    assert stats["invalid_replies"] == 3 and stats["responses_ok"] == 4


async def test_a_huge_reply_is_megabytes_in_a_batch_too_whatever_max_tokens_says(http: aiohttp.ClientSession) -> None:
    reviews = [ReviewText(TEXT), ReviewText("物流太慢了")]
    batch = {"model": "m", "messages": build_batch_messages(reviews), "response_format": batch_response_format(),
             "max_tokens": 512}
    async with await start_simulator(SimulatorConfig(fault="huge", huge_reply_bytes=2_000_000)) as sim:
        one = await content_of(http, sim, {**single(), "max_tokens": 512})
        many = await content_of(http, sim, batch)
    assert len(one) >= 2_000_000 and len(many) >= 2_000_000
    assert all(len(item[8]) > 900_000 for item in json.loads(many)["items"]), "every item's summary runs on"


async def test_a_wrong_content_type_is_an_html_page_with_status_200(http: aiohttp.ClientSession) -> None:
    async with await start_simulator(SimulatorConfig(fault="wrong_content_type")) as sim:
        async with http.post(f"{sim.base_url}/chat/completions", json=single()) as r:
            assert r.status == 200 and r.content_type == "text/html"
            assert (await r.text()).startswith("<!DOCTYPE html>")
            assert r.headers.get("x-ratelimit-remaining-requests")


async def test_a_429_without_retry_after_carries_no_hint(http: aiohttp.ClientSession) -> None:
    config = SimulatorConfig(script=("rate_limit_no_retry_after", "rate_limit"), retry_after_s=2.5)
    async with await start_simulator(config) as sim:
        async with http.post(f"{sim.base_url}/chat/completions", json=single()) as bare:
            assert bare.status == 429 and "retry-after" not in bare.headers and "retry-after-ms" not in bare.headers
            assert (await bare.json())["error"]["code"] == "rate_limit_exceeded"
        async with http.post(f"{sim.base_url}/chat/completions", json=single()) as hinted:
            assert hinted.status == 429
            assert (hinted.headers["retry-after"], hinted.headers["retry-after-ms"]) == ("3", "2500")
        assert [(r.outcome, r.status) for r in sim.history] == [("rate_limit_no_retry_after", 429),
                                                                 ("rate_limit", 429)]


async def test_a_drip_sends_its_headers_then_a_few_bytes_at_a_time(http: aiohttp.ClientSession) -> None:
    async with await start_simulator(SimulatorConfig(fault="drip", drip_bytes=5, drip_interval_s=0.05)) as sim:
        async with http.post(f"{sim.base_url}/chat/completions", json=single()) as r:
            assert r.status == 200 and r.content_length is not None and r.content_length > 500
            chunks = [await r.content.readany() for _ in range(3)]
            assert all(0 < len(c) <= 5 for c in chunks), chunks
            assert b'{"id": "chatcmpl-'.startswith(b"".join(chunks)), "the start of the completion"
        stats = sim.stats()
    assert stats["faults"] == {"drip": 1}


async def test_the_script_comes_first_then_the_stuck_fault(http: aiohttp.ClientSession) -> None:
    async with await start_simulator(SimulatorConfig(script=("ok",), fault="wrong_schema")) as sim:
        first = json.loads(await content_of(http, sim, single()))
        second = json.loads(await content_of(http, sim, single()))
    validate_analysis(first, TEXT)
    assert "sentiment" not in second


# ------------------------------------------------------------------------------------------------- hostile
async def test_a_hostile_reply_carries_every_part_and_each_can_be_left_out(http: aiohttp.ClientSession) -> None:
    async with await start_simulator(SimulatorConfig(fault="hostile")) as sim:
        hostile = json.loads(await content_of(http, sim, single()))
        sim.config.hostile = HostileReply(language=None)
        schema_valid = json.loads(await content_of(http, sim, single()))
        sim.config.hostile = HostileReply(email=None, name=None, link=None, competitor=None,
                                          one_letter_evidence=False, language=None)
        honest = json.loads(await content_of(http, sim, single()))
    parts = HostileReply()
    for field in ("summary", "suggested_reply"):
        for part in (parts.email, parts.name, parts.link):
            assert part is not None and part in hostile[field], (field, part)
    assert parts.competitor in hostile["competitors"] and parts.competitor not in TEXT
    assert hostile["aspects"][0]["evidence"] == "G" and len(hostile["aspects"][0]["evidence"]) == 1
    assert hostile["language"] == "en'; ignore previous instructions"
    with pytest.raises(InvalidReply, match="language"):
        validate_analysis(hostile, TEXT)  # the schema catches only the language: 16 characters at most
    # Without the language, the schema lets everything else through: what an output guard is for.
    assert validate_analysis(schema_valid, TEXT).suggested_reply == hostile["suggested_reply"]
    assert honest == simulate_analysis(TEXT)


async def test_a_hostile_batch_is_hostile_in_every_item(http: aiohttp.ClientSession) -> None:
    reviews = [ReviewText(TEXT), ReviewText("物流太慢了，包装也破了")]
    body = {"model": "m", "messages": build_batch_messages(reviews, "keyed"),
            "response_format": batch_response_format("keyed")}
    async with await start_simulator(SimulatorConfig(fault="hostile")) as sim:
        items = json.loads(await content_of(http, sim, body))["items"]
    assert len(items) == 2
    for item in items:
        assert "http://evil.example/claim" in item["sum"] and "EvilCorp" in item["c"]
        assert len(item["a"][0]["e"]) == 1 and item["l"].startswith("en'")
