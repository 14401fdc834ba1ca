"""A worker with two planted bugs, for the poison-pill test: the offline analyzer raises for any review that says
POISON-PILL, and the profile fold raises for user `u-poison`. Run it as `python -m tests.integration.poison_injection
worker ...`; everything else is the real worker."""

from __future__ import annotations

import sys
from typing import Any

import models.user_row
from streams.commands.cli import main
from streams.llm.analyzer import AnalyzerReply, ReviewText
from streams.llm.local import LocalAnalyzer

_analyze = LocalAnalyzer.analyze
_fold_click = models.user_row.fold_click_into_row


async def _poisoned_analyze(self: LocalAnalyzer, review: ReviewText) -> AnalyzerReply:
    if "POISON-PILL" in review.text:
        raise ZeroDivisionError("planted bug: this review cannot be analysed")
    return await _analyze(self, review)


def _poisoned_fold(row: Any, click: Any, *args: Any, **kwargs: Any) -> Any:
    if click.user_id == "u-poison":
        raise RuntimeError("planted bug: this user's clicks cannot be folded")
    return _fold_click(row, click, *args, **kwargs)


if __name__ == "__main__":
    LocalAnalyzer.analyze = _poisoned_analyze  # type: ignore[method-assign]
    models.user_row.fold_click_into_row = _poisoned_fold
    sys.exit(main())
