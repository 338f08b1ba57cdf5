"""The JSON Schema of manifest.json (manifest_version 2) and validate_manifest."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from typing import Any

import pytest
from jsonschema import Draft202012Validator

from crimemap.warehouse.schema_contract import (
    MANIFEST_SCHEMA_PATH,
    manifest_schema,
    validate_manifest,
)

SHA_A = "a" * 64
SHA_B = "0123456789abcdef" * 4


def valid_manifest() -> dict[str, Any]:
    """A hand-written v2 manifest: a hive-partitioned spatial layer and a plain table."""
    return {
        "manifest_version": 2,
        "release_id": "20261125T101500Z-a1b2c3",
        "created_at": "2026-11-25T10:15:00Z",
        "schema_version": "1.0.0",
        "code_version": "crimemap 0.1.0+g1a2b3c4",
        "jurisdiction": "Sample City",
        "privacy_rules": ["incident points generalized to the centroid of a 250 m grid cell"],
        "privacy": {
            "min_cell_count": 5,
            "point_generalization": "grid",
            "point_cell_m": 250.0,
            "min_population": 300,
        },
        "source_freshness": [
            {
                "source": "police_sample",
                "family": "police",
                "column": "occurred_at",
                "latest": "2026-06-30",
                "loaded_at": "2026-07-01T06:00:00+00:00",
                "rows": 24000,
            },
            {
                "source": "boundaries",
                "family": "boundaries",
                "column": None,
                "latest": None,
                "loaded_at": "2026-07-01T06:00:00+00:00",
                "rows": 120,
            },
        ],
        "layers": [
            {
                "name": "incidents",
                "description": "One row per offense, points generalized.",
                "spatial": True,
                "format": "GeoParquet 1.1.0",
                "path": "incidents",
                "partitioning": {"flavor": "hive", "columns": ["year", "month"]},
                "geometry_column": "geometry",
                "crs": "OGC:CRS84",
                "geometry_types": ["Point"],
                "bbox": [-122.43, 47.54, -122.23, 47.66],
                "rows": 1500,
                "bytes": 7000,
                "columns": [
                    {"name": "offense_id", "type": "VARCHAR", "description": "Salted hash."},
                    {"name": "occurred_date", "type": "DATE"},
                    {"name": "geometry", "type": "GEOMETRY('OGC:CRS84')"},
                    {
                        "name": "bbox",
                        "type": "STRUCT(xmin DOUBLE, ymin DOUBLE, xmax DOUBLE, ymax DOUBLE)",
                    },
                    {"name": "year", "type": "INTEGER"},
                    {"name": "month", "type": "INTEGER"},
                ],
                "time_extent": {
                    "column": "occurred_date",
                    "min": "2024-07-01",
                    "max": "2024-08-31",
                },
                "files": [
                    {
                        "path": "incidents/year=2024/month=7/part-0.parquet",
                        "rows": 1000,
                        "bytes": 5000,
                        "sha256": SHA_A,
                    },
                    {
                        "path": "incidents/year=2024/month=8/part-0.parquet",
                        "rows": 500,
                        "bytes": 2000,
                        "sha256": SHA_B,
                    },
                ],
            },
            {
                "name": "quality_scorecard",
                "description": "Data quality by source and month.",
                "spatial": False,
                "format": "Parquet",
                "path": "quality_scorecard.parquet",
                "partitioning": None,
                "geometry_types": [],
                "bbox": None,
                "rows": 24,
                "bytes": 900,
                "columns": [
                    {"name": "source", "type": "VARCHAR"},
                    {"name": "month", "type": "DATE"},
                ],
                "time_extent": None,
                "files": [
                    {"path": "quality_scorecard.parquet", "rows": 24, "bytes": 900, "sha256": SHA_B}
                ],
            },
        ],
    }


def test_schema_file_is_a_valid_draft_2020_12_schema() -> None:
    schema = json.loads(MANIFEST_SCHEMA_PATH.read_text(encoding="utf-8"))
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    Draft202012Validator.check_schema(schema)
    assert manifest_schema() == schema


def _properties(schema: Any, where: str = "$") -> list[tuple[str, Any]]:
    """Every property schema (and $defs entry) in the manifest schema, with where it is."""
    found = []
    if isinstance(schema, dict):
        for key in ("properties", "$defs"):
            for name, sub in schema.get(key, {}).items():
                # Conditional branches only narrow properties declared (and documented) above.
                if isinstance(sub, dict) and set(sub) - {"const", "pattern", "not", "type"}:
                    found.append((f"{where}.{key}.{name}", sub))
        for key, sub in schema.items():
            if key in ("if", "then", "else"):
                continue
            found += _properties(sub, f"{where}.{key}")
    elif isinstance(schema, list):
        for i, sub in enumerate(schema):
            found += _properties(sub, f"{where}[{i}]")
    return found


def test_every_property_documents_itself() -> None:
    found = _properties(manifest_schema())
    assert len(found) > 40
    undocumented = [
        where for where, sub in found if not (sub.get("title") and sub.get("description"))
    ]
    assert undocumented == []


def test_valid_manifest_passes() -> None:
    assert validate_manifest(valid_manifest()) == []


def test_valid_export_manifest_passes() -> None:
    manifest = valid_manifest()
    manifest["export"] = {
        "from_release": manifest["release_id"],
        "layers": ["incidents"],
        "bbox": [-122.4, 47.5, -122.3, 47.6],
        "since": "2024-08-01",
    }
    assert validate_manifest(manifest) == []


def _set(path: str, value: Any) -> Callable[[dict[str, Any]], None]:
    """Mutation setting ``path`` ("layers.0.files.1.sha256") to value."""

    def mutate(manifest: dict[str, Any]) -> None:
        *parents, last = path.split(".")
        target: Any = manifest
        for part in parents:
            target = target[int(part) if part.isdigit() else part]
        target[int(last) if last.isdigit() else last] = value

    return mutate


def _delete(path: str) -> Callable[[dict[str, Any]], None]:
    def mutate(manifest: dict[str, Any]) -> None:
        *parents, last = path.split(".")
        target: Any = manifest
        for part in parents:
            target = target[int(part) if part.isdigit() else part]
        del target[last]

    return mutate


MUTATIONS = {
    "missing top-level key": (_delete("release_id"), "$", "'release_id' is a required property"),
    "missing layer key": (_delete("layers.1.files"), "$.layers[1]", "'files' is a required"),
    "bad sha256": (_set("layers.0.files.1.sha256", "ABC123"), "$.layers[0].files[1].sha256", ""),
    "upper-case sha256": (
        _set("layers.1.files.0.sha256", SHA_A.upper()),
        "$.layers[1].files[0].sha256",
        "does not match",
    ),
    "extra top-level key": (_set("notes", "x"), "$", "'notes' was unexpected"),
    "extra layer key": (_set("layers.0.file", "x"), "$.layers[0]", "'file' was unexpected"),
    "bbox of 3 numbers": (_set("layers.0.bbox", [1.0, 2.0, 3.0]), "$.layers[0].bbox", "short"),
    "bbox of strings": (_set("layers.0.bbox", ["a", 1, 2, 3]), "$.layers[0].bbox[0]", "number"),
    "schema_version 1.0": (_set("schema_version", "1.0"), "$.schema_version", "'1.0'"),
    "manifest_version 1": (_set("manifest_version", 1), "$.manifest_version", "2 was expected"),
    "bad release id": (_set("release_id", "../etc"), "$.release_id", "does not match"),
    "bad layer name": (_set("layers.1.name", "Quality"), "$.layers[1].name", "does not match"),
    "reserved layer name": (
        _set("layers.1.name", "releases"),
        "$.layers[1].name",
        "'releases' is reserved",
    ),
    "created_at without zone": (_set("created_at", "2026-11-25T10:15:00"), "$.created_at", ""),
    "created_at impossible": (_set("created_at", "2026-13-45T10:15:00Z"), "$.created_at", "date"),
    "no files": (_set("layers.1.files", []), "$.layers[1].files", "should be non-empty"),
    "no layers": (_set("layers", []), "$.layers", "should be non-empty"),
    "negative rows": (_set("layers.1.rows", -1), "$.layers[1].rows", "minimum"),
    "partitioning flavor": (
        _set("layers.0.partitioning", {"flavor": "directory", "columns": ["year"]}),
        "$.layers[0].partitioning.flavor",
        "'hive' was expected",
    ),
    "column without type": (_delete("layers.1.columns.0.type"), "$.layers[1].columns[0]", "type"),
    "table with a bbox": (_set("layers.1.bbox", [0, 0, 1, 1]), "$.layers[1].bbox", "not of type"),
    "table with a crs": (_set("layers.1.crs", "OGC:CRS84"), "$.layers[1].crs", "not allowed"),
    "spatial layer without crs": (_delete("layers.0.crs"), "$.layers[0]", "'crs' is a required"),
    "spatial layer as Parquet": (_set("layers.0.format", "Parquet"), "$.layers[0].format", ""),
    "file path escaping": (
        _set("layers.0.files.0.path", "../incidents/x.parquet"),
        "$.layers[0].files[0].path",
        "does not match",
    ),
    "unpartitioned directory path": (
        _set("layers.1.path", "quality_scorecard"),
        "$.layers[1].path",
        "",
    ),
    "export without since": (
        _set("export", {"from_release": "r1", "layers": ["incidents"], "bbox": None}),
        "$.export",
        "'since' is a required",
    ),
    # Cross-field rules (after the schema passes).
    "rows not the sum of files": (_set("layers.0.rows", 1499), "$.layers[0].rows", "sum to 1500"),
    "bytes not the sum of files": (_set("layers.1.bytes", 1), "$.layers[1].bytes", "sum to 900"),
    "partition path out of order": (
        _set("layers.0.files.0.path", "incidents/month=7/year=2024/part-0.parquet"),
        "$.layers[0].files[0].path",
        "year=<value>/month=<value>",
    ),
    "single file path differs": (
        _set("layers.1.files.0.path", "other.parquet"),
        "$.layers[1].files",
        "exactly one file",
    ),
    "layer path differs from name": (
        _set("layers.1.path", "scorecard.parquet"),
        "$.layers[1].path",
        "should be 'quality_scorecard.parquet'",
    ),
    "duplicate layer": (_set("layers.1.name", "incidents"), "$.layers", "duplicate layer names"),
    "duplicate column": (
        _set("layers.1.columns.1.name", "source"),
        "$.layers[1].columns",
        "duplicate column names",
    ),
    "time column missing": (
        _set("layers.0.time_extent.column", "reported_date"),
        "$.layers[0].time_extent.column",
        "not a column",
    ),
    "time extent reversed": (
        _set("layers.0.time_extent.min", "2025-01-01"),
        "$.layers[0].time_extent",
        "after max",
    ),
    "partition column missing": (
        _set("layers.0.columns.5.name", "mon"),
        "$.layers[0].partitioning.columns[1]",
        "not a column",
    ),
    "bbox upside down": (
        _set("layers.0.bbox", [-122.43, 47.66, -122.23, 47.54]),
        "$.layers[0].bbox",
        "ymin",
    ),
    "export of a missing layer": (
        _set("export", {"from_release": "r1", "layers": ["hotspots"], "bbox": None, "since": None}),
        "$.export.layers",
        "'hotspots' is not a layer",
    ),
}


@pytest.mark.parametrize("name", sorted(MUTATIONS))
def test_mutation_fails_naming_the_path(name: str) -> None:
    mutate, path, fragment = MUTATIONS[name]
    manifest = copy.deepcopy(valid_manifest())
    mutate(manifest)
    problems = validate_manifest(manifest)
    assert problems, f"{name}: accepted"
    matching = [p for p in problems if p.split(": ")[0].endswith(path)]
    assert matching, f"{name}: no problem at {path}: {problems}"
    assert any(fragment in p for p in matching), f"{name}: {problems}"


def test_problems_are_short_even_for_big_instances() -> None:
    manifest = valid_manifest()
    manifest["layers"][0] = ["not", "an", "object"] * 200
    problems = validate_manifest(manifest)
    assert problems and all(len(p) < 400 for p in problems)
    assert problems[0].startswith("$.layers[0]:")


def test_not_an_object() -> None:
    assert validate_manifest([]) == ["$: [] is not of type 'object'"]
