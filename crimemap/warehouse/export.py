"""``crimemap export``: a self-describing subset of the current release, for another agency.

An export is laid out like a release (``<name>.parquet`` or a hive-partitioned ``<name>/``
directory per layer, every file GeoParquet 1.1 or zstd Parquet, a manifest_version 2
``manifest.json``) with an extra ``export`` section naming the source release and the filters,
so whatever reads a release reads an export. The layers are rebuilt with the release writers
from the source files, which recomputes rows, bbox, time extent and checksums of what was kept.

The export is built in a hidden directory beside the destination and renamed into place only
after every file and the manifest validate: a failure leaves no destination behind, and an
existing non-empty directory is never written to.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import os
import secrets
import shutil
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb

from crimemap.core.dates import parse_since as parse_date_or_month
from crimemap.core.duckdb_spatial import scratch
from crimemap.core.files import fsync_directory, fsync_tree
from crimemap.core.sql import quote_ident
from crimemap.warehouse.geoparquet import COVERING_COLUMN, file_digest
from crimemap.warehouse.publish import (
    CONTENT_KEY,
    MANIFEST_FILE,
    MANIFEST_KEYS,
    MANIFEST_VERSION,
    LayerSpec,
    build_layer,
    build_manifest,
    latest_release,
    layer_scan_sql,
    read_manifest,
    validate_release_files,
    write_text_durably,
)
from crimemap.warehouse.schema_contract import validate_manifest

BBox = tuple[float, float, float, float]

EXPORT_ID_SUFFIX = "-export"
# Keys build_manifest writes itself (or that describe this export); every other top-level key
# of the source manifest (jurisdiction, privacy, source_freshness, ...) is copied unchanged.
# An export's layers are cut from the release's: their content digests are not the release's.
_RECOMPUTED_KEYS = MANIFEST_KEYS | {"export", CONTENT_KEY}


class ExportError(ValueError):
    """The export was refused or failed; nothing was written to the destination."""


@dataclass(frozen=True)
class LayerExport:
    name: str
    rows: int  # rows kept
    source_rows: int  # rows in the source release
    bytes: int


@dataclass(frozen=True)
class Export:
    path: Path
    from_release: str
    manifest: Mapping[str, Any]
    layers: tuple[LayerExport, ...]

    @property
    def rows(self) -> int:
        return sum(layer.rows for layer in self.layers)

    @property
    def bytes(self) -> int:
        return sum(layer.bytes for layer in self.layers)


# --------------------------------------------------------------------------- arguments


def parse_layer_names(text: str) -> tuple[str, ...]:
    """``a,b`` -> ``("a", "b")``; repeated names are kept once, in first-seen order."""
    names = [name.strip() for name in text.split(",")]
    if not all(names):
        raise ExportError(f"--layers {text!r}: expected comma-separated layer names")
    return tuple(dict.fromkeys(names))


def check_bbox(values: Sequence[float]) -> BBox:
    """A lon/lat box ``(xmin, ymin, xmax, ymax)``, or ExportError naming what is wrong."""
    if len(values) != 4:
        raise ExportError(f"--bbox: expected 4 numbers xmin,ymin,xmax,ymax, got {len(values)}")
    named = dict(zip(("xmin", "ymin", "xmax", "ymax"), map(float, values), strict=True))
    for name, value in named.items():
        if not math.isfinite(value):
            raise ExportError(f"--bbox: {name} is {value}, not a finite number")
        limit = 180.0 if name.startswith("x") else 90.0
        if not -limit <= value <= limit:
            axis = "longitude" if name.startswith("x") else "latitude"
            raise ExportError(
                f"--bbox: {name} {value} is outside -{limit:g}..{limit:g} ({axis}, degrees)"
            )
    # A box across the antimeridian (xmin > xmax) is not supported: ask for two exports.
    for low, high in (("xmin", "xmax"), ("ymin", "ymax")):
        if not named[low] < named[high]:
            raise ExportError(f"--bbox: {low} {named[low]} must be less than {high} {named[high]}")
    return named["xmin"], named["ymin"], named["xmax"], named["ymax"]


def parse_bbox(text: str) -> BBox:
    """``xmin,ymin,xmax,ymax`` in lon/lat degrees."""
    parts = [part.strip() for part in text.split(",")]
    if len(parts) != 4:
        raise ExportError(
            f"--bbox {text!r}: expected 4 comma-separated numbers xmin,ymin,xmax,ymax "
            f"(lon/lat), got {len(parts)} value(s)"
        )
    values = []
    for name, part in zip(("xmin", "ymin", "xmax", "ymax"), parts, strict=True):
        try:
            values.append(float(part))
        except ValueError:
            raise ExportError(f"--bbox {text!r}: {name} {part!r} is not a number") from None
    return check_bbox(values)


def parse_since(text: str) -> dt.date:
    try:
        return parse_date_or_month(text)
    except ValueError as exc:
        raise ExportError(str(exc)) from None


# --------------------------------------------------------------------------- planning


def current_release(published_dir: Path) -> tuple[Path, dict[str, Any]]:
    """Directory and manifest of the release ``LATEST`` names."""
    try:
        release_dir = latest_release(published_dir)
        source = None if release_dir is None else read_manifest(release_dir)
    except ValueError as exc:  # a LATEST or manifest.json that is not what a publisher writes
        raise ExportError(f"{published_dir}: {exc}") from exc
    if release_dir is None or source is None:
        raise ExportError(f"nothing is published under {published_dir}; run `crimemap run` first")
    if source.get("manifest_version") != MANIFEST_VERSION:
        raise ExportError(
            f"release {release_dir.name} has manifest_version {source.get('manifest_version')}; "
            f"export needs {MANIFEST_VERSION} (publish a new release)"
        )
    return release_dir, source


def select_layers(
    manifest: Mapping[str, Any], names: Sequence[str] | None
) -> list[Mapping[str, Any]]:
    """The manifest entries of ``names`` in that order (all layers when None)."""
    layers = {layer["name"]: layer for layer in manifest["layers"]}
    if names is None:
        return list(layers.values())
    unknown = [name for name in names if name not in layers]
    if unknown:
        raise ExportError(
            f"release {manifest['release_id']} has no layer(s) {', '.join(unknown)}; "
            f"available: {', '.join(layers)}"
        )
    return [layers[name] for name in dict.fromkeys(names)]


def check_destination(destination: Path, published_dir: Path) -> None:
    """Refuse anything but a new or empty directory outside the published tree."""
    if destination.exists():
        if not destination.is_dir():
            raise ExportError(f"{destination} exists and is not a directory; refusing it")
        if any(destination.iterdir()):
            raise ExportError(
                f"{destination} is not empty; refusing to write into it "
                "(give a new or empty directory)"
            )
    published = Path(published_dir).resolve()
    if destination == published or published in destination.parents:
        # A publisher would take it for a release (or a leftover) and delete it.
        raise ExportError(f"{destination} is inside the published directory {published}")


def source_file_problems(release_dir: Path, layer: Mapping[str, Any]) -> list[str]:
    """Files of a source layer that are missing or differ from the manifest's checksum: an
    export must never pass on data the release did not publish."""
    problems = []
    for file in layer["files"]:
        path = Path(release_dir) / file["path"]
        if not path.is_file():
            problems.append(f"layer {layer['name']}: {path} is missing")
            continue
        sha256, size = file_digest(path)
        if (sha256, size) != (file["sha256"], file["bytes"]):
            problems.append(
                f"layer {layer['name']}: {path} does not match the release manifest "
                f"(sha256 {sha256}, {size} bytes; manifest {file['sha256']}, {file['bytes']})"
            )
    return problems


def bbox_condition(geometry_column: str, bbox: BBox, *, covering: bool) -> str:
    """Rows whose geometry intersects ``bbox``; NULL/empty geometries never match."""
    xmin, ymin, xmax, ymax = (repr(float(v)) for v in bbox)
    exact = (
        f"ST_Intersects({quote_ident(geometry_column)}, "
        f"ST_MakeEnvelope({xmin}, {ymin}, {xmax}, {ymax}))"
    )
    if not covering:
        return exact
    # The covering column holds each row's exact extent: a cheap prefilter (and row-group
    # pruning) before the exact test.
    b = quote_ident(COVERING_COLUMN)
    return (
        f"{b}.xmax >= {xmin} AND {b}.xmin <= {xmax} AND {b}.ymax >= {ymin} "
        f"AND {b}.ymin <= {ymax} AND {exact}"
    )


def since_condition(layer: str, column: str, column_type: str, since: dt.date) -> str:
    """Rows with ``column`` on or after ``since``; NULL never matches."""
    c = quote_ident(column)
    kind = column_type.upper()
    if kind == "DATE":
        return f"{c} >= DATE '{since.isoformat()}'"
    if kind in ("TIMESTAMP WITH TIME ZONE", "TIMESTAMPTZ"):
        return f"{c} >= TIMESTAMPTZ '{since.isoformat()} 00:00:00+00'"  # midnight UTC
    if kind.startswith("TIMESTAMP"):
        return f"{c} >= TIMESTAMP '{since.isoformat()}'"
    raise ExportError(
        f"layer {layer}: time column {column!r} is {column_type}; --since needs a DATE or "
        "TIMESTAMP column (leave the layer out of --layers)"
    )


def export_layer_spec(
    release_dir: Path, layer: Mapping[str, Any], bbox: BBox | None, since: dt.date | None
) -> LayerSpec:
    """A LayerSpec that selects the kept rows of a source layer, for the release writers."""
    name = layer["name"]
    types = {column["name"]: column["type"] for column in layer["columns"]}
    spatial = bool(layer["spatial"])
    geometry = layer.get("geometry_column", "geometry")
    covering = spatial and COVERING_COLUMN in types
    time_column = (layer.get("time_extent") or {}).get("column")
    conditions, notes = [], []
    if bbox is not None:
        if spatial:
            conditions.append(bbox_condition(geometry, bbox, covering=covering))
            notes.append(
                f"only rows whose geometry intersects [{', '.join(map(repr, bbox))}] (lon/lat); "
                "rows without a geometry are left out"
            )
        else:
            notes.append("the bounding-box filter does not apply (a table has no geometry)")
    if since is not None:
        if time_column is None:
            notes.append("the date filter does not apply (the layer has no time column)")
        elif time_column not in types:
            raise ExportError(f"layer {name}: time column {time_column!r} is not a column")
        else:
            conditions.append(since_condition(name, time_column, types[time_column], since))
            notes.append(
                f"only rows with {time_column} on or after {since.isoformat()}; "
                f"rows without {time_column} are left out"
            )
    # The writer recomputes the covering column (and refuses one in its input); hive partition
    # columns come from the paths and are selected so the writer can partition again.
    columns = f"* EXCLUDE ({quote_ident(COVERING_COLUMN)})" if covering else "*"
    where = " AND ".join(f"({c})" for c in conditions) or "true"
    description = str(layer.get("description", ""))
    if notes:
        description = f"{description} Export: {'; '.join(notes)}.".strip()
    scan = layer_scan_sql(release_dir, layer)
    partition_by = tuple((layer.get("partitioning") or {}).get("columns", ()))
    keys = ", ".join(quote_ident(c) for c in partition_by)
    return LayerSpec(
        name=name,
        query=f"SELECT {columns} FROM {scan} WHERE {where}",
        spatial=spatial,
        description=description,
        geometry_column=geometry,
        time_column=time_column,
        column_descriptions={
            c["name"]: c["description"] for c in layer["columns"] if "description" in c
        },
        partition_by=partition_by,
        # Filters that keep no row give an empty layer: one zero-row file in the release's
        # first partition.
        partition_when_empty=(
            f"SELECT DISTINCT {keys} FROM {scan} ORDER BY ALL LIMIT 1" if partition_by else None
        ),
    )


# --------------------------------------------------------------------------- checks


def schema_problems(source: Mapping[str, Any], entry: Mapping[str, Any]) -> list[str]:
    """An export keeps the source's schema_version, so its columns must be the source's."""
    before = {c["name"]: c["type"] for c in source["columns"]}
    after = {c["name"]: c["type"] for c in entry["columns"]}
    if before == after:
        return []
    return [f"layer {entry['name']}: columns {after} differ from the release's {before}"]


# --------------------------------------------------------------------------- export


def export_release(
    published_dir: Path,
    destination: Path,
    *,
    layers: Sequence[str] | None = None,
    bbox: Sequence[float] | None = None,
    since: dt.date | None = None,
    log: Callable[[str], None] = lambda message: None,
) -> Export:
    """Export ``layers`` (default: all) of the current release under ``published_dir`` to the
    new or empty directory ``destination``, keeping the rows of spatial layers that intersect
    ``bbox`` and the rows of layers with a time column on or after ``since``.

    Raises :class:`ExportError` (and writes nothing) when nothing is published, a layer is
    unknown, the destination is not new or empty, a source file differs from its manifest, or a
    written file or the manifest fails validation. Filters that keep no row of a layer give an
    empty layer with its schema.
    """
    box = None if bbox is None else check_bbox(bbox)
    published_dir = Path(published_dir)
    release_dir, source = current_release(published_dir)
    selected = select_layers(source, layers)
    destination = Path(destination).resolve()
    check_destination(destination, published_dir)
    problems = [p for layer in selected for p in source_file_problems(release_dir, layer)]
    if problems:
        raise ExportError(f"release {release_dir.name} is damaged:\n" + _bullets(problems))
    specs = [export_layer_spec(release_dir, layer, box, since) for layer in selected]
    log(f"exporting release {source['release_id']} to {destination}")

    destination.parent.mkdir(parents=True, exist_ok=True)
    staging = destination.parent / f".{destination.name}.tmp-{secrets.token_hex(4)}"
    staging.mkdir()
    try:
        entries, counts = [], []
        with scratch() as con:
            for spec, layer in zip(specs, selected, strict=True):
                try:
                    # The code that writes a release writes the export.
                    entry = build_layer(con, spec, staging)
                except (duckdb.Error, ValueError, TypeError) as exc:
                    raise ExportError(f"layer {spec.name}: {exc}") from exc
                entries.append(entry)
                counts.append(LayerExport(spec.name, entry["rows"], layer["rows"], entry["bytes"]))
                log(f"{spec.name}: {entry['rows']:,} of {layer['rows']:,} rows")
        problems = validate_release_files(staging, entries) + [
            p
            for entry, layer in zip(entries, selected, strict=True)
            for p in schema_problems(layer, entry)
        ]
        extra = {key: value for key, value in source.items() if key not in _RECOMPUTED_KEYS}
        extra["export"] = {
            "from_release": source["release_id"],
            "layers": [spec.name for spec in specs],
            "bbox": None if box is None else list(box),
            "since": None if since is None else since.isoformat(),
        }
        manifest = build_manifest(
            f"{source['release_id']}{EXPORT_ID_SUFFIX}",
            entries,
            schema_version=source["schema_version"],
            privacy_rules=source["privacy_rules"],
            code_version=source["code_version"],
            extra=extra,
        )
        text = json.dumps(manifest, indent=2, default=str) + "\n"
        problems += [f"manifest.json: {p}" for p in validate_manifest(json.loads(text))]
        if problems:
            raise ExportError("the export failed validation:\n" + _bullets(problems))
        write_text_durably(staging / MANIFEST_FILE, text)
        fsync_tree(staging)
        try:
            # Replaces only an empty directory; fails if anything appeared in it meanwhile.
            os.rename(staging, destination)
        except OSError as exc:
            raise ExportError(f"could not move the export into {destination}: {exc}") from exc
        fsync_directory(destination.parent)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return Export(destination, source["release_id"], json.loads(text), tuple(counts))


def _bullets(problems: Sequence[str]) -> str:
    return "\n".join(f"- {p}" for p in problems)
