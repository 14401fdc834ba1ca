"""Protection of personal data beyond redaction (streams/llm/redaction/): the API token of the views that show it
(`api_auth.py`) and the AES-GCM sealing of what is kept at rest (`sealing.py`)."""
