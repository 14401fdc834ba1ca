"""The LLM gateway: the one place that talks to a model (or the offline analyzer that stands in for one)."""
