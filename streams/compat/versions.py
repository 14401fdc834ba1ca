"""The faust-streaming and mode-streaming versions the fixes in `streams/compat/` were written for, checked first.

    >>> check_versions()  # quiet with faust-streaming 0.15.3 and mode-streaming 0.7.1 installed
    >>> check_versions(lambda name: {"faust-streaming": "0.16.0"}.get(name))
    Traceback (most recent call last):
    ...
    streams.compat.versions.UnsupportedLibraryVersion: faust-streaming 0.16.0 is installed, ...

Why exact versions: the fixes replace methods of faust's `ProducerBuffer` and mode's `FlowControlEvent` with
versions that rely on those classes' private attributes and on the order in which Faust calls them. Another release
may rename an attribute (the fix then fails at run time, or worse, silently does nothing) or fix the bug differently.
pyproject.toml pins the same versions; this check catches an environment that drifted anyway (a manual upgrade, a
constraints file, an image built from another lock).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from importlib import metadata

__all__ = ["EXPECTED_VERSIONS", "UnsupportedLibraryVersion", "check_versions", "installed_version", "version_problems"]

# Distribution name -> the version streams/compat/ was read against and tested with. Keep in step with the pins
# in pyproject.toml (tests/unit/test_compat_check.py compares them).
EXPECTED_VERSIONS: Mapping[str, str] = {
    "faust-streaming": "0.15.3",
    "mode-streaming": "0.7.1",
}

VersionLookup = Callable[[str], str | None]


class UnsupportedLibraryVersion(RuntimeError):
    """An installed library is not the version the Faust fixes were written for."""


def installed_version(distribution: str) -> str | None:
    """The installed version of `distribution` (e.g. "faust-streaming"), or None when it is not installed."""
    try:
        return metadata.version(distribution)
    except metadata.PackageNotFoundError:
        return None


def version_problems(version_of: VersionLookup = installed_version,
                     expected: Mapping[str, str] = EXPECTED_VERSIONS) -> list[str]:
    """One sentence per library whose installed version differs from `expected`; empty when all match."""
    problems = []
    for name, wanted in expected.items():
        found = version_of(name)
        if found is None:
            problems.append(f"{name} is not installed (expected {wanted})")
        elif found != wanted:
            problems.append(f"{name} {found} is installed, expected {wanted}")
    return problems


def check_versions(version_of: VersionLookup = installed_version,
                   expected: Mapping[str, str] = EXPECTED_VERSIONS) -> None:
    """Raise `UnsupportedLibraryVersion` unless every library in `expected` is installed at exactly that version."""
    problems = version_problems(version_of, expected)
    if problems:
        pins = " ".join(f"'{name}=={version}'" for name, version in expected.items())
        raise UnsupportedLibraryVersion(
            f"{'; '.join(problems)}. streams/compat/ patches these libraries' internals and was written for "
            f"exactly those versions. Install them (pip install {pins}), or, to upgrade, check streams/compat/ "
            f"against the new source and update EXPECTED_VERSIONS in streams/compat/versions.py and the pins in "
            f"pyproject.toml together.")
