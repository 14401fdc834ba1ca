"""The slow drip: a 200 whose body comes a few bytes at a time, so the whole reply takes far longer than any timeout.

A client whose timeout applies to each read (httpx's read timeout does) never times out on it: every read gets its
bytes in time. Only a timeout on the whole attempt ends it.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Mapping

from aiohttp import web

__all__ = ["drip"]


async def drip(request: web.Request, body: bytes, headers: Mapping[str, str], *, chunk_bytes: int,
               interval_s: float, closing: asyncio.Event) -> web.StreamResponse:
    """Send `body` as JSON, `chunk_bytes` at a time, `interval_s` apart; stop early when the server closes."""
    response = web.StreamResponse(status=200, headers={**headers, "Content-Type": "application/json"})
    response.content_length = len(body)
    await response.prepare(request)
    for start in range(0, len(body), max(1, chunk_bytes)):
        await response.write(body[start:start + max(1, chunk_bytes)])
        with contextlib.suppress(TimeoutError):
            # The simulated slowness itself, cut short when the server closes.
            await asyncio.wait_for(closing.wait(), interval_s)
        if closing.is_set():
            return response
    await response.write_eof()
    return response
