"""Who may read personal data from a worker's web views: whoever presents the API token, and no one when none is
configured.

>>> guard = ApiGuard(SecretStr("s3cret"))
>>> guard.refusal({"Authorization": "Bearer s3cret"}) is None
True
>>> guard.refusal({}).status, ApiGuard(None).refusal({"Authorization": "Bearer s3cret"}).status
(401, 403)

Views that return a user's profile (cart, orders, spend, reviews) answer only a request carrying
`Authorization: Bearer <REVIEWSTREAM_API_TOKEN>`. The token is compared in constant time (`hmac.compare_digest`), and
the refusal comes before any lookup, so an unknown user and a known one look the same to someone without it (no
enumeration of user ids). `/health` and `/metrics` stay open: they carry no personal data.
"""

from __future__ import annotations

import functools
import hmac
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any

from pydantic import SecretStr

__all__ = ["ApiGuard", "Refusal"]


@dataclass(frozen=True, slots=True)
class Refusal:
    status: int
    error: str


_OFF = Refusal(403, "this view is off: the worker has no REVIEWSTREAM_API_TOKEN")
_UNAUTHORIZED = Refusal(401, "send Authorization: Bearer <REVIEWSTREAM_API_TOKEN>")


class ApiGuard:
    def __init__(self, token: SecretStr | None) -> None:
        secret = token.get_secret_value().strip() if token is not None else ""
        self._token = secret.encode("utf-8") if secret else None

    def refusal(self, headers: Mapping[str, str]) -> Refusal | None:
        """None when the request may see personal data, else why not."""
        if self._token is None:
            return _OFF
        scheme, _, presented = (headers.get("Authorization") or "").partition(" ")
        if scheme.lower() != "bearer" or not hmac.compare_digest(presented.strip().encode("utf-8"), self._token):
            return _UNAUTHORIZED
        return None

    def __call__(self, view: Callable[..., Awaitable[Any]]) -> Callable[..., Awaitable[Any]]:
        """Decorate a Faust page function (outside `table_route`, so a refused request is not even routed)."""

        @functools.wraps(view)
        async def guarded(web: Any, request: Any, *args: Any, **kwargs: Any) -> Any:
            refusal = self.refusal(request.headers)
            if refusal is not None:
                headers = {"WWW-Authenticate": "Bearer"} if refusal.status == 401 else None
                return web.json({"error": refusal.error}, status=refusal.status, headers=headers)
            return await view(web, request, *args, **kwargs)

        return guarded
