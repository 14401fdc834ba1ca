"""The stored form of a record: the same fields, written as MessagePack arrays instead of maps — no field names in
the bytes.

>>> class Line(msgspec.Struct):
...     product_id: str
...     qty: int
>>> codec = StoredCodec(Line)
>>> codec.encode(Line("p1", 2)), codec.decode(codec.encode(Line("p1", 2)))
(b'\\x92\\xa2p1\\x02', Line(product_id='p1', qty=2))

A profile row with one click is ~800 bytes as a map and ~250 as an array: the names were two thirds of every row
RocksDB wrote, rewrote at each compaction and sent to the changelog. The records keep their field names everywhere
else (topics, the HTTP view, tests): the table codec converts a record to an array-like twin of its type (built
once, field by field, nested records included) and back, in msgspec's C code (~3 µs each way for a row).

Arrays are positional: a release that adds a field must add it last, with a default (msgspec then reads older rows,
which lack it); removing or reordering fields needs new changelogs.
"""

from __future__ import annotations

import types
import typing
from typing import Any, Generic, TypeVar, Union, get_args, get_origin

import msgspec

__all__ = ["StoredCodec", "field_decoder", "stored_type"]

S = TypeVar("S", bound=msgspec.Struct)

_TWINS: dict[type, type[msgspec.Struct]] = {}


def stored_type(record: type[msgspec.Struct]) -> type[msgspec.Struct]:
    """The array-like twin of `record`: the same fields, defaults and types, nested records replaced by their
    twins."""
    twin = _TWINS.get(record)
    if twin is not None:
        return twin
    hints = typing.get_type_hints(record)
    fields: list[tuple[str, Any] | tuple[str, Any, Any]] = []
    for info in msgspec.structs.fields(record):
        annotation = _twin_annotation(hints[info.name])
        if info.default is not msgspec.NODEFAULT:
            fields.append((info.name, annotation, info.default))
        elif info.default_factory is not msgspec.NODEFAULT:
            fields.append((info.name, annotation, msgspec.field(default_factory=info.default_factory)))
        else:
            fields.append((info.name, annotation))
    twin = msgspec.defstruct(f"{record.__name__}Stored", fields, array_like=True, gc=False)
    _TWINS[record] = twin
    return twin


def _twin_annotation(annotation: Any) -> Any:
    if isinstance(annotation, type) and issubclass(annotation, msgspec.Struct):
        return stored_type(annotation)
    origin = get_origin(annotation)
    if origin is None:
        return annotation
    args = tuple(_twin_annotation(arg) for arg in get_args(annotation))
    if origin in (Union, types.UnionType):
        union = args[0]
        for arg in args[1:]:
            union = union | arg
        return union
    return origin[args]


def field_decoder(record: type[msgspec.Struct], name: str) -> Any:
    """A function that reads one field of a stored `record` and returns it as the record would hold it, without
    decoding the others: the fields before it are skipped as raw bytes, those after it are not read."""
    hints = typing.get_type_hints(record)
    before: list[tuple[str, Any] | tuple[str, Any, Any]] = []
    for info in msgspec.structs.fields(record):
        if info.name == name:
            break
        before.append((info.name, msgspec.Raw))
    else:
        raise ValueError(f"{record.__name__} has no field {name!r}")
    part = msgspec.defstruct(f"{record.__name__}{name.title()}Stored",
                             [*before, (name, _twin_annotation(hints[name]), None)], array_like=True)
    decode, annotation = msgspec.msgpack.Decoder(part).decode, hints[name]

    def read(raw: bytes) -> Any:
        return msgspec.convert(getattr(decode(raw), name), annotation, from_attributes=True)

    return read


class StoredCodec(Generic[S]):
    """Encodes a record in its stored form and decodes it back to the record's own type."""

    def __init__(self, record: type[S]) -> None:
        self.record = record
        self.stored = stored_type(record)
        self._encode = msgspec.msgpack.Encoder().encode
        self._decode = msgspec.msgpack.Decoder(self.stored).decode

    def encode(self, value: S) -> bytes:
        return self._encode(msgspec.convert(value, self.stored, from_attributes=True))

    def decode(self, raw: bytes) -> S:
        return msgspec.convert(self._decode(raw), self.record, from_attributes=True)
