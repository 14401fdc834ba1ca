"""The simulator's HTTP server: OpenAI's chat-completions API over real HTTP (aiohttp), for tests and benchmarks.

    sim = await start_simulator(SimulatorConfig(rpm=60, latency_median_s=0.2, latency_p99_s=1.5, seed=7))
    client = openai.AsyncOpenAI(base_url=sim.base_url, api_key="anything")  # any key unless config.api_key is set
    ...
    print(sim.stats()["rate_limited_429"])
    await sim.close()

Endpoints: `POST /v1/chat/completions`, `GET /v1/models`, `GET /health`, `GET /stats` (JSON counters).

Each chat request: the API key is checked (401 like OpenAI's), the body parsed (400 for a bad one), the answer
computed (`answer.answer_chat`), the rate limit charged with the answer's prompt and completion tokens
(`rate_limit.SlidingWindowLimiter`: 429 with `retry-after`, `retry-after-ms` and an OpenAI error body), then the
outcome the fault plan gives (`faults.FaultPlan`) is played: the answer after the simulated latency, a 500/503, a
request held for `timeout_hold_s` (far beyond any client timeout), a reply that breaks the JSON contract
(`broken_replies`), a slow drip (`slow_reply`), an HTML page, or a hostile reply (`hostile`). A `max_tokens` below
the answer's tokens cuts the answer there, with `finish_reason: "length"`, like a real server (the "huge" fault
ignores it). Every chat response carries the `x-ratelimit-*` headers; `RunningSimulator.history` records when each
request arrived and what it got.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import dataclasses
import itertools
import json
import logging
import math
import time
from dataclasses import dataclass, field
from typing import Any, Final

from aiohttp import web

from streams.llm.prompt import estimate_text_tokens
from streams.llm.simulator import broken_replies
from streams.llm.simulator.answer import Answer, answer_chat
from streams.llm.simulator.config import Outcome, SimulatorConfig
from streams.llm.simulator.faults import FaultPlan
from streams.llm.simulator.rate_limit import SlidingWindowLimiter, ratelimit_headers
from streams.llm.simulator.slow_reply import drip

__all__ = ["RequestRecord", "RunningSimulator", "start_simulator"]

log = logging.getLogger(__name__)

# Outcomes whose 200 reply breaks the JSON contract (counted as invalid replies).
_BROKEN: Final = frozenset({"invalid", "truncated", "wrong_schema", "extra_fields", "huge"})


@dataclass(frozen=True, slots=True)
class RequestRecord:
    """One chat request as the server saw it: when it arrived (time.monotonic), its outcome, the status sent."""

    arrived_at: float
    outcome: str
    status: int


def _error_body(message: str, type_: str, code: str | None = None, param: str | None = None) -> dict[str, Any]:
    return {"error": {"message": message, "type": type_, "param": param, "code": code}}


@dataclass
class _Stats:
    requests_received: int = 0
    requests_accepted: int = 0
    responses_ok: int = 0
    rate_limited_429: int = 0
    server_errors_5xx: int = 0
    timeouts: int = 0
    invalid_replies: int = 0
    truncated: int = 0
    bad_requests_4xx: int = 0
    batch_requests: int = 0
    batch_items: int = 0
    prompt_tokens_accepted: int = 0
    completion_tokens_accepted: int = 0
    first_accepted_at: float | None = None
    last_accepted_at: float | None = None
    in_flight: int = 0
    # Requests by the named fault modes of `SimulatorConfig.fault` (drip, huge, hostile, ...) they got.
    faults: dict[str, int] = field(default_factory=dict)




class _Simulator:
    def __init__(self, config: SimulatorConfig) -> None:
        self.config = config
        self.stats = _Stats()
        self.limiter = SlidingWindowLimiter(config.rpm, config.tpm, config.window_s)
        self.faults = FaultPlan(config)
        self.requests: collections.deque[dict[str, Any]] = collections.deque(maxlen=max(1, config.record_requests))
        self.history: collections.deque[RequestRecord] = collections.deque(maxlen=max(1, config.record_requests))
        self.closing = asyncio.Event()
        self._ids = itertools.count(1)


    def _sync_limits(self) -> None:
        # The limits may have been changed on the live config (a test or a benchmark phase).
        self.limiter.rpm, self.limiter.tpm = max(1, self.config.rpm), max(1, self.config.tpm)

    def _ratelimit_headers(self, now: float) -> dict[str, str]:
        return ratelimit_headers(self.limiter.state(now))

    def _unauthorized(self, request: web.Request) -> web.Response | None:
        expected = self.config.api_key
        if expected is None:
            return None
        auth = request.headers.get("Authorization", "")
        given = auth.removeprefix("Bearer ").strip()
        if given == expected:
            return None
        shown = given if self.config.echo_key_in_errors else (given[:3] + "*" * max(0, len(given) - 7) + given[-4:])
        body = _error_body(
            f"Incorrect API key provided: {shown}. You can find your API key at https://platform.openai.com.",
            "invalid_request_error",
            "invalid_api_key",
        )
        return web.json_response(body, status=401)

    async def chat_completions(self, request: web.Request) -> web.StreamResponse:
        stats = self.stats
        stats.requests_received += 1
        denied = self._unauthorized(request)
        if denied is not None:
            stats.bad_requests_4xx += 1
            return denied
        try:
            body = await request.json(loads=json.loads)
        except ValueError:
            stats.bad_requests_4xx += 1
            return web.json_response(_error_body("We could not parse the JSON body of your request.",
                                                 "invalid_request_error"), status=400)
        if not isinstance(body, dict) or not isinstance(body.get("messages"), list) or not body["messages"]:
            stats.bad_requests_4xx += 1
            return web.json_response(
                _error_body("'messages' is a required property and must be a non-empty array.",
                            "invalid_request_error", param="messages"),
                status=400,
            )
        self.requests.append(body)
        arrived = time.monotonic()
        answer = answer_chat(body["messages"], body.get("response_format"))
        outcome = self.faults.forced()
        self._sync_limits()
        if outcome in ("rate_limit", "rate_limit_no_retry_after"):
            wait: float | None = self.config.retry_after_s
        else:
            wait = self.limiter.try_acquire(answer.prompt_tokens + answer.completion_tokens, arrived)
        headers = self._ratelimit_headers(arrived)
        request_id = f"req_sim_{next(self._ids)}"
        headers["x-request-id"] = request_id
        if wait is not None:
            self._record(arrived, outcome or "rate_limit", 429)
            return self._rate_limited(body, headers, wait, hint=outcome != "rate_limit_no_retry_after")
        stats.requests_accepted += 1
        wall = time.time()
        stats.first_accepted_at = stats.first_accepted_at or wall
        stats.last_accepted_at = wall
        if answer.batch:
            stats.batch_requests += 1
            stats.batch_items += answer.items
        outcome = outcome or self.faults.draw()
        if outcome not in ("ok", "invalid", "error", "timeout"):
            stats.faults[outcome] = stats.faults.get(outcome, 0) + 1
        latency = self.faults.latency()
        stats.in_flight += 1
        try:
            if latency > 0:
                await asyncio.sleep(latency)  # simulated model time, not synchronisation
            if outcome == "timeout":
                self._record(arrived, outcome, 504)
                stats.timeouts += 1
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self.closing.wait(), self.config.timeout_hold_s)
                return web.json_response(_error_body("Gateway timeout.", "server_error"), status=504,
                                         headers=headers)
            if outcome == "error":
                stats.server_errors_5xx += 1
                status = self.faults.error_status()
                self._record(arrived, outcome, status)
                message = ("The server had an error while processing your request. Sorry about that!"
                           if status == 500 else "The engine is currently overloaded, please try again later.")
                return web.json_response(_error_body(message, "server_error"), status=status, headers=headers)
            self._record(arrived, outcome, 200)
            if outcome == "wrong_content_type":
                return web.Response(text=broken_replies.HTML_ERROR_PAGE, content_type="text/html", headers=headers)
            if outcome == "hostile":
                answer = answer_chat(body["messages"], body.get("response_format"), hostile=self.config.hostile)
            content, completion_tokens, finish_reason = self._content(outcome, answer, body)
            stats.responses_ok += 1
            stats.prompt_tokens_accepted += answer.prompt_tokens
            stats.completion_tokens_accepted += completion_tokens
            headers["openai-processing-ms"] = str(round(latency * 1000))
            completion = {
                "id": f"chatcmpl-{request_id}",
                "object": "chat.completion",
                "created": int(wall),
                "model": str(body.get("model") or self.config.model),
                "system_fingerprint": "fp_reviewstream_sim",
                "choices": [
                    {
                        "index": 0,
                        "message": {"role": "assistant", "content": content, "refusal": None},
                        "finish_reason": finish_reason,
                        "logprobs": None,
                    }
                ],
                "usage": {
                    "prompt_tokens": answer.prompt_tokens,
                    "completion_tokens": completion_tokens,
                    "total_tokens": answer.prompt_tokens + completion_tokens,
                },
            }
            if outcome == "drip":
                return await drip(request, json.dumps(completion, ensure_ascii=False).encode(), headers,
                                  chunk_bytes=self.config.drip_bytes, interval_s=self.config.drip_interval_s,
                                  closing=self.closing)
            return web.json_response(completion, headers=headers, dumps=lambda obj: json.dumps(obj, ensure_ascii=False))
        finally:
            stats.in_flight -= 1

    def _content(self, outcome: Outcome, answer: Answer, body: dict[str, Any]) -> tuple[str, int, str]:
        """(content, completion tokens, finish reason) of a 200 reply with this outcome."""
        content, valid = answer.content, answer.valid
        if valid is not None and outcome in _BROKEN:
            self.stats.invalid_replies += 1
            if outcome == "invalid":
                content = broken_replies.random_invalid(valid, answer.batch, self.faults.rng)
            elif outcome == "truncated":
                content = broken_replies.truncated(valid)
            elif outcome == "wrong_schema":
                content = broken_replies.wrong_schema(valid, answer.batch)
            elif outcome == "extra_fields":
                content = broken_replies.extra_fields(valid, answer.batch)
            else:
                # A runaway that ignores max_tokens; it bills what the answer would have cost.
                return broken_replies.huge(valid, answer.batch, self.config.huge_reply_bytes), \
                    answer.completion_tokens, "stop"
        completion_tokens = estimate_text_tokens(content)
        max_tokens = body.get("max_tokens") or body.get("max_completion_tokens")
        if isinstance(max_tokens, int) and 0 < max_tokens < completion_tokens:
            # Like a real server: the answer stops at the limit, mid-JSON, and says why.
            self.stats.truncated += 1
            return content[: max(1, len(content) * max_tokens // completion_tokens)], max_tokens, "length"
        return content, completion_tokens, "stop"

    def _rate_limited(self, body: dict[str, Any], headers: dict[str, str], wait: float, *,
                      hint: bool) -> web.Response:
        """A 429 like OpenAI's: an error body, and `retry-after` / `retry-after-ms` unless `hint` is False."""
        self.stats.rate_limited_429 += 1
        if hint:
            headers["retry-after"] = str(max(1, math.ceil(wait)))
            headers["retry-after-ms"] = str(max(1, math.ceil(wait * 1000)))
        message = (
            f"Rate limit reached for {body.get('model', self.config.model)} on requests per min (RPM) / tokens "
            f"per min (TPM): Limit {self.config.rpm} RPM, {self.config.tpm} TPM. Please try again in {wait:.3f}s."
        )
        return web.json_response(_error_body(message, "requests", "rate_limit_exceeded"), status=429, headers=headers)

    def _record(self, arrived: float, outcome: str, status: int) -> None:
        self.history.append(RequestRecord(arrived_at=arrived, outcome=outcome, status=status))

    async def models(self, _request: web.Request) -> web.Response:
        model = {"id": self.config.model, "object": "model", "created": 0, "owned_by": "reviewstream-simulator"}
        return web.json_response({"object": "list", "data": [model]})

    async def health(self, _request: web.Request) -> web.Response:
        return web.json_response({"status": "ok"})

    async def stats_view(self, _request: web.Request) -> web.Response:
        return web.json_response(self.snapshot())

    def snapshot(self) -> dict[str, Any]:
        return dataclasses.asdict(self.stats)


