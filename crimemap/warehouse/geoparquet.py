"""GeoParquet 1.1 writer and validator.

DuckDB 1.5 writes GeoParquet 1.0 metadata and no bbox covering column, so DuckDB only computes
here (Hilbert order, WKB, per-row bbox) and pyarrow writes the final file with the 1.1 ``geo``
metadata. The Arrow side is streamed one row group at a time, so Python never holds a whole
layer.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
import uuid
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
from pyproj import CRS

from crimemap.core.duckdb_spatial import fetch_one, scratch
from crimemap.core.files import atomic_output
from crimemap.core.sql import quote_ident, sql_literal

GEOPARQUET_VERSION = "1.1.0"
DEFAULT_CRS = "OGC:CRS84"
COMPRESSION = "zstd"
# GeoParquet's distribution guidance: keep row groups at most 128k rows so readers can prune.
MAX_ROW_GROUP_ROWS = 128 * 1024
COVERING_COLUMN = "bbox"
BBOX_FIELDS = ("xmin", "ymin", "xmax", "ymax")
# Bump when a change here changes the bytes written for the same rows: a release reuses a file
# of the last one only when its rows and the writers' identity (``writer_identity``) are the
# same. tests/unit/test_geoparquet.py pins the bytes of a small file to this revision.
WRITER_REVISION = 1

# DuckDB's ST_GeometryType names -> GeoParquet's geometry_types names.
_TYPE_NAMES = {
    "POINT": "Point",
    "LINESTRING": "LineString",
    "POLYGON": "Polygon",
    "MULTIPOINT": "MultiPoint",
    "MULTILINESTRING": "MultiLineString",
    "MULTIPOLYGON": "MultiPolygon",
    "GEOMETRYCOLLECTION": "GeometryCollection",
}
GEOMETRY_TYPE_PATTERN = re.compile(
    r"^(GeometryCollection|(Multi)?(Point|LineString|Polygon))( Z)?$"
)


@dataclass(frozen=True)
class TableStats:
    path: Path
    rows: int
    sha256: str
    bytes: int


@dataclass(frozen=True)
class GeoParquetStats:
    path: Path
    rows: int
    bbox: tuple[float, float, float, float] | None  # None when every geometry is NULL/empty
    geometry_types: tuple[str, ...]
    sha256: str
    bytes: int


# --------------------------------------------------------------------------- SQL helpers


def scan_sql(
    path: Path, partition_types: Mapping[str, str] | None = None, *, partitioned: bool = False
) -> str:
    """``read_parquet`` over a published layer: a file, or a hive-partitioned directory whose
    partition columns read back with ``partition_types`` (as written, not as BIGINT)."""
    if not partition_types and not partitioned:
        return f"read_parquet({sql_literal(str(path))})"
    files = sql_literal(str(Path(path) / "**" / "*.parquet"))
    if not partition_types:
        return f"read_parquet({files}, hive_partitioning = true)"
    types = ", ".join(f"{sql_literal(c)}: {sql_literal(t)}" for c, t in partition_types.items())
    return f"read_parquet({files}, hive_partitioning = true, hive_types = {{{types}}})"


def _strip_query(query: str) -> str:
    return query.strip().rstrip(";").strip()


def describe_query(con: duckdb.DuckDBPyConnection, query: str) -> list[tuple[str, str]]:
    """(column name, DuckDB type) of a query's result, without running it."""
    rows = con.execute(f"DESCRIBE SELECT * FROM ({_strip_query(query)})").fetchall()
    return [(str(r[0]), str(r[1])) for r in rows]


def _geometry_type_sql(geom: str) -> str:
    """Raw type label, e.g. ``MULTIPOLYGON Z``; mapped to GeoParquet names in Python."""
    return (
        f"CASE WHEN {geom} IS NULL THEN NULL ELSE ST_GeometryType({geom})::VARCHAR"
        f" || CASE WHEN ST_HasZ({geom}) THEN ' Z' ELSE '' END"
        f" || CASE WHEN ST_HasM({geom}) THEN ' M' ELSE '' END END"
    )


