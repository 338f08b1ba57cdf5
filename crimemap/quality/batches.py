"""Validating a table in batches: no suite holds a large table in memory whole.

Great Expectations validates pandas frames, so a 10-million-row landing or fact table would be
held in Python whole. Instead, a table with more than ``BATCH_ROWS`` rows is validated batch by
batch, and the batches' results are combined into the result one validation of the whole table
gives: row counts and unexpected counts add up, and each ``mostly`` is judged on the sums with
Great Expectations' own rule. Rows are judged by GX; only the counting is done here.

A uniqueness expectation can be judged batch by batch only when equal values meet in one batch,
so such a table is split by a hash of its key (``bucket_columns``); a suite with uniqueness on two
different keys cannot be split, and is validated whole.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from crimemap.quality.suites import SuiteSpec

BATCH_ROWS = 500_000  # rows per validated frame: about 250 MB of pandas for a dozen columns

# Expectations whose result is a row count or a count of distinct values: batches add up when
# they share no row (and, for distinct values, split by that column).
_SUMMED = {"expect_table_row_count_to_be_between", "expect_column_unique_value_count_to_be_between"}
# The same in every batch of one table: its columns.
_SAME_IN_EVERY_BATCH = {"expect_table_columns_to_match_set"}
# Uniqueness: judged per batch only if the batches are split by these columns' values.
_UNIQUENESS = {
    "ExpectColumnValuesToBeUnique",
    "ExpectCompoundColumnsToBeUnique",
    "ExpectColumnUniqueValueCountToBeBetween",
}
PARTIAL_UNEXPECTED = 20  # GX's BASIC format keeps the first 20 unexpected values


class NotBatchable(ValueError):
    """A suite whose expectations cannot be judged batch by batch."""


def bucket_columns(spec: SuiteSpec) -> tuple[str, ...] | None:
    """The columns a table must be split by for ``spec`` to be judged in batches: ``()`` when
    any split will do, ``None`` when none will (uniqueness on two different keys)."""
    keys = {
        tuple(exp.kwargs.get("column_list") or [exp.kwargs["column"]])
        for exp in spec.expectations
        if exp.kind in _UNIQUENESS
    }
    if len(keys) > 1:
        return None
    return next(iter(keys), ())


def rows_per_file_batch(spec: SuiteSpec) -> int | None:
    """Rows per batch for a table read file by file, in no order of any key: ``BATCH_ROWS``,
    or ``None`` (the table whole) when ``spec`` needs equal keys in one batch."""
    return BATCH_ROWS if bucket_columns(spec) == () else None


def combine_results(batches: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """One GX validation result (its JSON dict) for a table, from its batches' results (same
    suite, rows split between batches). One batch is returned as it is."""
    if not batches:
        raise ValueError("no batch results to combine")
    combined = copy.deepcopy(dict(batches[0]))
    if len(batches) == 1:
        return combined
    results = [
        _combined_expectation([b["results"][i] for b in batches])
        for i in range(len(batches[0]["results"]))
    ]
    passed = sum(1 for r in results if r["success"])
    combined["results"] = results
    combined["success"] = passed == len(results)
    combined["statistics"] = {
        "evaluated_expectations": len(results),
        "successful_expectations": passed,
        "unsuccessful_expectations": len(results) - passed,
        "success_percent": 100.0 * passed / len(results) if results else None,
    }
    combined.setdefault("meta", {})["batches"] = len(batches)
    return combined


def _combined_expectation(parts: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """One expectation's result over all batches."""
    raised = [p for p in parts if (p.get("exception_info") or {}).get("raised_exception")]
    if raised:  # an expectation that could not be evaluated on a batch failed on the table
        return copy.deepcopy(dict(raised[0]))
    config = parts[0]["expectation_config"]
    kind, kwargs = config["type"], config.get("kwargs") or {}
    combined = copy.deepcopy(dict(parts[0]))
    details = [p.get("result") or {} for p in parts]
    if kind in _SAME_IN_EVERY_BATCH:
        return next((copy.deepcopy(dict(p)) for p in parts if not p["success"]), combined)
    if kind in _SUMMED:
        observed = sum(int(d["observed_value"]) for d in details)
        combined["result"] = {**details[0], "observed_value": observed}
        combined["success"] = _within_bounds(observed, kwargs)
        return combined
    if all("element_count" in d for d in details):
        combined["result"], combined["success"] = _combined_map_result(details, kwargs)
        return combined
    raise NotBatchable(f"{kind}: its result cannot be combined across batches")


def _within_bounds(observed: int, kwargs: Mapping[str, Any]) -> bool:
    if kwargs.get("strict_min") or kwargs.get("strict_max"):
        raise NotBatchable("strict bounds are not combined across batches")
    low, high = kwargs.get("min_value"), kwargs.get("max_value")
    return (low is None or observed >= low) and (high is None or observed <= high)


def _combined_map_result(
    details: Sequence[Mapping[str, Any]], kwargs: Mapping[str, Any]
) -> tuple[dict[str, Any], bool]:
    """A row-by-row expectation's counts summed, its success judged as GX judges it: vacuously
    true with no row considered, else (considered - unexpected) / considered >= mostly."""
    element = sum(int(d["element_count"]) for d in details)
    unexpected = sum(int(d["unexpected_count"]) for d in details)
    tracks_missing = "missing_count" in details[0]
    missing = sum(int(d.get("missing_count") or 0) for d in details)
    considered = element - missing
    mostly = float(kwargs.get("mostly", 1.0))
    success = considered == 0 or (considered - unexpected) / considered >= mostly
    partial = [v for d in details for v in d.get("partial_unexpected_list") or []]
    total = unexpected / element * 100 if element else None
    result: dict[str, Any] = {
        "element_count": element,
        "unexpected_count": unexpected,
        "unexpected_percent": (unexpected / considered * 100 if considered else None)
        if tracks_missing
        else total,
        "partial_unexpected_list": partial[:PARTIAL_UNEXPECTED],
    }
    if tracks_missing:
        result |= {
            "missing_count": missing,
            "missing_percent": missing / element * 100 if element else None,
            "unexpected_percent_total": total,
            "unexpected_percent_nonmissing": result["unexpected_percent"],
        }
    return result, success
