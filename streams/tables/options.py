"""RocksDB settings for the worker's tables: what bounds the memory a table takes, whatever its size.

>>> app.Table("profiles", options=table_options(settings), ...)       # doctest: +SKIP

Faust opens one RocksDB database per table and partition, each with up to three 64 MB memtables and a 2 GB block
cache (faust/stores/rocksdb.py defaults): sized for one big table on a big machine. A worker has a dozen tables and
four or more partitions each, and the profile table alone, filled with a million profiles, kept most of its
memtables full: the worker's resident memory reached 1.15 GB (bench.profiles). Smaller memtables flush to disk
sooner (more, smaller files; compaction merges them), and a bounded block cache keeps the hot rows of the batch
folds. The bloom filters get 10 bits per key instead of Faust's 3: a read of a key that is not there (every new
user's first click) then reads a data block of ~1 % of the files it checks instead of ~25 %, for 1.2 MB of filter
per million keys (RocksDB's own recommendation). Faust's store takes these names (`RocksDBOptions`).
`REVIEWSTREAM_TABLE_MEMTABLE_MIB` and `REVIEWSTREAM_TABLE_BLOCK_CACHE_MIB` set the sizes (64 and 2048 are Faust's
own).
"""

from __future__ import annotations

from typing import Any, Protocol

__all__ = ["table_options"]

_MIB = 2**20


class _TableSettings(Protocol):
    table_memtable_mib: int
    table_block_cache_mib: int


def table_options(settings: _TableSettings) -> dict[str, Any]:
    """A fresh dict each time: Faust's store pops keys from the dict it is given."""
    return {"write_buffer_size": settings.table_memtable_mib * _MIB, "max_write_buffer_number": 2,
            "block_cache_size": settings.table_block_cache_mib * _MIB, "bloom_filter_size": 10}