def _has_extent_sql(geom: str) -> str:
    # Empty geometries have no extent: ST_XMin is NULL and ST_Hilbert raises on them.
    return f"({geom} IS NOT NULL AND NOT ST_IsEmpty({geom}))"


def geoparquet_select_sql(
    source: str, columns: Sequence[str], geometry_column: str, *, hilbert_order: bool
) -> str:
    """The SELECT over table ``source`` that yields a GeoParquet file's rows, in file order.

    Rows follow a Hilbert curve over the layer extent (nearby features share row groups, so the
    bbox statistics prune well); NULL/empty geometries go last; the remaining columns and then
    the WKB break ties so the same input always yields the same bytes.
    """
    g = quote_ident(geometry_column)
    has_extent = _has_extent_sql(g)
    select_list = [
        f"ST_AsWKB({g}) AS {g}" if c == geometry_column else quote_ident(c) for c in columns
    ]
    select_list.append(
        f"CASE WHEN {has_extent} THEN struct_pack("
        f"xmin := ST_XMin({g}), ymin := ST_YMin({g}), xmax := ST_XMax({g}), ymax := ST_YMax({g})"
        f") END AS {quote_ident(COVERING_COLUMN)}"
    )
    if not hilbert_order:
        return f"SELECT {', '.join(select_list)} FROM {source}"
    order_by = [f"CASE WHEN {has_extent} THEN ST_Hilbert({g}, ext.box) END NULLS LAST"]
    order_by += [f"{quote_ident(c)} NULLS LAST" for c in columns if c != geometry_column]
    order_by.append(f"ST_AsWKB({g}) NULLS LAST")
    return (
        f"WITH ext AS (SELECT ST_Extent(ST_Extent_Agg({g})) AS box FROM {source}"
        f" WHERE {has_extent})\n"
        f"SELECT {', '.join(select_list)}\nFROM {source} CROSS JOIN ext\n"
        f"ORDER BY {', '.join(order_by)}"
    )


def geometry_summary_sql(geometry_column: str, source: str) -> str:
    """Row count, extent (xmin, ymin, xmax, ymax) and raw type labels of a geometry column."""
    g = quote_ident(geometry_column)
    return (
        f"SELECT count(*), min(ST_XMin({g})), min(ST_YMin({g})), max(ST_XMax({g})),"
        f" max(ST_YMax({g})), list(DISTINCT {_geometry_type_sql(g)}) FILTER (WHERE {g} IS NOT NULL)"
        f" FROM {source}"
    )


# --------------------------------------------------------------------------- metadata


def projjson(crs: str) -> dict[str, Any]:
    """PROJJSON for a CRS string such as ``OGC:CRS84`` (pyproj's bundled database, offline)."""
    return CRS.from_user_input(crs).to_json_dict()


def column_crs(duckdb_type: str) -> str | None:
    """The CRS a DuckDB ``GEOMETRY('<crs>')`` type carries, if any."""
    match = re.fullmatch(r"GEOMETRY\('((?:[^']|'')*)'\)", duckdb_type.strip(), re.IGNORECASE)
    return match.group(1).replace("''", "'") if match else None


def _check_geometry_columns(
    columns: Sequence[tuple[str, str]], geometry_column: str, crs: str | None
) -> None:
    types = dict(columns)
    if geometry_column not in types:
        raise ValueError(f"query has no geometry column {geometry_column!r}: {list(types)}")
    if not types[geometry_column].upper().startswith("GEOMETRY"):
        raise TypeError(
            f"column {geometry_column!r} must be GEOMETRY, got {types[geometry_column]}"
        )
    extra = [c for c, t in columns if c != geometry_column and t.upper().startswith("GEOMETRY")]
    if extra:
        raise ValueError(f"only one geometry column per layer is supported; also got {extra}")
    if COVERING_COLUMN in types:
        raise ValueError(f"query must not have a column named {COVERING_COLUMN!r} (reserved)")
    # Refuse to label e.g. projected metres as lon/lat: the CRS DuckDB tracks must agree.
    declared = column_crs(types[geometry_column])
    target = CRS.from_user_input(crs or DEFAULT_CRS)
    if declared and not CRS.from_user_input(declared).equals(target, ignore_axis_order=True):
        raise ValueError(
            f"column {geometry_column!r} is in {declared}, but the file declares {crs}; "
            "ST_Transform it first"
        )


