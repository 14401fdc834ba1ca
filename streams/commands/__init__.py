"""What a user runs: `reviewstream worker|demo|analyze|replay|tail|profile|product|forget|dead-letters|simulate-llm`.

`cli.py` parses the command line and hands each command to its module: `demo.py` (a local broker, a worker and the
bundled sample, results live), `analyze.py` (a reviews file offline, no Kafka), `replay.py` (a file into a topic),
`forget.py` (an erasure request, and its audit record), `dead_letters.py` (show, open, redrive).
"""
