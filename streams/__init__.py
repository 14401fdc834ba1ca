"""The Faust application and its machinery: settings, topics, the LLM gateway, ordered acks, metrics, the CLI."""
