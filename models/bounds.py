"""The limits every record must respect, in one place: what Kafka accepts, and what a field may hold.

Kafka refuses a record larger than the producer's `max_request_size` before it leaves the process, and a record batch
larger than the topic's `max.message.bytes` at the broker. Both defaults are about 1 MB (producer 1,048,576 in aiokafka,
1,000,000 in Faust; broker `message.max.bytes` 1,048,588), so an accepted input close to 1 MB can make an output —
a dead letter that kept the original, base64 being a third larger — that nothing will carry. The worker therefore sets
both limits itself (`streams/app.py`, `streams/topics.py`): the topic's is larger than the producer's by more than a
batch header, so that whatever the producer accepts the broker accepts too, and every output we build is bounded below
the producer's.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Final

__all__ = ["DEAD_LETTER_HEAD_BYTES", "DEAD_LETTER_MAX_BYTES", "DEFAULT_BOUNDS", "ID_CHARS", "LANGUAGE_CODE",
           "MAX_OFFSET", "PRODUCER_MAX_REQUEST_BYTES", "TOPIC_MAX_MESSAGE_BYTES", "FieldBounds"]

# The producer's limit on one record (aiokafka checks key + value + headers + record overhead against it).
PRODUCER_MAX_REQUEST_BYTES: Final = 1_000_000
# The topics we create: Kafka's own broker default (`message.max.bytes`), stated so that a broker configured lower
# cannot make our outputs unsendable; 48 kB above the producer's limit covers any batch header.
TOPIC_MAX_MESSAGE_BYTES: Final = 1_048_588
# A dead letter as JSON stays below this: the producer's limit, less room for the record's own overhead.
DEAD_LETTER_MAX_BYTES: Final = PRODUCER_MAX_REQUEST_BYTES - 16 * 1024
# An original too large for its letter keeps its first bytes only (with its size and sha256): enough to see what it
# was and where it went wrong, without making the dead-letter topic a copy of whatever was refused.
DEAD_LETTER_HEAD_BYTES: Final = 64 * 1024


@dataclass(frozen=True, slots=True)
class FieldBounds:
    """What a field of an input event may hold; anything outside is an `out_of_range` (or `field_too_long`, `bad_id`)
    dead letter, never a value a fold, a codec or a downstream consumer has to cope with. The defaults are the
    settings' defaults (`REVIEWSTREAM_MAX_*`, `REVIEWSTREAM_EVENT_TIME_*`)."""

    # Long enough for any real review (the longest in the bundled corpora is ~4k characters), short enough that one
    # event cannot blow the LLM context or the token budget.
    max_text_chars: int = 8000
    max_id_chars: int = 200
    # Enough for any search box; a longer "query" is a bot or a bug, and it would bloat sessions and profiles.
    max_query_chars: int = 500
    # In the shop's currency: high enough for any item in any currency (a car in Indonesian rupiah is ~1e9), low
    # enough that no sum of prices in a profile comes near float infinity.
    max_price: float = 1e10
    max_quantity: int = 100_000
    # Event times outside [now - max_age, now + max_ahead] are someone's bug (milliseconds taken for seconds, a
    # zeroed clock, 1e300): they would open windows no one reads and sessions that never close.
    max_event_age_s: float = 20 * 365 * 86400.0
    max_event_ahead_s: float = 86400.0

    def __post_init__(self) -> None:
        if min(self.max_text_chars, self.max_id_chars, self.max_query_chars, self.max_quantity) < 1 or \
                min(self.max_price, self.max_event_age_s, self.max_event_ahead_s) <= 0:
            raise ValueError(f"bounds must be positive, got {self}")


DEFAULT_BOUNDS: Final = FieldBounds()
# Ids are opaque to us but travel into keys, file names and URLs: word characters (any script) and a few separators
# shop systems use; no whitespace, control characters, slashes or quotes.
ID_CHARS: Final = re.compile(r"[\w.:@#+=~|-]+")
# An ISO 639 code with an optional region or script: en, zh, zh-Hant, pt-BR.
LANGUAGE_CODE: Final = re.compile(r"[a-z]{2,3}(?:-[A-Za-z0-9]{2,8}){0,2}")
# Kafka offsets are signed 64-bit.
MAX_OFFSET: Final = 2**63 - 1
