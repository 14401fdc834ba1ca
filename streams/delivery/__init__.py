"""The machinery every agent uses to take events and put results, without losing or repeating any.

- `output.py` — the one send path: send now (`send_output`) or until Kafka has it (`publish`); a record Kafka will
  never take is replaced by its input's dead letter, anything else retried.
- `dead_letters.py` — building, counting and sending dead letters (bounded, sealed: models/dead_letter.py).
- `pipelined.py` + `ordered_acks.py` — many events in flight in one agent, acknowledged in offset order.
- `forwarding.py` — repartitioning in input order (`forward_in_order`) and reading back offsets the consumer skipped
  (`with_skipped`, with `skipped_offsets.py` spotting the holes and `skipped_reader.py` reading them).
- `source_guard.py` — internal events read strictly, their claimed source offsets checked against the partitions' ends.
- `poison.py` — an event whose handling keeps raising is dead-lettered so its partition moves on.
- `lag.py`, `watermark.py`, `due_index.py` — consumer lag, the event-time watermark, what comes due when.
"""