def geoparquet_type_name(duckdb_label: str) -> str:
    """``MULTIPOLYGON Z`` -> ``MultiPolygon Z``; GeoParquet 1.1 has no M geometries."""
    base, *flags = duckdb_label.split(" ")
    if "M" in flags:
        raise ValueError(f"GeoParquet 1.1 cannot store M coordinates ({duckdb_label})")
    if base not in _TYPE_NAMES:
        raise ValueError(f"unsupported geometry type {duckdb_label!r}")
    return _TYPE_NAMES[base] + (" Z" if "Z" in flags else "")


def geo_metadata(
    geometry_column: str,
    geometry_types: Iterable[str],
    bbox: tuple[float, float, float, float] | None,
    crs: Mapping[str, Any] | None,
) -> dict[str, Any]:
    """The ``geo`` file metadata (GeoParquet 1.1.0) for one WKB column with a bbox covering."""
    column: dict[str, Any] = {"encoding": "WKB", "geometry_types": sorted(set(geometry_types))}
    if crs is not None:  # an absent crs means OGC:CRS84
        column["crs"] = dict(crs)
    if bbox is not None:
        column["bbox"] = list(bbox)
    column["covering"] = {"bbox": {f: [COVERING_COLUMN, f] for f in BBOX_FIELDS}}
    return {
        "version": GEOPARQUET_VERSION,
        "primary_column": geometry_column,
        "columns": {geometry_column: column},
    }


def writer_identity() -> str:
    """What, besides the rows, makes the writers' files what they are."""
    return (
        f"crimemap writers r{WRITER_REVISION}; GeoParquet {GEOPARQUET_VERSION} {DEFAULT_CRS}; "
        f"{COMPRESSION}; pyarrow {pa.__version__}; duckdb {duckdb.__version__}"
    )


def geometry_stats(path: Path, geometry_column: str) -> tuple[Any, tuple[str, ...]]:
    """A GeoParquet file's bbox (None when it has none) and geometry types, from its footer."""
    metadata = pq.read_schema(path).metadata or {}
    column = json.loads(metadata[b"geo"])["columns"][geometry_column]
    bbox = column.get("bbox")
    return (tuple(bbox) if bbox else None), tuple(column["geometry_types"])


# --------------------------------------------------------------------------- file output


def file_digest(path: Path) -> tuple[str, int]:
    """(sha256 hex, size in bytes) of a file."""
    digest = hashlib.sha256()
    size = 0
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
            size += len(block)
    return digest.hexdigest(), size


def _row_groups(reader: pa.RecordBatchReader, size: int) -> Iterator[pa.Table]:
    """Re-slice a batch stream into tables of exactly ``size`` rows (the last may be shorter).

    Row-group boundaries then depend only on the data, not on how DuckDB chunked its output,
    which keeps files byte-stable.
    """
    pending: list[pa.RecordBatch] = []
    pending_rows = 0
    for batch in reader:
        if batch.num_rows == 0:
            continue
        pending.append(batch)
        pending_rows += batch.num_rows
        while pending_rows >= size:
            table = pa.Table.from_batches(pending, schema=reader.schema)
            yield table.slice(0, size)
            rest = table.slice(size)
            pending = rest.to_batches()
            pending_rows = rest.num_rows
    if pending_rows:
        yield pa.Table.from_batches(pending, schema=reader.schema)


def _check_row_group_size(row_group_size: int) -> None:
    if not 1 <= row_group_size <= MAX_ROW_GROUP_ROWS:
        raise ValueError(f"row_group_size must be in 1..{MAX_ROW_GROUP_ROWS}, got {row_group_size}")


