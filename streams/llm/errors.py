"""Every error of the LLM package, in one tree; each class names the metric label of its outcome.

    Exception
     └── LLMError                    anything that stops one analysis or request            outcome label
          ├── InvalidReply           the model answered, but not with a usable reply        invalid_reply
          │                          (retry, repair, or resend the item alone)
          ├── TransientLLMError      5xx, connection refused or reset: worth retrying       server_error
          │    ├── LLMRateLimited    HTTP 429; `retry_after_s` is the provider's hint       rate_limited
          │    ├── LLMTimeout        an attempt or the whole deadline ran out               timeout
          │    └── CircuitOpen       the breaker is open: nothing was sent                  circuit_open
          └── PermanentLLMError      bad request, auth, unknown model: retrying won't help   rejected

    try:
        reply = await gateway.analyze(review)
    except LLMError as exc:
        metrics.analyzer_requests.labels("openai", outcome_of(exc)).inc()

`outcome_of` is the one map from an error to the `outcome` label of `reviewstream_llm_requests_total` and
`reviewstream_analyzer_requests_total` (with `ok`, and `fallback` for the offline analyzer's answers): the alert rules
and the dashboard match on these words (`outcome!~"ok|rate_limited"`), so a new error class gets one of them or a new
word documented in both.
"""

from __future__ import annotations

from typing import ClassVar, Final

__all__ = [
    "OUTCOMES",
    "CircuitOpen",
    "InvalidReply",
    "LLMError",
    "LLMRateLimited",
    "LLMTimeout",
    "PermanentLLMError",
    "TransientLLMError",
    "outcome_of",
]


class LLMError(Exception):
    outcome: ClassVar[str] = "rejected"


class InvalidReply(LLMError):
    outcome = "invalid_reply"


class TransientLLMError(LLMError):
    outcome = "server_error"


class LLMRateLimited(TransientLLMError):
    """The provider answered 429; `retry_after_s` is its hint, if it gave one."""

    outcome = "rate_limited"

    def __init__(self, message: str, retry_after_s: float | None = None) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s


class LLMTimeout(TransientLLMError):
    """A request took longer than its per-attempt timeout, or an answer did not come before the deadline."""

    outcome = "timeout"


class CircuitOpen(TransientLLMError):
    """The model failed too often lately; not called until the breaker's cool-off has passed."""

    outcome = "circuit_open"


class PermanentLLMError(LLMError):
    outcome = "rejected"


# Every label `outcome_of` can give, plus the success one.
OUTCOMES: Final = ("ok", "invalid_reply", "server_error", "rate_limited", "timeout", "circuit_open", "rejected")


def outcome_of(exc: LLMError) -> str:
    """The `outcome` metric label of a failure (see the tree above)."""
    return exc.outcome
