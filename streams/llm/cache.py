"""A bounded cache of analyses keyed by the normalised, redacted review text.

Shops see the same short reviews again and again ("好评", "Great product!"); each costs a request only once.
The key is built from the text the model would see (already redacted), so no personal data sits in the cache.

>>> cache = AnalysisCache[str](max_entries=2)
>>> cache.put(cache.key("Great  product!", "en"), "a"); cache.get(cache.key("great product!", "en"))
'a'

Eviction is `cachetools.LRUCache`'s (least recently read or written goes first); this class adds the key and the
hit/miss counts the gateway reports.
"""

from __future__ import annotations

import hashlib
from typing import Generic, TypeVar

from cachetools import LRUCache

from streams.llm.validation import normalise_for_match

__all__ = ["AnalysisCache"]

V = TypeVar("V")


class AnalysisCache(Generic[V]):
    def __init__(self, max_entries: int = 50_000) -> None:
        self.max_entries = max_entries
        # cachetools refuses a size of 0; a cache of no entries simply stores nothing (see `put`).
        self._entries: LRUCache[str, V] = LRUCache(maxsize=max(1, max_entries))
        self.hits = 0
        self.misses = 0

    @staticmethod
    def key(text: str, lang_hint: str | None = None) -> str:
        digest = hashlib.blake2b(normalise_for_match(text).encode("utf-8"), digest_size=16).hexdigest()
        return f"{lang_hint or '-'}:{digest}"

    def get(self, key: str) -> V | None:
        value = self._entries.get(key)  # a read counts as a use: it moves the entry to the young end
        if value is None:
            self.misses += 1
            return None
        self.hits += 1
        return value

    def put(self, key: str, value: V) -> None:
        if self.max_entries <= 0:
            return
        self._entries[key] = value