def _writer(
    path: Path, schema: pa.Schema, *, no_dictionary: Iterable[str] = ()
) -> pq.ParquetWriter:
    skip = set(no_dictionary)
    dictionary: bool | list[str] = [f.name for f in schema if f.name not in skip] if skip else True
    return pq.ParquetWriter(path, schema, compression=COMPRESSION, use_dictionary=dictionary)


# --------------------------------------------------------------------------- writers


def write_geoparquet(
    con: duckdb.DuckDBPyConnection,
    query: str,
    path: Path,
    *,
    geometry_column: str = "geometry",
    crs: str | None = DEFAULT_CRS,
    row_group_size: int = 100_000,
    hilbert_order: bool = True,
) -> GeoParquetStats:
    """Write ``query`` (a GEOMETRY column in lon/lat plus attributes) as GeoParquet 1.1.

    ``crs=None`` omits the CRS, which GeoParquet defines as OGC:CRS84.
    """
    _check_row_group_size(row_group_size)
    path = Path(path)
    columns = describe_query(con, query)
    _check_geometry_columns(columns, geometry_column, crs)
    crs_json = projjson(crs) if crs is not None else None

    # Stage the layer once: the geo metadata (extent, types) must be known before the first row
    # is written, because pyarrow readers take it from the schema stored at the file's start.
    staging = f"temp.main.{quote_ident('__crimemap_geoparquet_' + uuid.uuid4().hex)}"
    con.execute(f"CREATE TEMP TABLE {staging} AS {_strip_query(query)}")
    try:
        _, *extent, labels = fetch_one(con, geometry_summary_sql(geometry_column, staging))
        bbox = None if extent[0] is None else (extent[0], extent[1], extent[2], extent[3])
        geometry_types = sorted({geoparquet_type_name(label) for label in labels or []})
        meta = geo_metadata(geometry_column, geometry_types, bbox, crs_json)
        sql = geoparquet_select_sql(
            staging, [c for c, _ in columns], geometry_column, hilbert_order=hilbert_order
        )
        reader = con.execute(sql).to_arrow_reader(row_group_size)
        schema = reader.schema.with_metadata({"geo": json.dumps(meta)})
        rows = 0
        with atomic_output(path, durable=True) as tmp:
            writer = _writer(tmp, schema, no_dictionary=[geometry_column])
            try:
                for table in _row_groups(reader, row_group_size):
                    rows += table.num_rows
                    writer.write_table(
                        table.replace_schema_metadata(schema.metadata), row_group_size
                    )
            finally:
                writer.close()
                reader.close()
            sha256, size = file_digest(tmp)
    finally:
        con.execute(f"DROP TABLE IF EXISTS {staging}")
    return GeoParquetStats(path, rows, bbox, tuple(geometry_types), sha256, size)


def write_parquet_table(
    con: duckdb.DuckDBPyConnection, query: str, path: Path, *, row_group_size: int = 100_000
) -> TableStats:
    """Write a non-spatial query result as plain zstd Parquet.

    Rows keep the query's order; give the query an ORDER BY for byte-stable output.
    """
    _check_row_group_size(row_group_size)
    path = Path(path)
    reader = con.execute(_strip_query(query)).to_arrow_reader(row_group_size)
    rows = 0
    with atomic_output(path, durable=True) as tmp:
        writer = _writer(tmp, reader.schema)
        try:
            for table in _row_groups(reader, row_group_size):
                rows += table.num_rows
                writer.write_table(table, row_group_size)
        finally:
            writer.close()
            reader.close()
        sha256, size = file_digest(tmp)
    return TableStats(path, rows, sha256, size)


# --------------------------------------------------------------------------- validator


def _is_binary(t: pa.DataType) -> bool:
    return pa.types.is_binary(t) or pa.types.is_large_binary(t) or pa.types.is_binary_view(t)


