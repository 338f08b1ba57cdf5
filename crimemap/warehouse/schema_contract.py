"""Schema versioning of the published layers, and the JSON Schema of ``manifest.json``.

The published schema (per layer: columns and DuckDB types, whether it is spatial, how it is
partitioned) is versioned with semver. Consumers pin a MAJOR version, so anything that can break
a reader that worked before is a major change; additions are minor:

- major: a layer removed, a column removed, a column's type changed (widening too: a reader
  with a fixed schema rejects it), a spatial layer becoming a table, partitioning changed;
- minor: a layer added, a column added, a table gaining geometry.

Column order is not part of compatibility (readers select by name). Geometry types are left
out: they follow the data (an empty layer has none, a revised boundary may become a
MultiPolygon), so they would bump the version without any change to the code.

The last published schema is committed as a contract file (``published_schema.json``); a release
whose schema differs from it must carry the version :func:`check_version` accepts.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any, Literal, NamedTuple

from jsonschema import Draft202012Validator, FormatChecker

MANIFEST_SCHEMA_PATH = Path(__file__).with_name("manifest.schema.json")

ChangeKind = Literal["major", "minor"]
BumpLevel = Literal["major", "minor", "patch"]
# Smallest step first: the order ``check_version`` lists the allowed next versions in.
BUMP_LEVELS: tuple[BumpLevel, ...] = ("patch", "minor", "major")

_SEMVER = re.compile(r"^(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)$")
_RFC3339 = re.compile(
    r"^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]+)?(Z|[+-][0-9]{2}:[0-9]{2})$"
)
_MAX_MESSAGE = 300  # a jsonschema message quotes the instance, which can be a whole layer


# --------------------------------------------------------------------------- layer schemas


@dataclass(frozen=True)
class Partitioning:
    flavor: str
    columns: tuple[str, ...]

    def describe(self) -> str:
        return f"{self.flavor} ({', '.join(self.columns)})"


@dataclass(frozen=True)
class LayerSchema:
    """What a reader of one layer depends on."""

    columns: tuple[tuple[str, str], ...]  # (name, DuckDB type), in display order
    spatial: bool = False
    partitioning: Partitioning | None = None

    def __post_init__(self) -> None:
        # Accept lists (e.g. straight from JSON) but store tuples, so schemas compare by value.
        columns = tuple((str(name), str(type_)) for name, type_ in self.columns)
        object.__setattr__(self, "columns", columns)
        names = [name for name, _ in columns]
        duplicates = sorted({n for n in names if names.count(n) > 1})
        if duplicates:
            raise ValueError(f"duplicate column names {duplicates}")

    def types(self) -> dict[str, str]:
        return dict(self.columns)


LayerSchemas = Mapping[str, LayerSchema]


def _partitioning(value: Any, where: str) -> Partitioning | None:
    if value is None:
        return None
    if not isinstance(value, Mapping) or not isinstance(value.get("columns"), list):
        raise ValueError(f"{where}.partitioning: expected null or {{flavor, columns}}")
    return Partitioning(str(value.get("flavor", "hive")), tuple(map(str, value["columns"])))


def _columns(value: Any, where: str) -> list[tuple[str, str]]:
    if not isinstance(value, list):
        raise ValueError(f"{where}.columns: expected a list, got {type(value).__name__}")
    columns = []
    for i, column in enumerate(value):
        if not isinstance(column, Mapping) or not {"name", "type"} <= column.keys():
            raise ValueError(f"{where}.columns[{i}]: expected an object with name and type")
        columns.append((column["name"], column["type"]))
    return columns


def _layer_schema(columns: Any, spatial: Any, partitioning: Any, where: str) -> LayerSchema:
    if not isinstance(spatial, bool):
        raise ValueError(f"{where}.spatial: expected true or false, got {spatial!r}")
    parsed_columns = _columns(columns, where)
    parsed_partitioning = _partitioning(partitioning, where)
    try:
        return LayerSchema(tuple(parsed_columns), spatial, parsed_partitioning)
    except ValueError as exc:  # duplicate column names
        raise ValueError(f"{where}.columns: {exc}") from None


def schema_of_manifest(manifest: Mapping[str, Any]) -> dict[str, LayerSchema]:
    """The layer schemas a release manifest declares (``layers[].name/columns/spatial/
    partitioning``; a manifest without ``partitioning`` is unpartitioned)."""
    layers = manifest.get("layers")
    if not isinstance(layers, list):
        raise ValueError("manifest.layers: expected a list")
    schemas: dict[str, LayerSchema] = {}
    for i, layer in enumerate(layers):
        where = f"manifest.layers[{i}]"
        if not isinstance(layer, Mapping) or not isinstance(layer.get("name"), str):
            raise ValueError(f"{where}.name: missing")
        name = layer["name"]
        if name in schemas:
            raise ValueError(f"{where}.name: duplicate layer {name!r}")
        schemas[name] = _layer_schema(
            layer.get("columns"),
            layer.get("spatial"),
            layer.get("partitioning"),
            f"{where} ({name})",
        )
    return schemas


# --------------------------------------------------------------------------- changes


@dataclass(frozen=True)
class SchemaChange:
    kind: ChangeKind
    layer: str
    column: str | None
    what: str

    @property
    def where(self) -> str:
        return self.layer if self.column is None else f"{self.layer}.{self.column}"

    def __str__(self) -> str:
        label = "breaking" if self.kind == "major" else "additive"
        return f"{self.where}: {self.what} ({label})"


def _describe_partitioning(partitioning: Partitioning | None) -> str:
    return "none" if partitioning is None else partitioning.describe()


def _layer_changes(name: str, old: LayerSchema, new: LayerSchema) -> list[SchemaChange]:
    changes = []
    if old.spatial and not new.spatial:
        changes.append(SchemaChange("major", name, None, "layer is no longer spatial"))
    elif new.spatial and not old.spatial:
        changes.append(SchemaChange("minor", name, None, "layer became spatial"))
    if old.partitioning != new.partitioning:
        what = (
            f"partitioning changed from {_describe_partitioning(old.partitioning)}"
            f" to {_describe_partitioning(new.partitioning)}"
        )
        changes.append(SchemaChange("major", name, None, what))
    old_types, new_types = old.types(), new.types()
    for column, type_ in old.columns:
        if column not in new_types:
            changes.append(SchemaChange("major", name, column, "column removed"))
        elif new_types[column] != type_:
            what = f"type changed from {type_} to {new_types[column]}"
            changes.append(SchemaChange("major", name, column, what))
    changes += [
        SchemaChange("minor", name, column, f"column added as {type_}")
        for column, type_ in new.columns
        if column not in old_types
    ]
    return changes


def classify_changes(old: LayerSchemas, new: LayerSchemas) -> list[SchemaChange]:
    """Every difference between two published schemas, major (breaking) or minor (additive).

    Sorted by layer name; within a layer, layer-level changes first, then columns in order.
    """
    changes: list[SchemaChange] = []
    for name in sorted(old.keys() | new.keys()):
        if name not in new:
            changes.append(SchemaChange("major", name, None, "layer removed"))
        elif name not in old:
            changes.append(SchemaChange("minor", name, None, "layer added"))
        else:
            changes += _layer_changes(name, old[name], new[name])
    return changes


def required_bump(changes: Iterable[SchemaChange]) -> ChangeKind | None:
    kinds = {change.kind for change in changes}
    if "major" in kinds:
        return "major"
    return "minor" if kinds else None


# --------------------------------------------------------------------------- versions


class Version(NamedTuple):
    major: int
    minor: int
    patch: int

    def __str__(self) -> str:
        return f"{self.major}.{self.minor}.{self.patch}"


def parse_version(text: str) -> Version:
    """Strict ``MAJOR.MINOR.PATCH`` (no leading zeros, no pre-release or build suffix)."""
    match = _SEMVER.match(text) if isinstance(text, str) else None
    if match is None:
        raise ValueError(
            f"schema version {text!r} is not MAJOR.MINOR.PATCH (e.g. 1.0.0, no leading zeros)"
        )
    return Version(*(int(part) for part in match.groups()))


def bump(version: str, level: BumpLevel) -> str:
    v = parse_version(version)
    if level == "major":
        return str(Version(v.major + 1, 0, 0))
    if level == "minor":
        return str(Version(v.major, v.minor + 1, 0))
    if level == "patch":
        return str(Version(v.major, v.minor, v.patch + 1))
    raise ValueError(f"bump level {level!r} is not major, minor or patch")


def check_version(
    previous_version: str,
    previous_schema: LayerSchemas,
    new_version: str,
    new_schema: LayerSchemas,
) -> list[str]:
    """Problems with ``new_version`` given how the schema changed since ``previous_version``.

    A breaking change needs the next major (X+1.0.0); an additive one the next minor (X.Y+1.0)
    or major; no change allows the same version or the next patch. A bigger step than the
    schema needs is accepted (a change of meaning the schema cannot show); going backwards or
    skipping versions is not.
    """
    try:
        old, new = parse_version(previous_version), parse_version(new_version)
    except ValueError as exc:
        return [str(exc)]
    transition = f"schema_version {old} -> {new}"
    if new < old:
        return [f"{transition} goes backwards"]
    successors: dict[str, BumpLevel] = {bump(str(old), level): level for level in BUMP_LEVELS}
    if new != old and str(new) not in successors:
        return [f"{transition} skips versions; the next is one of {', '.join(successors)}"]
    step = successors.get(str(new))  # None: same version
    if step == "major":
        return []
    changes = classify_changes(previous_schema, new_schema)
    major, minor = bump(str(old), "major"), bump(str(old), "minor")
    if step is None:
        breaking_kept = additive_kept = f"schema_version stays {old}"
    else:
        breaking_kept = f"{transition} keeps the major version"
        additive_kept = f"{transition} keeps the minor version"
    problems = [
        f"{change.where}: {change.what} (breaking) but {breaking_kept};"
        f" a breaking change needs {major}"
        for change in changes
        if change.kind == "major"
    ]
    if step != "minor":
        problems += [
            f"{change.where}: {change.what} (additive) but {additive_kept};"
            f" an additive change needs {minor} (or {major})"
            for change in changes
            if change.kind == "minor"
        ]
    return problems


# --------------------------------------------------------------------------- contract file


def load_contract(path: Path) -> tuple[str, dict[str, LayerSchema]]:
    """Read a contract file written by :func:`contract_json`: (schema_version, schemas)."""
    path = Path(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise ValueError(f"{path}: not valid JSON: {exc}") from None
    if not isinstance(data, Mapping) or set(data) != {"schema_version", "layers"}:
        raise ValueError(f"{path}: expected an object with exactly schema_version and layers")
    try:
        version = str(parse_version(data["schema_version"]))
    except ValueError as exc:
        raise ValueError(f"{path}: schema_version: {exc}") from None
    layers = data["layers"]
    if not isinstance(layers, Mapping):
        raise ValueError(f"{path}: layers: expected an object of layer name -> layer")
    schemas = {}
    for name, layer in layers.items():
        where = f"{path}: layers.{name}"
        if not isinstance(layer, Mapping) or set(layer) != {"spatial", "partitioning", "columns"}:
            raise ValueError(f"{where}: expected an object with spatial, partitioning, columns")
        schemas[name] = _layer_schema(
            layer["columns"], layer["spatial"], layer["partitioning"], where
        )
    return version, schemas


def _dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False)


def _json_block(items: list[str], indent: str, brackets: str) -> str:
    """``items`` one per line inside ``brackets``, closing at ``indent``; empty on one line."""
    if not items:
        return brackets
    inner = indent + "  "
    return f"{brackets[0]}\n{inner}" + f",\n{inner}".join(items) + f"\n{indent}{brackets[1]}"


def contract_json(version: str, schemas: LayerSchemas) -> str:
    """The contract file's text: stable (layers sorted, columns in order), one line per column
    so a schema change reads as a one-line diff in review, trailing newline."""
    layers = []
    for name in sorted(schemas):
        schema = schemas[name]
        partitioning = schema.partitioning
        partitioning_json = (
            None
            if partitioning is None
            else {"flavor": partitioning.flavor, "columns": list(partitioning.columns)}
        )
        columns = [_dumps({"name": column, "type": type_}) for column, type_ in schema.columns]
        fields = [
            f'"spatial": {_dumps(schema.spatial)}',
            f'"partitioning": {_dumps(partitioning_json)}',
            f'"columns": {_json_block(columns, "      ", "[]")}',
        ]
        layers.append(f"{_dumps(name)}: {_json_block(fields, '    ', '{}')}")
    top = [
        f'"schema_version": {_dumps(str(parse_version(version)))}',
        f'"layers": {_json_block(layers, "  ", "{}")}',
    ]
    return _json_block(top, "", "{}") + "\n"


def next_contract(
    contract_version: str, contract_schema: LayerSchemas, release_schema: LayerSchemas
) -> tuple[str, dict[str, LayerSchema], list[SchemaChange]]:
    """The contract a release schema should become: the lowest version semver allows for the
    changes since the committed contract (unchanged when nothing changed), the release's
    schemas, and the changes found."""
    changes = classify_changes(contract_schema, release_schema)
    level = required_bump(changes)
    version = bump(contract_version, level) if level else str(parse_version(contract_version))
    return version, dict(release_schema), changes


# --------------------------------------------------------------------------- manifest schema


@cache
def manifest_schema() -> dict[str, Any]:
    return json.loads(MANIFEST_SCHEMA_PATH.read_text(encoding="utf-8"))


def _is_rfc3339(value: object) -> bool:
    if not isinstance(value, str):
        return True  # "format" only constrains strings
    if not _RFC3339.match(value):
        return False
    try:
        dt.datetime.fromisoformat(value)
    except ValueError:
        return False
    return True


def _format_checker() -> FormatChecker:
    # jsonschema checks "date-time" only with an optional extra package installed; check it
    # here so a 2026-13-45 timestamp never passes silently.
    checker = FormatChecker()
    checker.checks("date-time")(_is_rfc3339)
    return checker


def _schema_problems(manifest: Any) -> list[str]:
    validator = Draft202012Validator(manifest_schema(), format_checker=_format_checker())
    problems = []
    for error in validator.iter_errors(manifest):
        message = error.message
        if error.validator == "not" and error.validator_value == {}:
            # {"not": {}} forbids a key (a bare `false` would lose the key from the path).
            message = "not allowed here"
        elif error.validator == "not" and set(error.validator_value) == {"const"}:
            message = f"{error.instance!r} is reserved"
        elif len(message) > _MAX_MESSAGE:
            message = message[: _MAX_MESSAGE - 3] + "..."
        problems.append(f"{error.json_path}: {message}")
    return problems


def _sorted_order_ok(low: Any, high: Any) -> bool:
    return low is None or high is None or low <= high


def _file_problems(layer: Mapping[str, Any], where: str) -> list[str]:
    problems = []
    path = layer["path"]
    files = layer["files"]
    partitioning = layer["partitioning"]
    if partitioning is None:
        if len(files) != 1 or files[0]["path"] != path:
            problems.append(
                f"{where}.files: a single-file layer has exactly one file, whose path is {path!r}"
            )
        return problems
    segments = "/".join(f"{re.escape(c)}=[^/]+" for c in partitioning["columns"])
    expected = re.compile(rf"^{re.escape(path)}/{segments}/[^/]+\.parquet$")
    for i, entry in enumerate(files):
        if not expected.match(entry["path"]):
            problems.append(
                f"{where}.files[{i}].path: {entry['path']!r} is not"
                f" {path}/{'/'.join(c + '=<value>' for c in partitioning['columns'])}/<file>"
            )
    paths = [entry["path"] for entry in files]
    duplicates = sorted({p for p in paths if paths.count(p) > 1})
    if duplicates:
        problems.append(f"{where}.files: duplicate paths {duplicates}")
    return problems


def _layer_problems(layer: Mapping[str, Any], where: str) -> list[str]:
    name = layer["name"]
    names = [column["name"] for column in layer["columns"]]
    problems = []
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        problems.append(f"{where}.columns: duplicate column names {duplicates}")
    expected_path = name if layer["partitioning"] is not None else f"{name}.parquet"
    if layer["path"] != expected_path:
        problems.append(f"{where}.path: {layer['path']!r} should be {expected_path!r}")
    problems += _file_problems(layer, where)
    for key in ("rows", "bytes"):
        total = sum(entry[key] for entry in layer["files"])
        if total != layer[key]:
            problems.append(f"{where}.{key}: {layer[key]} but the files sum to {total}")
    referenced = {
        "geometry_column": layer.get("geometry_column"),
        "time_extent.column": (layer["time_extent"] or {}).get("column"),
    } | {
        f"partitioning.columns[{i}]": column
        for i, column in enumerate((layer["partitioning"] or {}).get("columns", []))
    }
    problems += [
        f"{where}.{key}: {column!r} is not a column of the layer"
        for key, column in referenced.items()
        if column is not None and column not in names
    ]
    extent = layer["time_extent"]
    if extent is not None and not _sorted_order_ok(extent["min"], extent["max"]):
        problems.append(f"{where}.time_extent: min {extent['min']} is after max {extent['max']}")
    bbox = layer["bbox"]
    # Only y is ordered: GeoParquet allows xmin > xmax for a box across the antimeridian.
    if bbox is not None and bbox[1] > bbox[3]:
        problems.append(f"{where}.bbox: ymin {bbox[1]} is above ymax {bbox[3]}")
    return problems


def _consistency_problems(manifest: Mapping[str, Any]) -> list[str]:
    """What JSON Schema cannot say: cross-field rules within a (schema-valid) manifest."""
    problems = []
    names = [layer["name"] for layer in manifest["layers"]]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        problems.append(f"$.layers: duplicate layer names {duplicates}")
    for i, layer in enumerate(manifest["layers"]):
        problems += _layer_problems(layer, f"$.layers[{i}]")
    export = manifest.get("export")
    if export is not None:
        problems += [
            f"$.export.layers: {name!r} is not a layer of this manifest"
            for name in export["layers"]
            if name not in names
        ]
        if export["bbox"] is not None and export["bbox"][1] > export["bbox"][3]:
            problems.append("$.export.bbox: ymin is above ymax")
    return problems


def validate_manifest(manifest: Any) -> list[str]:
    """Problems with a manifest, each naming its JSON path ([] when valid): first against
    ``manifest.schema.json``, then (only if that passes) the cross-field rules."""
    problems = _schema_problems(manifest)
    if problems:
        return problems
    return _consistency_problems(manifest)
