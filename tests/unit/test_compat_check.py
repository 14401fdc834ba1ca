"""The start-up check of the faust-streaming and mode-streaming versions that streams/compat/ was written for."""

from __future__ import annotations

import re
import tomllib
from collections.abc import Callable
from pathlib import Path

import pytest

from streams.compat.versions import EXPECTED_VERSIONS, UnsupportedLibraryVersion, check_versions, version_problems

ROOT = Path(__file__).resolve().parents[2]


def lookup(**versions: str | None) -> Callable[[str], str | None]:
    """A version lookup that knows only `versions` (faust_streaming="0.15.3" stands for faust-streaming)."""
    table = {name.replace("_", "-"): version for name, version in versions.items()}
    return table.get


def test_this_environment_has_the_expected_versions() -> None:
    check_versions()


def test_matching_versions_pass() -> None:
    check_versions(lookup(faust_streaming="0.15.3", mode_streaming="0.7.1"))
    assert version_problems(lookup(faust_streaming="0.15.3", mode_streaming="0.7.1")) == []


def test_another_faust_version_is_refused_with_both_versions_named() -> None:
    with pytest.raises(UnsupportedLibraryVersion) as refused:
        check_versions(lookup(faust_streaming="0.16.0", mode_streaming="0.7.1"))
    message = str(refused.value)
    assert message.startswith("faust-streaming 0.16.0 is installed, expected 0.15.3. "), "only what differs is named"
    assert "pip install 'faust-streaming==0.15.3' 'mode-streaming==0.7.1'" in message


def test_a_missing_library_and_a_wrong_one_are_both_reported() -> None:
    problems = version_problems(lookup(faust_streaming="0.15.2", mode_streaming=None))
    assert problems == ["faust-streaming 0.15.2 is installed, expected 0.15.3",
                        "mode-streaming is not installed (expected 0.7.1)"]


def test_pyproject_pins_the_checked_versions() -> None:
    dependencies = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]["dependencies"]
    pins = {}
    for requirement in dependencies:
        match = re.fullmatch(r"([A-Za-z0-9_.-]+)\s*==\s*([A-Za-z0-9_.+-]+)", requirement)
        if match:
            pins[match.group(1).lower()] = match.group(2)
    assert {name: pins.get(name) for name in EXPECTED_VERSIONS} == dict(EXPECTED_VERSIONS)


def test_orjson_floor_excludes_the_nesting_crash() -> None:
    """CVE-2024-27454: orjson before 3.9.15 crashed the process on deeply nested input."""
    dependencies = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]["dependencies"]
    (orjson,) = [d for d in dependencies if re.match(r"orjson\b", d)]
    floor = re.search(r">=\s*([0-9.]+)", orjson)
    assert floor, orjson
    assert tuple(int(p) for p in floor.group(1).split(".")) >= (3, 9, 15)