def _is_number(v: Any) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v)


def _layout_problems(where: str, md: pq.FileMetaData) -> list[str]:
    problems = []
    for i in range(md.num_row_groups):
        rg = md.row_group(i)
        if rg.num_rows > MAX_ROW_GROUP_ROWS:
            problems.append(
                f"{where}: row group {i} has {rg.num_rows} rows (max {MAX_ROW_GROUP_ROWS})"
            )
    by_codec: dict[str, list[str]] = {}
    for i in range(md.num_row_groups):
        rg = md.row_group(i)
        for j in range(rg.num_columns):
            chunk = rg.column(j)
            columns = by_codec.setdefault(chunk.compression.upper(), [])
            if chunk.path_in_schema not in columns:
                columns.append(chunk.path_in_schema)
    problems += [
        f"{where}: columns {columns} are compressed with {codec}, not ZSTD"
        for codec, columns in sorted(by_codec.items())
        if codec != "ZSTD"
    ]
    return problems


def _read_geo(where: str, md: pq.FileMetaData) -> tuple[dict[str, Any] | None, list[str]]:
    raw = (md.metadata or {}).get(b"geo")
    if raw is None:
        return None, [f"{where}: no 'geo' key in the Parquet file metadata"]
    try:
        geo = json.loads(raw)
    except ValueError as exc:
        return None, [f"{where}: 'geo' metadata is not valid JSON: {exc}"]
    if not isinstance(geo, dict):
        return None, [f"{where}: 'geo' metadata must be a JSON object"]
    return geo, []


def _crs_problems(field: str, column: Mapping[str, Any]) -> list[str]:
    if "crs" not in column:
        return []  # absent means OGC:CRS84
    crs = column["crs"]
    if crs is None:
        return [f"{field}.crs: null (unknown CRS); give PROJJSON or omit it for OGC:CRS84"]
    if not isinstance(crs, dict):
        return [f"{field}.crs: must be a PROJJSON object, got {type(crs).__name__}"]
    try:
        CRS.from_json_dict(crs)
    except Exception as exc:  # pyproj raises CRSError or others on malformed PROJJSON
        return [f"{field}.crs: not valid PROJJSON: {exc}"]
    return []


def _bbox_problems(field: str, bbox: Any) -> list[str]:
    if not isinstance(bbox, list) or len(bbox) not in (4, 6) or not all(map(_is_number, bbox)):
        return [f"{field}.bbox: must be 4 (or 6) finite numbers, got {bbox!r}"]
    half = len(bbox) // 2
    if any(bbox[i] > bbox[i + half] for i in range(half)):
        return [f"{field}.bbox: minimum exceeds maximum in {bbox!r}"]
    return []


def _covering_problems(
    field: str, column: Mapping[str, Any], schema: pa.Schema
) -> tuple[str | None, list[str]]:
    """(name of the covering struct column if usable, problems)."""
    cov = column.get("covering")
    cov = cov.get("bbox") if isinstance(cov, dict) else None
    if not isinstance(cov, dict):
        # Optional in the spec, required for crimemap releases: readers prune row groups with it.
        return None, [f"{field}.covering.bbox: missing (a bbox covering column is required)"]
    problems = []
    roots = set()
    for name in BBOX_FIELDS:
        ref = cov.get(name)
        where = f"{field}.covering.bbox.{name}"
        if not (isinstance(ref, list) and len(ref) == 2 and ref[1] == name):
            problems.append(f"{where}: must be [<column>, {name!r}], got {ref!r}")
            continue
        roots.add(ref[0])
        idx = schema.get_field_index(ref[0]) if isinstance(ref[0], str) else -1
        if idx < 0:
            problems.append(f"{where}: covering column {ref[0]!r} does not exist")
            continue
        struct = schema.field(idx).type
        if not pa.types.is_struct(struct) or struct.get_field_index(name) < 0:
            problems.append(f"{where}: column {ref[0]!r} has no struct field {name!r}")
            continue
        field_type = struct.field(name).type
        if field_type not in (pa.float64(), pa.float32()):
            problems.append(f"{where}: {ref[0]}.{name} must be DOUBLE (or FLOAT), is {field_type}")
    if len(roots) > 1:
        problems.append(f"{field}.covering.bbox: fields point at different columns {sorted(roots)}")
    return (None, problems) if problems else (roots.pop(), [])


