"""Errors of the LLM gateway.

    Exception
     └── LLMError                    anything that stops one analysis
          ├── InvalidReply           the model answered, but not with a valid ReviewAnalysis (retry or repair)
          ├── TransientLLMError      rate limit, timeout, 5xx, connection: worth retrying later
          └── PermanentLLMError      bad request, auth, unknown model: retrying will not help
"""

from __future__ import annotations

__all__ = ["InvalidReply", "LLMError", "PermanentLLMError", "TransientLLMError"]


class LLMError(Exception):
    pass


class InvalidReply(LLMError):
    pass


class TransientLLMError(LLMError):
    pass


class PermanentLLMError(LLMError):
    pass
