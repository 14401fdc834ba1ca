"""Private attributes of faust-streaming 0.15.3 that the worker reads, each behind one accessor.

Faust keeps the committed offsets privately (`Consumer._committed_offset`) and exposes no lag metric, and its RocksDB
store keeps one database per partition in `Store._dbs`; the metrics need both. Its router proxies an HTTP request to
another worker only behind a key lookup that serializes the key with the table's key codec
(`Router._route_req` does the proxying alone); the views need the proxying with their own lookup. Checked with the
versions in `versions.py`. And a message Faust delivers a second time in one consumer generation (after its
post-rebalance seek) stays in the consumer's set of unacknowledged messages (`Consumer._unacked_messages`, a weak
set emptied of messages whose `acked` is set) while anything refers to it: `release_redelivery` lets it go.
"""

from __future__ import annotations

from typing import Any

__all__ = ["committed_offset", "partition_databases", "proxy_request", "release_redelivery"]


def committed_offset(consumer: Any, tp: Any) -> int | None:
    """The offset Faust last committed for `tp` (the next one to read), or None before its first commit."""
    offsets: dict[Any, int] = consumer._committed_offset
    return offsets.get(tp)


def partition_databases(store: Any) -> dict[Any, Any] | None:
    """A RocksDB table store's open databases by partition, or None for another store (memory://)."""
    return getattr(store, "_dbs", None)


async def proxy_request(app: Any, destination: Any, web: Any, request: Any) -> Any:
    """The response of the worker at `destination` (a URL) to `request`; raises `faust.exceptions.SameNode` when
    that worker is this one."""
    return await app.router._route_req(destination, web, request)


def release_redelivery(message: Any) -> None:
    """Tell Faust that a re-delivered message whose offset an earlier delivery already stands for needs no ack.

    An agent that skips such a message never acknowledges it, and the stream keeps a reference to the last one it
    yielded until the next message comes: at the next rebalance `Consumer.wait_empty` waited for it forever (seen:
    a worker stuck in "Revoking previously assigned partitions" with the group waiting for it). Setting the flag
    records no offset: the earlier delivery's ack still decides the commit."""
    if hasattr(message, "acked"):
        message.acked = True
