"""How every client of the project reaches Kafka: one parse of the broker address and one set of security settings
(`client.py`), and a connection check before a worker starts (`preflight.py`)."""