def _geometry_types_problems(field: str, types: Any) -> list[str]:
    if not isinstance(types, list):
        return [f"{field}.geometry_types: required list, got {types!r}"]
    problems = []
    invalid = [t for t in types if not isinstance(t, str) or not GEOMETRY_TYPE_PATTERN.match(t)]
    if invalid:
        problems.append(f"{field}.geometry_types: invalid names {invalid!r}")
    if len(set(map(str, types))) != len(types):
        problems.append(f"{field}.geometry_types: duplicate entries {types!r}")
    return problems


@dataclass(frozen=True)
class _ColumnCheck:
    """Outcome of the metadata checks of one geometry column, and what the data checks may use."""

    problems: list[str]
    readable: bool  # the column exists and is binary, so its WKB can be scanned
    covering: str | None  # usable covering struct column
    bbox: list[float] | None  # well-formed declared bbox
    geometry_types: list[str] | None  # well-formed declared types


def _check_column(field: str, name: str, column: Any, schema: pa.Schema) -> _ColumnCheck:
    if not isinstance(column, dict):
        return _ColumnCheck([f"{field}: must be an object"], False, None, None, None)
    problems = []
    idx = schema.get_field_index(name)
    if idx < 0:
        problems.append(f"{field}: column {name!r} is not in the file schema")
    elif not _is_binary(schema.field(idx).type):
        problems.append(
            f"{field}: column {name!r} must be binary (WKB), is {schema.field(idx).type}"
        )
    readable = not problems
    if column.get("encoding") != "WKB":
        problems.append(f"{field}.encoding: must be 'WKB', got {column.get('encoding')!r}")
        readable = False
    type_problems = _geometry_types_problems(field, column.get("geometry_types"))
    bbox_problems = _bbox_problems(field, column["bbox"]) if "bbox" in column else []
    covering, covering_problems = _covering_problems(field, column, schema)
    problems += type_problems + bbox_problems + covering_problems + _crs_problems(field, column)
    if column.get("edges", "planar") not in ("planar", "spherical"):
        problems.append(f"{field}.edges: must be 'planar' or 'spherical'")
    if column.get("orientation", "counterclockwise") != "counterclockwise":
        problems.append(f"{field}.orientation: must be 'counterclockwise'")
    return _ColumnCheck(
        problems,
        readable,
        covering,
        column.get("bbox") if "bbox" in column and not bbox_problems else None,
        column["geometry_types"] if not type_problems else None,
    )


