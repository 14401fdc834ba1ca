"""The demo's summary: a second run on the same broker says why few outputs came out instead of looking broken."""

from __future__ import annotations

from streams.commands.demo import DemoResult, _summary


def _result(**fields: object) -> DemoResult:
    result = DemoResult(expected_insights=1, expected_dead_letters=0, expected_profiles={"u1"},
                        insights={"r1": {"sentiment": "positive", "intent": "praise", "language": "en"}},
                        profiles={"u1": {"segment": "new"}})
    for name, value in fields.items():
        setattr(result, name, value)
    return result


def test_a_first_run_has_no_replay_note() -> None:
    summary = _summary(_result())
    assert "complete: every sample event accounted for" in summary
    assert "seen the sample before" not in summary


def test_a_replay_says_the_folds_skipped_what_they_had_seen_and_how_to_start_afresh() -> None:
    summary = _summary(_result(profiles_from_tables=1))
    note = summary.splitlines()[-1]
    assert note.startswith("note:") and "seen the sample before" in note
    assert "1 were read from the worker's tables" in note and "kafka.sh reset" in note
