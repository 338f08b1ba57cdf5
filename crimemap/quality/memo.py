"""Validation results reused when a suite meets rows it has already judged.

A batch's GX validation result is a function of three things: the suite's expectations, the frame
GX validates (after ``prepare_frame``) and the GX version. When all three are unchanged since the
last run, validating again gives the same result, so a re-run with no new data, or a new month on
a landing read month by month, validates only what changed. The key is a digest of all three; a
suite's memo holds the batches of its last two runs at most.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import time
from collections.abc import Collection, Mapping
from importlib.metadata import version
from pathlib import Path
from typing import TYPE_CHECKING, Any

from crimemap.core.files import write_atomic

if TYPE_CHECKING:
    import pandas as pd

    from crimemap.quality.suites import SuiteSpec


def suite_digest(spec: SuiteSpec) -> str:
    """The suite's expectations and frame preparation, with the GX version that judges them."""
    described = json.dumps(
        [dataclasses.asdict(spec), version("great-expectations")], sort_keys=True, default=str
    )
    return hashlib.sha256(described.encode()).hexdigest()


def frame_digest(frame: pd.DataFrame, columns: Collection[str] | None = None) -> str | None:
    """The frame as a suite sees it: every column's name and type, the row count, and the values
    of ``columns`` (all when ``None``; a suite reads the ones its expectations name,
    ``suites.read_columns``) as a multiset of rows. Row order is left out: it changes
    no count or success, only which unexpected values GX lists first. ``None`` for values pandas
    cannot hash (a cell holding a list, say): that frame is always validated."""
    import numpy as np
    import pandas as pd

    digest = hashlib.sha256()
    shape = [[str(c), str(t)] for c, t in frame.dtypes.items()]
    digest.update(json.dumps([shape, len(frame)]).encode())
    read = [c for c in frame.columns if columns is None or c in columns]
    if read:
        try:
            rows = pd.util.hash_pandas_object(settled_floats(frame[read]), index=False).to_numpy()
        except TypeError:
            return None
        # a sum (mod 2**64) of row hashes, and of their squares: equal for equal multisets
        total = int(rows.sum(dtype=np.uint64))
        squares = int((rows * rows).sum(dtype=np.uint64))
        digest.update(f"{total}:{squares}".encode())
    return digest.hexdigest()


# Floats enter the key to 40 bits of mantissa (about 12 significant digits). DuckDB sums in
# parallel, in no fixed order, so a mart's doubles can differ in their last bits between two
# builds of the same tables (about 1e-16 relative); a bound the suites set is never that close
# to a value it decides.
FLOAT_MANTISSA_BITS = 40


def settled_floats(frame: pd.DataFrame) -> pd.DataFrame:
    """``frame`` with every float column rounded to ``FLOAT_MANTISSA_BITS`` of mantissa."""
    import numpy as np

    floats = [c for c, t in frame.dtypes.items() if t.kind == "f"]
    if not floats:
        return frame
    settled = frame.copy(deep=False)
    scale = float(2**FLOAT_MANTISSA_BITS)
    for column in floats:
        values = frame[column].to_numpy(dtype="float64", na_value=np.nan)
        mantissa, exponent = np.frexp(values)
        settled[column] = np.ldexp(np.round(mantissa * scale) / scale, exponent)
    return settled


# When the run that wrote an entry started (one process runs the whole pipeline). A suite can be
# validated several times in one run (a landing's column sets, each on its own), so a save keeps
# the previous run's entries it has not met yet: a later group of this run may still need them.
_THIS_RUN = time.time_ns()


class ResultMemo:
    """One suite's batch results by key, read from and written back to ``path``: this run's, and
    the previous run's that this run has not replaced."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.known = {key: entry["result"] for key, entry in self._read(path).items()}
        self.used: dict[str, Mapping[str, Any]] = {}
        self.reused = 0

    @staticmethod
    def _read(path: Path) -> dict[str, Mapping[str, Any]]:
        try:
            found = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return {}  # none yet, or unreadable: everything is validated
        if not isinstance(found, dict):
            return {}
        return {
            key: entry
            for key, entry in found.items()
            if isinstance(entry, dict) and isinstance(entry.get("run"), int) and "result" in entry
        }

    def get(self, key: str | None) -> Mapping[str, Any] | None:
        found = self.known.get(key) if key is not None else None
        if key is not None and found is not None:
            self.reused += 1
            self.used[key] = found
        return found

    def put(self, key: str | None, result: Mapping[str, Any]) -> None:
        if key is not None:
            self.used[key] = result

    def save(self) -> None:
        """This run's entries (this validation's, and earlier ones of this run), and the previous
        run's that none of them replaced; anything older goes."""
        stored = self._read(self.path)
        earlier = [entry["run"] for entry in stored.values() if entry["run"] < _THIS_RUN]
        previous = max(earlier, default=None)
        kept = {
            key: entry
            for key, entry in stored.items()
            if entry["run"] in (_THIS_RUN, previous) and key not in self.used
        }
        kept |= {key: {"run": _THIS_RUN, "result": result} for key, result in self.used.items()}
        text = json.dumps(kept, default=str)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        write_atomic(self.path, lambda tmp: tmp.write_text(text, encoding="utf-8"))
