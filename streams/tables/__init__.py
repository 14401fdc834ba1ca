"""The worker's tables: their RocksDB options, the stored form of their rows (MessagePack arrays) and the table of
msgspec records that uses it."""
