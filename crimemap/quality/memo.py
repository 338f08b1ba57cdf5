"""Validation results reused when a suite meets rows it has already judged.

A batch's GX validation result is a function of three things: the suite's expectations, the frame
GX validates (after ``prepare_frame``) and the GX version. When all three are unchanged since the
last run, validating again gives the same result, so a re-run with no new data, or a new month on
a landing read month by month, validates only what changed. The key is a digest of all three; a
suite's memo holds the batches of its last run only, so it never outgrows one run's results.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from collections.abc import Mapping
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


# What the kinds crimemap's suites use read of a frame: the values of the columns their arguments
# name (``column``, ``column_list``, a row condition's columns), or only its shape. A kind not
# listed here is taken to read every value.
_COLUMN_KINDS = frozenset(
    {
        "ExpectColumnPairValuesAToBeGreaterThanB",
        "ExpectColumnUniqueValueCountToBeBetween",
        "ExpectColumnValuesToBeBetween",
        "ExpectColumnValuesToBeInSet",
        "ExpectColumnValuesToBeNull",
        "ExpectColumnValuesToBeUnique",
        "ExpectColumnValuesToMatchRegex",
        "ExpectColumnValuesToNotBeNull",
        "ExpectCompoundColumnsToBeUnique",
    }
)
_SHAPE_KINDS = frozenset({"ExpectTableColumnsToMatchSet", "ExpectTableRowCountToBeBetween"})


def judged_columns(spec: SuiteSpec) -> frozenset[str] | None:
    """The columns whose values the suite's expectations read; ``None``: possibly all."""
    named: set[str] = set()
    for expectation in spec.expectations:
        if expectation.kind in _SHAPE_KINDS:
            continue
        if expectation.kind not in _COLUMN_KINDS:
            return None
        named |= _named_columns(expectation.kwargs)
    return frozenset(named)


def _named_columns(value: Any) -> set[str]:
    """Column names in expectation arguments, row conditions included (``{"column": {"name":
    ...}}``, nested in ``and``/``or`` conditions)."""
    found: set[str] = set()
    if isinstance(value, Mapping):
        for key, item in value.items():
            if key in ("column", "column_A", "column_B") and isinstance(item, str):
                found.add(item)
            elif key == "column_list" and isinstance(item, (list, tuple)):
                found |= {str(c) for c in item}
            elif key == "column" and isinstance(item, Mapping) and "name" in item:
                found.add(str(item["name"]))
            else:
                found |= _named_columns(item)
    elif isinstance(value, (list, tuple)):
        for item in value:
            found |= _named_columns(item)
    return found


def frame_digest(frame: pd.DataFrame, columns: frozenset[str] | None = None) -> str | None:
    """The frame as a suite sees it: every column's name and type, the row count, and the values
    of ``columns`` (all when ``None``) as a multiset of rows. Row order is left out: it changes
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
            rows = pd.util.hash_pandas_object(frame[read], index=False).to_numpy()
        except TypeError:
            return None
        # a sum (mod 2**64) of row hashes, and of their squares: equal for equal multisets
        total = int(rows.sum(dtype=np.uint64))
        squares = int((rows * rows).sum(dtype=np.uint64))
        digest.update(f"{total}:{squares}".encode())
    return digest.hexdigest()


class ResultMemo:
    """One suite's batch results by key, read from and written back to ``path``."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.known = self._read(path)
        self.used: dict[str, Mapping[str, Any]] = {}
        self.reused = 0

    @staticmethod
    def _read(path: Path) -> dict[str, Mapping[str, Any]]:
        try:
            found = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return {}  # none yet, or unreadable: everything is validated
        return found if isinstance(found, dict) else {}

    def get(self, key: str | None) -> Mapping[str, Any] | None:
        found = self.known.get(key) if key is not None else None
        if found is not None:
            self.reused += 1
            self.used[key] = found  # type: ignore[index]
        return found

    def put(self, key: str | None, result: Mapping[str, Any]) -> None:
        if key is not None:
            self.used[key] = result

    def save(self) -> None:
        """Keep this run's batches, and only them."""
        text = json.dumps(self.used, default=str)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        write_atomic(self.path, lambda tmp: tmp.write_text(text, encoding="utf-8"))