@dataclass
class RunningSimulator:
    """A started simulator: `base_url` for `openai.AsyncOpenAI(base_url=...)`, live `config`, `stats()`, `close()`."""

    host: str
    port: int
    _sim: _Simulator = field(repr=False)
    _runner: web.AppRunner = field(repr=False)

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def base_url(self) -> str:
        return f"{self.url}/v1"

    @property
    def config(self) -> SimulatorConfig:
        return self._sim.config

    @property
    def requests(self) -> list[dict[str, Any]]:
        """The most recent chat request bodies (up to `config.record_requests`), oldest first."""
        return list(self._sim.requests)

    @property
    def history(self) -> list[RequestRecord]:
        """The most recent chat requests that reached the rate limit (up to `config.record_requests`), oldest first."""
        return list(self._sim.history)

    def stats(self) -> dict[str, Any]:
        return self._sim.snapshot()

    async def close(self) -> None:
        self._sim.closing.set()  # releases requests held to simulate timeouts
        await self._runner.cleanup()

    async def __aenter__(self) -> RunningSimulator:
        return self

    async def __aexit__(self, *_exc: object) -> None:
        await self.close()


async def start_simulator(
    config: SimulatorConfig | None = None, host: str = "127.0.0.1", port: int = 0
) -> RunningSimulator:
    """Serve the simulator on `host:port` (0 picks a free port) until `close()`."""
    sim = _Simulator(config or SimulatorConfig())
    app = web.Application(client_max_size=32 * 1024 * 1024)
    app.router.add_post("/v1/chat/completions", sim.chat_completions)
    app.router.add_get("/v1/models", sim.models)
    app.router.add_get("/health", sim.health)
    app.router.add_get("/stats", sim.stats_view)
    # handler_cancellation: a client that gives up (timeout) frees its handler; short shutdown keeps tests fast.
    runner = web.AppRunner(app, access_log=None, handler_cancellation=True, shutdown_timeout=1.0)
    await runner.setup()
    site = web.TCPSite(runner, host, port)
    await site.start()
    bound_port = int(runner.addresses[0][1])
    log.info("LLM simulator listening on http://%s:%d/v1", host, bound_port)
    return RunningSimulator(host=host, port=bound_port, _sim=sim, _runner=runner)

