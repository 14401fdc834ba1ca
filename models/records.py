"""The base of every record on the wire: Faust's Record, as plain JSON (no Faust metadata), with one `to_dict`.

>>> from models.insight import Aspect, ReviewAnalysis
>>> analysis = ReviewAnalysis(sentiment="positive", sentiment_score=0.9, intent="praise", urgency="low", issues=[],
...     aspects=[Aspect(name="kettle", sentiment="positive", evidence="boils fast")], competitors=[], summary="ok",
...     suggested_reply=None, language="en")
>>> analysis.to_dict()["aspects"]
[{'name': 'kettle', 'sentiment': 'positive', 'evidence': 'boils fast'}]

`to_dict` is the record as its JSON Schema describes it (nested records as dicts); reading one back is Faust's own
`Record.from_data`, which rebuilds nested records from the field types.
"""

from __future__ import annotations

from typing import Any

import faust

__all__ = ["WireRecord", "plain"]


class WireRecord(faust.Record, abstract=True, include_metadata=False, serializer="json"):
    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready dict, the same shape as on the wire."""
        return {name: plain(getattr(self, name)) for name in self._options.fields}


def plain(value: Any) -> Any:
    """Records, and records inside lists and dicts, as plain dicts; anything else as it is."""
    if isinstance(value, WireRecord):
        return value.to_dict()
    if isinstance(value, faust.Record):
        return {name: plain(getattr(value, name)) for name in value._options.fields}
    if isinstance(value, list):
        return [plain(item) for item in value]
    if isinstance(value, dict):
        return {key: plain(item) for key, item in value.items()}
    return value
