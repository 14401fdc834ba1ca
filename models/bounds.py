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

from typing import Final

__all__ = ["DEAD_LETTER_HEAD_BYTES", "DEAD_LETTER_MAX_BYTES", "PRODUCER_MAX_REQUEST_BYTES", "TOPIC_MAX_MESSAGE_BYTES"]

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
