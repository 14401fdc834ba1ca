"""The LLM gateway: as many reviews through the model as its rate limits allow, as cheaply as possible, safely.

    gateway = LLMGateway(OpenAITransport(base_url=..., model="gpt-4o-mini"), GatewayConfig(rpm=500, tpm=200_000))
    reply = await gateway.analyze(ReviewText("Great kettle"))      # an `Analyzer`, like the offline one

Shaped like Flink's async I/O operator (bounded in-flight requests, per-attempt timeout, overall deadline) plus:
- a requests+tokens rate limiter that keeps every rolling minute within the provider's limits, charged from an
  estimate and settled with the real usage, counting what the provider's `x-ratelimit-remaining-*` headers say
  others used, and a shared cool-down after a 429 that honours `retry-after`;
- micro-batching: reviews that arrive together share one instruction block in one request, in a compact wire
  format (`streams.llm.batch_format`: a line per review, a short answer per review, keyed or positional:
  `batch_answer`) that is expanded back into the full `ReviewAnalysis`; each item is validated on its own and the
  missing or invalid ones are sent again alone;
- a cache keyed by the normalised redacted text, and joining of identical reviews already in flight;
- retries with exponential backoff and full jitter; a circuit breaker that fails fast while the model keeps
  failing, so the caller answers from the offline analyzer (`degraded: true`) instead of waiting;
- priorities for request slots: review analysis before marketing text.
A review never waits past `deadline_s`: it fails with `LLMError`, which the review processor turns into a degraded
insight. Nothing is dropped.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Literal

from models.insight import ReviewAnalysis
from streams.llm.analyzer import AnalyzerReply, ReviewText
from streams.llm.batch_format import (
    DEFAULT_BATCH_ANSWER,
    LINE_OVERHEAD_TOKENS,
    BatchAnswer,
    batch_response_format,
    build_batch_messages,
    expand_item,
    parse_batch_reply,
)
from streams.llm.batcher import MicroBatcher
from streams.llm.cache import AnalysisCache
from streams.llm.circuit_breaker import CircuitBreaker
from streams.llm.errors import (
    CircuitOpen,
    InvalidReply,
    LLMError,
    LLMRateLimited,
    LLMTimeout,
    TransientLLMError,
    outcome_of,
)
from streams.llm.priority_slots import PrioritySlots
from streams.llm.prompt import (
    ChatMessage,
    build_messages,
    estimate_text_tokens,
    estimate_tokens,
    repair_message,
    response_format_for_schema,
)
from streams.llm.rate_limiter import RateLimiter, Reservation
from streams.llm.retry_policy import RetryPolicy
from streams.llm.transport import ChatReply, ChatTransport
from streams.llm.validation import decode_and_validate, validate_analysis
from streams.metrics import Metrics

__all__ = ["PRIORITY_ANALYSIS", "PRIORITY_MARKETING", "GatewayConfig", "LLMGateway"]

log = logging.getLogger(__name__)

ResponseFormatMode = Literal["json_schema", "json_object"]
PRIORITY_ANALYSIS = 0
PRIORITY_MARKETING = 1
_BREAKER_STATES = {"closed": 0, "half_open": 1, "open": 2}


@dataclass(frozen=True, slots=True)
class GatewayConfig:
    rpm: float = 500
    tpm: float = 200_000
    max_in_flight: int = 64
    # 32 short reviews share one instruction block (~9 tokens each instead of ~35 at 8) and still answer in ~1,100
    # output tokens, well inside attempt_timeout_s for a hosted model; the batcher's token budget caps long ones.
    batch_max_items: int = 32
    # Review text tokens per batch; the instructions come once on top.
    batch_max_tokens: int = 2400
    batch_max_wait_s: float = 0.05
    # While the limiter makes requests wait anyway, reviews wait for company instead (up to this long): one request
    # with 32 reviews costs far fewer tokens than 32 requests, so light traffic does not hit the token limit.
    batch_max_wait_under_limit_s: float = 2.0
    attempt_timeout_s: float = 30.0
    # The defaults are Settings' (streams/llm/factory.py builds the worker's from them; a unit test compares the two).
    deadline_s: float = 45.0
    max_attempts: int = 5
    backoff_base_s: float = 0.5
    backoff_max_s: float = 20.0
    cache_entries: int = 50_000
    breaker_failures: int = 10
    breaker_reset_s: float = 15.0
    # What one analysis costs in output tokens before the real usage is known: alone (the full JSON answer) and as
    # an item of a batch (the compact answer: ~35 tuple, ~50 keyed, measured by bench.llm_gateway).
    completion_tokens_per_review: int = 200
    completion_tokens_per_batch_item: int = 60
    # `max_tokens` of a request: 2 × the learned output per review × reviews, at least `min_output_tokens`, at most
    # `max_output_tokens`. A runaway answer (small local models can go on until their context is full) costs at most
    # that; a truncated one is resent or repaired. Not more headroom: OpenAI counts max_tokens against the TPM limit.
    min_output_tokens: int = 512
    max_output_tokens: int = 4096
    # "json_schema" (OpenAI, vLLM) or "json_object" with the schema attached (llama.cpp's server turns it into a
    # grammar; its json_schema mode fails).
    response_format: ResponseFormatMode = "json_schema"
    # The shape of a batch's answer items: "tuple" (positional arrays, the fewest tokens; positions checked on
    # arrival) or "keyed" (short-key objects whose strict schema holds the model to every field while it writes).
    batch_answer: BatchAnswer = DEFAULT_BATCH_ANSWER
    # US dollars per million tokens, for the cost metric (gpt-4o-mini list prices by default).
    price_input_per_mtok: float = 0.15
    price_output_per_mtok: float = 0.60


class _LearnedMean:
    """A prior, replaced by the first observation, then moved by each later one (exponential average)."""

    def __init__(self, prior: float, weight: float = 0.2) -> None:
        self.value = float(prior)
        self._weight = weight
        self._observed = False

    def observe(self, x: float) -> None:
        self.value += (self._weight if self._observed else 1.0) * (x - self.value)
        self._observed = True


@dataclass(eq=False)
class _Job:
    review: ReviewText
    key: str
    tokens: int
    future: asyncio.Future[AnalyzerReply]
    deadline: float
    attempts: int = 0


@dataclass
class GatewayStats:
    requests: int = 0
    batched_requests: int = 0
    reviews_sent: int = 0
    rate_limited: int = 0
    retries: int = 0
    failures: int = 0
    item_fallbacks: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    by_outcome: dict[str, int] = field(default_factory=dict)


class LLMGateway:
    """An `Analyzer` over a `ChatTransport`; see the module docstring."""

    def __init__(
        self,
        transport: ChatTransport,
        config: GatewayConfig | None = None,
        *,
        metrics: Metrics | None = None,
        clock: Callable[[], float] = time.monotonic,
        rng: random.Random | None = None,
    ) -> None:
        self.transport = transport
        self.config = config or GatewayConfig()
        self.metrics = metrics or Metrics()
        self.name = "openai"
        self._clock = clock
        cfg = self.config
        self.limiter = RateLimiter(rpm=cfg.rpm, tpm=cfg.tpm, now=clock())
        self.breaker = CircuitBreaker(failure_threshold=cfg.breaker_failures, reset_timeout_s=cfg.breaker_reset_s)
        self.retry = RetryPolicy(self.breaker, max_attempts=cfg.max_attempts, backoff_base_s=cfg.backoff_base_s,
                                 backoff_max_s=cfg.backoff_max_s, rng=rng)
        self.cache: AnalysisCache[AnalyzerReply] = AnalysisCache(cfg.cache_entries)
        self.slots = PrioritySlots(cfg.max_in_flight)
        self.stats = GatewayStats()
        self._batcher: MicroBatcher[_Job] = MicroBatcher(
            max_items=cfg.batch_max_items, max_tokens=cfg.batch_max_tokens, max_wait_s=cfg.batch_max_wait_s
        )
        # Learned from replies, for single answers and batch items apart (a batch item is a fifth of a single
        # answer): charging the limiter a guess that is too high leaves the limit unused while requests are in
        # flight (the OpenAI cookbook's processor does that), and a run of over-estimated requests queued at start-up
        # sends the rest of the queue in one burst once their refunds come in.
        self._completion = {False: _LearnedMean(cfg.completion_tokens_per_review),
                            True: _LearnedMean(cfg.completion_tokens_per_batch_item)}
        # Instructions and schema of a one-review request: what batching saves on every review it adds.
        self._single_request_tokens = estimate_tokens(build_messages(ReviewText(""))) + cfg.completion_tokens_per_review
        self._joinable: dict[str, asyncio.Future[AnalyzerReply]] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._wake = asyncio.Event()
        self._flusher: asyncio.Task[None] | None = None
        self.metrics.llm_in_flight_capacity.set(cfg.max_in_flight)
        self.metrics.llm_in_flight.set_function(lambda: self.slots.in_use)
        self.metrics.llm_breaker_state.set_function(lambda: _BREAKER_STATES[self.breaker.state])

    # ------------------------------------------------------------------------------------------------ Analyzer
    async def analyze(self, review: ReviewText) -> AnalyzerReply:
        key = self.cache.key(review.text, review.lang_hint)
        cached = self.cache.get(key)
        if cached is not None:
            self.metrics.llm_cache_lookups.labels("hit").inc()
            return AnalyzerReply(analysis=cached.analysis, model=cached.model, extra={"cache_hit": 1.0})
        joined = self._joinable.get(key)
        if joined is not None:
            # The same text is already on its way to the model: share its answer instead of paying twice.
            self.metrics.llm_cache_lookups.labels("joined").inc()
            reply = await asyncio.shield(joined)
            return AnalyzerReply(analysis=reply.analysis, model=reply.model, extra={"cache_hit": 1.0})
        self.metrics.llm_cache_lookups.labels("miss").inc()
        now = self._clock()
        self._check_breaker(now)
        job = _Job(review=review, key=key, tokens=estimate_text_tokens(review.text) + LINE_OVERHEAD_TOKENS,
                   future=asyncio.get_running_loop().create_future(), deadline=now + self.config.deadline_s)
        self._joinable[key] = job.future
        try:
            self._enqueue(job)
            try:
                return await asyncio.wait_for(asyncio.shield(job.future), self.config.deadline_s)
            except TimeoutError:
                raise LLMTimeout(f"no LLM answer within the {self.config.deadline_s:g}s deadline") from None
        finally:
            if self._joinable.get(key) is job.future:
                del self._joinable[key]

    async def aclose(self) -> None:
        if self._flusher is not None:
            self._flusher.cancel()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, *(t for t in [self._flusher] if t), return_exceptions=True)
        await self.transport.aclose()

    # -------------------------------------------------------------------------------------------- batching
    def _enqueue(self, job: _Job) -> None:
        now = self._clock()
        single_request = self._single_request_tokens + job.tokens
        self._batcher.max_wait_s = min(self.config.batch_max_wait_under_limit_s,
                                       max(self.config.batch_max_wait_s, self.limiter.peek(single_request, now)))
        for batch in self._batcher.add(job, job.tokens, now):
            self._spawn(self._run(batch))
        if self._flusher is None or self._flusher.done():
            self._flusher = asyncio.create_task(self._flush_when_due())
        self._wake.set()

    async def _flush_when_due(self) -> None:
        while True:
            self._wake.clear()
            deadline = self._batcher.deadline()
            if deadline is None:
                await self._wake.wait()
                continue
            delay = deadline - self._clock()
            if delay > 0:
                # Woken early by a new job (which may have closed the batch), or at the batch's deadline.
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), delay)
                continue
            batch = self._batcher.flush_due(self._clock())
            if batch:
                self._spawn(self._run(batch))
            else:
                await asyncio.sleep(0.001)  # never spin without yielding to the loop

    def _spawn(self, coro: Any) -> None:
        task = asyncio.create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # -------------------------------------------------------------------------------------------- requests
    async def _run(self, jobs: list[_Job], priority: int = PRIORITY_ANALYSIS) -> None:
        """Send `jobs` (one request) until each has an answer or has failed; never leaves a future pending."""
        try:
            while jobs:
                jobs = [j for j in jobs if not j.future.done()]
                if not jobs:
                    return
                before = max(j.attempts for j in jobs)
                try:
                    reply, after = await self._with_retries(functools.partial(self._send, jobs, priority),
                                                            deadline=min(j.deadline for j in jobs), attempts=before)
                except LLMError as exc:
                    self._fail(jobs, exc)
                    return
                for job in jobs:
                    job.attempts += after - before
                jobs = await self._deliver(jobs, reply)
        except asyncio.CancelledError:
            self._fail(jobs, TransientLLMError("gateway closed"))
            raise
        except Exception as exc:  # a bug in a transport must not leave reviews waiting for nothing (logged)
            log.exception("LLM request for %d review(s) failed unexpectedly", len(jobs))
            self._fail(jobs, TransientLLMError(f"unexpected {type(exc).__name__} in the LLM gateway: {str(exc)[:200]}"))

    async def _with_retries(self, send: Callable[[], Awaitable[ChatReply]], *, deadline: float, attempts: int = 0,
                            before_attempt: Callable[[], Awaitable[None]] | None = None) -> tuple[ChatReply, int]:
        """`send()` until it answers, under the one retry policy (`RetryPolicy`): the reply and the failed attempts
        so far. Raises the `LLMError` that ended it, or `LLMTimeout` at the deadline.

        `before_attempt` runs before each attempt (a marketing request waits there for room in the rate limit); an
        error it raises is not a failure of the model and is not retried."""
        while True:
            if self._clock() >= deadline:
                raise LLMTimeout(f"no LLM answer within the {self.config.deadline_s:g}s deadline")
            if before_attempt is not None:
                await before_attempt()
            try:
                reply = await send()
            except LLMError as exc:
                now = self._clock()
                step = self.retry.after_failure(exc, attempts=attempts, now=now, deadline=deadline)
                self._note_breaker()
                attempts = step.attempts
                if step.action == "give_up":
                    raise
                self.stats.retries += 1
                if step.action == "cool_down":
                    # Not the model's fault: everyone pauses for retry-after, in the rate limiter.
                    self.limiter.cool_down(step.wait_s, now)
                    self.metrics.llm_retries.labels("rate_limited").inc()
                else:
                    self.metrics.llm_retries.labels(type(exc).__name__).inc()
                    await asyncio.sleep(step.wait_s)  # the backoff itself
                continue
            self.retry.after_success(self._clock())
            self._note_breaker()
            return reply, attempts

    async def _send(self, jobs: list[_Job], priority: int) -> ChatReply:
        """One request for `jobs`: the single-review format for one, the compact batch format for several."""
        messages: list[ChatMessage]
        if len(jobs) == 1:
            messages, response_format = build_messages(jobs[0].review), self._format(response_format_for_schema())
        else:
            messages = build_batch_messages([j.review for j in jobs], self.config.batch_answer)
            response_format = self._format(batch_response_format(self.config.batch_answer))
        estimate = estimate_tokens(messages) + self._expected_output_tokens(len(jobs))
        return await self._request(messages, response_format, estimate, len(jobs), priority,
                                   self._max_tokens(len(jobs)))

    def _max_tokens(self, items: int) -> int:
        cfg = self.config
        return max(cfg.min_output_tokens, min(cfg.max_output_tokens, 2 * self._expected_output_tokens(items)))

    def _expected_output_tokens(self, items: int) -> int:
        return int(self._completion[items > 1].value * items)

    async def _request(self, messages: list[ChatMessage], response_format: dict[str, Any], estimate: int,
                       items: int, priority: int, max_tokens: int) -> ChatReply:
        """One request through the slots and the rate limiter, with its accounting; raises `LLMError`."""
        await self.slots.acquire(priority)
        try:
            reservation = self.limiter.reserve(estimate, self._clock())
            self.metrics.llm_limiter_wait.observe(reservation.wait)
            if reservation.wait > 0:
                await asyncio.sleep(reservation.wait)  # the rate limit itself
            started = time.perf_counter()
            outcome = "ok"
            try:
                reply = await self.transport.complete(messages, response_format,
                                                      timeout_s=self.config.attempt_timeout_s, max_tokens=max_tokens)
            except LLMError as exc:
                outcome = outcome_of(exc)
                if isinstance(exc, LLMRateLimited):
                    self.metrics.llm_rate_limited.inc()
                    self.stats.rate_limited += 1
                    # Refused before it was counted: only the request itself stays in the rolling minute.
                    self.limiter.settle(reservation, 0, self._clock())
                # Any other failure keeps its estimate: the provider counts a request when it admits it, and a
                # 5xx or a timeout comes after that (giving it back was what let a busy gateway overrun the limit).
                raise
            finally:
                duration = time.perf_counter() - started
                model = self.transport.model
                self.metrics.llm_operation_duration.labels("chat", model, outcome).observe(duration)
                self.metrics.llm_requests.labels(model, outcome).inc()
                self.stats.by_outcome[outcome] = self.stats.by_outcome.get(outcome, 0) + 1
        finally:
            self.slots.release()
        # Only analyses teach the per-review completion estimate; marketing text has its own length.
        self._account(reply, reservation, items, learn=priority == PRIORITY_ANALYSIS)
        return reply

    # ------------------------------------------------------------------------------------------ other requests
    async def complete(self, messages: list[ChatMessage], response_format: dict[str, Any], *,
                       expected_output_tokens: int = 300, priority: int = PRIORITY_MARKETING) -> ChatReply:
        """One non-analysis request (marketing text) sharing the limiter, slots, breaker and retry policy with the
        analyses, at a lower priority, within the deadline. Raises `LLMError`, `CircuitOpen` included.

        Lower priority means more than a later turn for a request slot: it is sent only while the rate limit has
        room now and no analysis waits for a batch, so under load it never takes tokens an analysis would use.
        If no room comes before the deadline it fails (the caller writes from a template)."""
        deadline = self._clock() + self.config.deadline_s
        self._check_breaker(self._clock())
        estimate = estimate_tokens(messages) + expected_output_tokens

        async def wait_for_headroom() -> None:
            if priority > PRIORITY_ANALYSIS and not await self._wait_for_headroom(estimate, deadline):
                raise LLMTimeout("the LLM's rate limit stayed busy with review analyses")

        reply, _ = await self._with_retries(
            functools.partial(self._request, messages, self._format(response_format), estimate, 1, priority,
                              max(self.config.min_output_tokens, 2 * expected_output_tokens)),
            deadline=deadline, before_attempt=wait_for_headroom)
        return reply

    async def _wait_for_headroom(self, tokens: int, deadline: float) -> bool:
        """Wait until `tokens` fit the rate limit right now and no analysis waits to be batched; False at deadline."""
        while True:
            now = self._clock()
            wait = self.limiter.peek(tokens, now)
            if wait <= 0 and not len(self._batcher):
                return True
            if now >= deadline:
                return False
            await asyncio.sleep(min(max(wait, 0.05), 1.0, max(0.0, deadline - now)))

    def _account(self, reply: ChatReply, reservation: Reservation, items: int, learn: bool = True) -> None:
        now = self._clock()
        used = reply.prompt_tokens + reply.completion_tokens
        if used:
            self.limiter.settle(reservation, used, now)
        # After settling, so that the provider's count is compared with what we really used.
        self.limiter.observe_headers(reply.headers, now)
        if learn and reply.completion_tokens and not reply.truncated:
            self._completion[items > 1].observe(reply.completion_tokens / items)
        m, model = self.metrics, reply.model
        m.llm_tokens.labels(model, "input").inc(reply.prompt_tokens)
        m.llm_tokens.labels(model, "output").inc(reply.completion_tokens)
        m.llm_token_usage.labels("chat", model, "input").observe(reply.prompt_tokens)
        m.llm_token_usage.labels("chat", model, "output").observe(reply.completion_tokens)
        m.llm_cost.labels(model).inc(
            (reply.prompt_tokens * self.config.price_input_per_mtok
             + reply.completion_tokens * self.config.price_output_per_mtok) / 1e6
        )
        m.llm_batch_size.observe(items)
        self.stats.requests += 1
        self.stats.batched_requests += items > 1
        self.stats.reviews_sent += items
        self.stats.prompt_tokens += reply.prompt_tokens
        self.stats.completion_tokens += reply.completion_tokens

    async def _deliver(self, jobs: list[_Job], reply: ChatReply) -> list[_Job]:
        """Resolve the jobs the reply answers validly; return the ones still to do (resent singly or repaired)."""
        share_in = reply.prompt_tokens // max(1, len(jobs))
        share_out = reply.completion_tokens // max(1, len(jobs))
        if len(jobs) == 1:
            job = jobs[0]
            try:
                analysis = decode_and_validate(None if reply.truncated else reply.content, job.review.text)
            except InvalidReply as exc:
                return await self._repair(job, reply, exc)
            self._resolve(job, analysis, reply.model, share_in, share_out)
            return []
        answered = parse_batch_reply(reply.content, self.config.batch_answer, truncated=reply.truncated)
        leftovers: list[_Job] = []
        for line, job in enumerate(jobs):
            item = answered.get(line)
            try:
                if item is None:
                    raise InvalidReply(f"batch reply has no item for line {line}")
                analysis = validate_analysis(expand_item(item, self.config.batch_answer)[1], job.review.text)
            except InvalidReply:
                leftovers.append(job)
                continue
            self._resolve(job, analysis, reply.model, share_in, share_out)
        if leftovers:
            self.stats.item_fallbacks += len(leftovers)
            for job in leftovers:
                self._spawn(self._run([job]))
        return []

    async def _repair(self, job: _Job, reply: ChatReply, error: InvalidReply) -> list[_Job]:
        """One repair request that shows the model its invalid answer and what was wrong with it.

        A failed repair costs attempts (1 when the request failed, 2 when its answer was invalid too); a review whose
        attempts are used up fails with the last reason instead of being sent again."""
        messages: list[ChatMessage] = [
            *build_messages(job.review),
            {"role": "assistant", "content": (reply.content or "")[:2000]},
            repair_message(str(error)),
        ]
        estimate = estimate_tokens(messages) + self._expected_output_tokens(1)
        try:
            fixed = await self._request(messages, self._format(response_format_for_schema()), estimate, 1,
                                        PRIORITY_ANALYSIS, self._max_tokens(1))
        except LLMError as exc:
            return self._spend(job, 1, exc)
        self.metrics.llm_retries.labels("repair").inc()
        try:
            analysis = decode_and_validate(None if fixed.truncated else fixed.content, job.review.text)
        except InvalidReply as exc:
            return self._spend(job, 2, InvalidReply(f"{fixed.model} gave no valid analysis after a repair request: "
                                                    f"{exc}"))
        self._resolve(job, analysis, fixed.model, fixed.prompt_tokens, fixed.completion_tokens)
        return []

    def _spend(self, job: _Job, attempts: int, exc: LLMError) -> list[_Job]:
        """Count `attempts` against `job`: still to send, or failed with `exc` once its attempts are used up."""
        job.attempts += attempts
        if job.attempts < self.config.max_attempts:
            return [job]
        self._fail([job], exc)
        return []

    # ---------------------------------------------------------------------------------------------- helpers
    def _format(self, json_schema_format: dict[str, Any]) -> dict[str, Any]:
        if self.config.response_format == "json_object":
            return {"type": "json_object", "schema": json_schema_format["json_schema"]["schema"]}
        return json_schema_format

    def _resolve(self, job: _Job, analysis: ReviewAnalysis, model: str, prompt_tokens: int,
                 completion_tokens: int) -> None:
        reply = AnalyzerReply(analysis=analysis, model=model, prompt_tokens=prompt_tokens,
                              completion_tokens=completion_tokens)
        self.cache.put(job.key, reply)
        if not job.future.done():
            job.future.set_result(reply)

    def _fail(self, jobs: list[_Job], exc: LLMError) -> None:
        for job in jobs:
            if not job.future.done():
                self.stats.failures += 1
                job.future.set_exception(type(exc)(str(exc)))
                # Mark retrieved: a caller that already gave up (deadline) must not trigger "never retrieved" logs.
                job.future.exception()

    def _check_breaker(self, now: float) -> None:
        if not self.breaker.allow(now):
            raise CircuitOpen(f"LLM circuit breaker is open after {self.breaker.consecutive_failures} failures")

    def _note_breaker(self) -> None:
        if self.breaker.state == "open" and self.breaker.times_opened > self._breaker_seen:
            self._breaker_seen = self.breaker.times_opened
            self.metrics.llm_breaker_opened.inc()
            log.warning("LLM circuit breaker opened after %d consecutive failures; retrying in %.0fs",
                        self.breaker.consecutive_failures, self.breaker.reset_timeout_s)

    _breaker_seen = 0

