"""Prometheus metrics of the worker, named by Prometheus conventions (`reviewstream_` prefix, base units, `_total`
counters, histograms). Labels are bounded: topic, agent, analyzer, outcome, reason — never a user or product id."""

from __future__ import annotations

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    ProcessCollector,
    disable_created_metrics,
)

from models.integrity.scoring import SIGNALS

__all__ = ["LATENCY_BUCKETS", "Metrics"]

# `_created` series double the exposition size and no dashboard or rule of ours reads them.
disable_created_metrics()  # type: ignore[no-untyped-call]  # prometheus_client leaves it unannotated

# From 1 ms (the offline analyzer) to 2 min (an LLM behind a rate limit).
LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120)


class Metrics:
    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry()
        r = self.registry
        self.events_consumed = Counter(
            "reviewstream_events_consumed_total", "Events read from input topics.", ["topic"], registry=r
        )
        self.events_produced = Counter(
            "reviewstream_events_produced_total", "Events published to output topics.", ["topic"], registry=r
        )
        self.dead_letters = Counter(
            "reviewstream_dead_letters_total",
            "Input events sent to the dead-letter topic, by source topic and reason.",
            ["topic", "reason"],
            registry=r,
        )
        self.analyzer_requests = Counter(
            "reviewstream_analyzer_requests_total",
            "Analyses by analyzer and outcome (ok, fallback, or the error's: streams.llm.errors.outcome_of).",
            ["analyzer", "outcome"],
            registry=r,
        )
        self.analyzer_duration = Histogram(
            "reviewstream_analyzer_duration_seconds",
            "Time to analyse one review, by analyzer.",
            ["analyzer"],
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.processing_duration = Histogram(
            "reviewstream_processing_duration_seconds",
            "Time from taking an event off the topic to its outputs being acknowledged by Kafka, by agent.",
            ["agent"],
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.end_to_end_latency = Histogram(
            "reviewstream_end_to_end_latency_seconds",
            "Time from the input message's Kafka timestamp to its output being sent, by agent.",
            ["agent"],
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.in_flight = Gauge("reviewstream_in_flight_events", "Events being processed now.", ["agent"], registry=r)
        self.in_flight_capacity = Gauge(
            "reviewstream_in_flight_capacity", "Most events processed at once before consumption waits.", ["agent"],
            registry=r,
        )
        self.oldest_in_flight_age = Gauge(
            "reviewstream_oldest_in_flight_age_seconds",
            "Age of the oldest unfinished event; it holds back its partition's commits.",
            ["agent"],
            registry=r,
        )
        self.insights_by_sentiment = Counter(
            "reviewstream_insights_total", "Review insights published, by sentiment.", ["sentiment"], registry=r
        )
        self.degraded_insights = Counter(
            "reviewstream_degraded_insights_total",
            "Insights answered by the offline fallback because the LLM failed.",
            registry=r,
        )
        self._consumer_metrics(r)
        self._llm_metrics(r)
        # process_resident_memory_bytes, process_cpu_seconds_total, open fds: on our registry, not the global one.
        ProcessCollector(registry=r)
        self.redactions = Counter(
            "reviewstream_pii_redactions_total", "Reviews with personal data redacted, by kind.", ["kind"], registry=r
        )
        self.model_output_rejections = Counter(
            "reviewstream_model_output_rejections_total",
            "Model-written fields dropped or replaced before publishing, by field (summary, suggested_reply, aspect, "
            "competitor, language, marketing_subject, marketing_body) and reason (link, contact, personal_data, name, "
            "credential_request, not_in_review, not_a_quote, not_a_label, not_a_language, offer, code).",
            ["field", "reason"], registry=r,
        )

    def _llm_metrics(self, r: CollectorRegistry) -> None:
        # OpenTelemetry GenAI semantic-convention names where they exist, our own prefix for the rest.
        self.llm_operation_duration = Histogram(
            "gen_ai_client_operation_duration_seconds",
            "Duration of one LLM request (a batch counts once).",
            ["gen_ai_operation_name", "gen_ai_request_model", "outcome"],
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.llm_token_usage = Histogram(
            "gen_ai_client_token_usage",
            "Tokens used per LLM request, by token type (input, output).",
            ["gen_ai_operation_name", "gen_ai_request_model", "gen_ai_token_type"],
            buckets=(16, 64, 256, 1024, 2048, 4096, 8192, 16384, 65536),
            registry=r,
        )
        self.llm_requests = Counter(
            "reviewstream_llm_requests_total",
            "LLM requests by outcome (ok, rate_limited, server_error, timeout, invalid_reply, rejected).",
            ["model", "outcome"],
            registry=r,
        )
        self.llm_tokens = Counter(
            "reviewstream_llm_tokens_total", "Tokens billed, by type (input, output).", ["model", "type"], registry=r
        )
        self.llm_cost = Counter(
            "reviewstream_llm_cost_usd_total", "Estimated LLM cost in US dollars, from the configured prices.",
            ["model"], registry=r,
        )
        self.llm_retries = Counter(
            "reviewstream_llm_retries_total", "LLM requests sent again after a failure, by reason.", ["reason"],
            registry=r,
        )
        self.llm_rate_limited = Counter(
            "reviewstream_llm_rate_limited_total", "HTTP 429 answers from the LLM provider.", registry=r
        )
        self.llm_limiter_wait = Histogram(
            "reviewstream_llm_limiter_wait_seconds", "Time a request waited for the client-side rate limiter.",
            buckets=(0, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60), registry=r,
        )
        self.llm_in_flight = Gauge(
            "reviewstream_llm_in_flight_requests", "LLM requests being sent or awaited now.", registry=r
        )
        self.llm_in_flight_capacity = Gauge(
            "reviewstream_llm_in_flight_capacity", "Most LLM requests in flight at once.", registry=r
        )
        self.llm_batch_size = Histogram(
            "reviewstream_llm_batch_size", "Reviews per LLM request.", buckets=(1, 2, 4, 8, 12, 16, 24, 32),
            registry=r,
        )
        self.llm_cache_lookups = Counter(
            "reviewstream_llm_cache_lookups_total", "Analysis cache lookups by result (hit, miss, joined).",
            ["result"], registry=r,
        )
        self.llm_breaker_state = Gauge(
            "reviewstream_llm_breaker_state", "LLM circuit breaker: 0 closed, 1 half-open, 2 open.", registry=r
        )
        self.llm_breaker_opened = Counter(
            "reviewstream_llm_breaker_opened_total", "Times the LLM circuit breaker opened.", registry=r
        )

    def _consumer_metrics(self, r: CollectorRegistry) -> None:
        self.skipped_offsets = Counter(
            "reviewstream_skipped_offsets_total",
            "Offsets the consumer passed over without delivering them; the agent read them back from Kafka.",
            ["topic"], registry=r)
        self.produce_errors = Counter(
            "reviewstream_produce_errors_total", "Failed sends to Kafka (retried), by topic and error type.",
            ["topic", "error"], registry=r)
        self.erasures = Counter(
            "reviewstream_erasures_total", "Erasure requests carried out, by outcome (erased, nothing_found).",
            ["outcome"], registry=r)
        for outcome in ("erased", "nothing_found"):  # a series from the start: no erasure yet reads as 0
            self.erasures.labels(outcome)
        self.erased_replays = Counter(
            "reviewstream_erased_replays_total", "Replayed events of erased users left out (they stay erased).",
            registry=r)
        self.profile_folds = Counter(
            "reviewstream_profile_folds_total", "Clicks and review insights folded into user profiles, by kind.",
            ["kind"], registry=r)
        self.table_keys = Gauge(
            "reviewstream_table_keys", "Keys in a Faust table on this worker (RocksDB estimate), by table.",
            ["table"], registry=r)
        self.alerts = Counter(
            "reviewstream_alerts_total", "Alert records published, by kind, status (firing|resolved) and severity.",
            ["kind", "status", "severity"], registry=r)
        self.integrity_reviews = Counter(
            "reviewstream_integrity_reviews_total", "Reviews assessed by the integrity step, by verdict: passed, "
            "flagged (on arrival), flagged_later (by later evidence).", ["verdict"], registry=r)
        for verdict in ("passed", "flagged", "flagged_later"):
            self.integrity_reviews.labels(verdict)
        self.integrity_flags = Counter(
            "reviewstream_integrity_flags_total", "Flagged reviews, by each signal that fired for them.", ["signal"],
            registry=r)
        for signal in SIGNALS:
            self.integrity_flags.labels(signal)
        self.integrity_open_campaigns = Gauge(
            "reviewstream_integrity_open_campaigns", "review_campaign incidents open on this worker's products.",
            registry=r)
        self.alerts_suppressed = Counter(
            "reviewstream_alerts_suppressed_total", "Triggers that joined an open incident (cooldown), by kind.",
            ["kind"], registry=r)
        self.marketing_triggers = Counter(
            "reviewstream_marketing_triggers_total",
            "Marketing triggers by kind and outcome (admitted, opted_out, frequency_cap, already_sent, ...).",
            ["kind", "outcome"], registry=r)
        self.marketing_messages = Counter(
            "reviewstream_marketing_messages_total", "Marketing messages published, by kind and writer (llm|template).",
            ["kind", "generated_by"], registry=r)
        self.reply_drafts = Counter(
            "reviewstream_reply_drafts_total",
            "Reply drafts by policy action: kept, filled (a needed reply was missing), rewritten (it promised).",
            ["action"], registry=r)
        self.support_tickets = Counter(
            "reviewstream_support_tickets_total", "Urgent insights sent to the support queue, by urgency.",
            ["urgency"], registry=r)
        self.consumer_lag_messages = Gauge(
            "reviewstream_consumer_lag_messages",
            "Messages in an input partition not yet committed by this worker (end offset minus committed offset).",
            ["topic", "partition"], registry=r,
        )
        self.consumer_lag_seconds = Gauge(
            "reviewstream_consumer_lag_seconds",
            "How far behind an input partition is in time: now minus the Kafka timestamp of the newest finished "
            "event, while messages are waiting (0 when caught up).",
            ["topic", "partition"], registry=r,
        )
        self.seconds_since_commit = Gauge(
            "reviewstream_seconds_since_commit",
            "Seconds since this worker last advanced the committed offset of a partition that has messages waiting.",
            ["topic", "partition"], registry=r,
        )
        self.rebalances = Counter("reviewstream_rebalances_total", "Consumer group rebalances seen by this worker.",
                                  registry=r)
        self.assigned_partitions = Gauge(
            "reviewstream_assigned_partitions", "Input partitions assigned to this worker.", registry=r
        )
        self.event_loop_lag = Gauge(
            "reviewstream_event_loop_lag_seconds",
            "How late the event loop ran a periodic check: blocking code in a coroutine shows up here.",
            registry=r,
        )
