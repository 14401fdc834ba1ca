"""`StructTable`: a Faust table that holds one `msgspec.Struct` per key, encoded once per write.

>>> profiles = StructTable(app, "profiles", UserRow, partitions=4, help="user_id → UserRow")   # doctest: +SKIP
>>> row = profiles.get("u1")                                                                   # doctest: +SKIP
>>> profiles["u1"] = row                                                                       # doctest: +SKIP

A Faust table of records encodes each value twice per write: once for RocksDB and once for the changelog record,
each time through the record's own codec. This table is declared with raw bytes for keys and values, so Faust
passes the bytes through: the value is encoded once, in its stored form (MessagePack arrays, no field names:
streams/tables/stored_form.py), and RocksDB and the changelog record share those bytes. Keys are the UTF-8 bytes of the
id.

The stored format is this module's: tables written by an older release (JSON records) must be rebuilt from a
fresh changelog (a new app id), not read.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from typing import Any, Generic, TypeVar

import msgspec

from streams.tables.stored_form import StoredCodec, field_decoder

__all__ = ["StructTable"]

R = TypeVar("R", bound=msgspec.Struct)


class StructTable(Generic[R]):
    def __init__(self, app: Any, name: str, record: type[R], *, partitions: int, help: str,
                 options: Mapping[str, Any] | None = None) -> None:
        self.table = app.Table(name, key_type=bytes, value_type=bytes, partitions=partitions, help=help,
                               options=dict(options) if options else None)
        self.record = record
        codec = StoredCodec(record)
        self._encode, self._decode = codec.encode, codec.decode

    @property
    def name(self) -> str:
        return str(self.table.name)

    def get(self, key: str) -> R | None:
        # From the store itself: the table's own `get` asks the store whether it holds the key and then for the
        # value, two RocksDB reads where one does. (It also tells Faust's sensors of the read; no sensor of ours
        # uses that.)
        raw = self.table.data.get(key.encode("utf-8"))
        return None if raw is None else self._decode(raw)

    def __setitem__(self, key: str, value: R) -> None:
        self.table[key.encode("utf-8")] = self._encode(value)

    def __delitem__(self, key: str) -> None:
        del self.table[key.encode("utf-8")]

    def __contains__(self, key: str) -> bool:
        return key.encode("utf-8") in self.table.data

    def items(self) -> Iterator[tuple[str, R]]:
        """Every row of this worker's partitions (active and standby), decoded."""
        for key, raw in self.table.items():
            yield key.decode("utf-8"), self._decode(raw)

    def raw_items(self) -> Iterator[tuple[str, bytes]]:
        """Every row undecoded, for a scan that reads one field of each (see `field_reader`)."""
        for key, raw in self.table.items():
            yield key.decode("utf-8"), raw

    def field_reader(self, name: str) -> Callable[[bytes], Any]:
        """Reads one field of a stored row (from `raw_items`) without decoding the rest, for a scan of a big table."""
        return field_decoder(self.record, name)  # type: ignore[no-any-return]