def _data_problems(
    con: duckdb.DuckDBPyConnection, path: Path, field: str, name: str, check: _ColumnCheck
) -> list[str]:
    """Check the geometries against the declared bbox and types and the per-row covering."""
    source = (
        f"(SELECT ST_GeomFromWKB({quote_ident(name)}) AS geom, file_row_number AS row_no"
        + (f", {quote_ident(check.covering)} AS cov" if check.covering else "")
        + f" FROM read_parquet({sql_literal(str(path))}, file_row_number = true))"
    )
    if check.covering:
        # Coverings may be conservative (e.g. float32 rounded outwards), so containment, not
        # equality; a NULL covering on a non-empty geometry also fails.
        outside = (
            f"{_has_extent_sql('geom')} AND NOT coalesce(cov.xmin <= ST_XMin(geom)"
            " AND cov.ymin <= ST_YMin(geom) AND cov.xmax >= ST_XMax(geom)"
            " AND cov.ymax >= ST_YMax(geom), false)"
        )
        covering_sql = f"SELECT count(*), min(row_no) FROM {source} WHERE {outside}"
    try:
        _, *extent, labels = fetch_one(con, geometry_summary_sql("geom", source))
        n_outside, first = fetch_one(con, covering_sql) if check.covering else (0, None)
    except duckdb.Error as exc:
        return [f"{field}: column {name!r} could not be read as WKB geometry: {exc}"]
    problems = []
    if n_outside:
        problems.append(
            f"{field}.covering: the {check.covering!r} bbox of {n_outside} row(s) does not "
            f"contain the geometry (first at row {first})"
        )
    if check.bbox is not None and extent[0] is not None:
        half = len(check.bbox) // 2
        lo, hi = check.bbox[:2], check.bbox[half : half + 2]
        xmin, ymin, xmax, ymax = extent
        if not (lo[0] <= xmin and lo[1] <= ymin and hi[0] >= xmax and hi[1] >= ymax):
            problems.append(
                f"{field}.bbox: {check.bbox!r} does not contain the data extent "
                f"[{xmin}, {ymin}, {xmax}, {ymax}]"
            )
    actual = set()
    for label in labels or []:
        try:
            actual.add(geoparquet_type_name(label))
        except ValueError as exc:
            problems.append(f"{field}: {exc}")
    # An empty geometry_types list means "unknown", which any data satisfies.
    undeclared = sorted(actual - set(check.geometry_types or actual))
    if undeclared:
        problems.append(
            f"{field}.geometry_types: {check.geometry_types!r} omits {undeclared!r} "
            "present in the data"
        )
    return problems


def validate_geoparquet(path: Path) -> list[str]:
    """Problems that keep ``path`` from being a valid GeoParquet 1.1 file (``[]`` when valid).

    Checks the ``geo`` metadata against the 1.1.0 schema; the data against the declared bbox,
    geometry types and per-row covering bbox; and our publishing rules (bbox covering present,
    zstd, row groups <= 128k rows).
    """
    path = Path(path)
    where = str(path)
    try:
        parquet = pq.ParquetFile(path)
    except (OSError, pa.ArrowException) as exc:
        return [f"{where}: not a readable Parquet file: {exc}"]
    md = parquet.metadata
    problems = _layout_problems(where, md)
    geo, geo_problems = _read_geo(where, md)
    problems += geo_problems
    if geo is None:
        return problems
    if geo.get("version") != GEOPARQUET_VERSION:
        problems.append(f"{where}: geo.version is {geo.get('version')!r}, expected '1.1.0'")
    columns = geo.get("columns")
    if not isinstance(columns, dict) or not columns:
        return [*problems, f"{where}: geo.columns must be a non-empty object"]
    if geo.get("primary_column") not in columns:
        problems.append(
            f"{where}: geo.primary_column {geo.get('primary_column')!r} is not in geo.columns"
        )
    checks = {
        name: _check_column(f"{where}: geo.columns.{name}", name, column, parquet.schema_arrow)
        for name, column in columns.items()
    }
    for check in checks.values():
        problems += check.problems
    readable = {name: check for name, check in checks.items() if check.readable}
    if readable:
        with scratch() as con:
            # Scan the raw WKB: the checks must not depend on DuckDB interpreting the metadata.
            con.execute("SET enable_geoparquet_conversion = false")
            for name, check in readable.items():
                problems += _data_problems(con, path, f"{where}: geo.columns.{name}", name, check)
    return problems


def validate_parquet_table(path: Path) -> list[str]:
    """Problems that keep ``path`` from being a published plain-Parquet table (``[]`` if valid):
    zstd and row groups <= 128k rows, like the spatial files, and no ``geo`` metadata, so no
    reader mistakes it for a GeoParquet file."""
    path = Path(path)
    where = str(path)
    try:
        md = pq.ParquetFile(path).metadata
    except (OSError, pa.ArrowException) as exc:
        return [f"{where}: not a readable Parquet file: {exc}"]
    problems = _layout_problems(where, md)
    if b"geo" in (md.metadata or {}):
        problems.append(f"{where}: a plain table must not carry 'geo' metadata")
    return problems
