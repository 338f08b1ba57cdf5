"""Area boundaries in the formats agencies download them: GeoJSON, ESRI shapefile, WKT in a CSV.

Landing keeps every attribute as a string and the geometry as published text (GeoJSON for a
GeoJSON file, WKT for a shapefile or a CSV) in a ``geometry`` column, plus ``_source_crs``: the
CRS the coordinates are in, from the jurisdiction YAML, else the file's own declaration (a
shapefile's ``.prj``, a GeoJSON ``crs`` member), else EPSG:4326 (RFC 7946). A declaration with
an authority code lands as that code ("EPSG:2926"); a ``.prj`` that names no code lands as its
WKT. A GeoJSON ``crs`` member that cannot be read is an error, not a silent EPSG:4326.
Reprojection, repair and merging happen in the split (``crimemap/quality/boundaries.py``), so the
raw file stays what was published. The landing file is written whole or not at all: a file that
fails a check never replaces the previous landing.
"""

from __future__ import annotations

import json
import os
import re
import zipfile
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import polars as pl

from crimemap.core.sql import quote_ident, sql_literal
from crimemap.ingestion.landing import (
    DEFAULT_READ,
    GEOMETRY_COLUMN,
    LandingResult,
    ReadOptions,
    land_csv,
    land_frame,
    land_geojson,
)
from crimemap.ingestion.surveys import AREA_ID_KINDS

WGS84 = "EPSG:4326"
SOURCE_CRS_COLUMN = "_source_crs"
FORMATS = ("geojson", "shapefile", "csv_wkt")
ID_KINDS = AREA_ID_KINDS  # how ids become keys: crimemap.ingestion.surveys.normalize_area_id
_EXTENSION_FORMATS = {
    ".geojson": "geojson",
    ".json": "geojson",
    ".shp": "shapefile",
    ".zip": "shapefile",
    ".csv": "csv_wkt",
}
_CRS_TEXT = re.compile(r"^(EPSG|ESRI):\d+$", re.IGNORECASE)
# "urn:ogc:def:crs:EPSG::2926", "urn:ogc:def:crs:EPSG:6.3:2926", and the OGC URL form
# "http://www.opengis.net/def/crs/EPSG/0/2926".
_URN_CRS = re.compile(r"(EPSG|ESRI)(?::[0-9.]*)?:+(\d+)$", re.IGNORECASE)
_URL_CRS = re.compile(r"/(EPSG|ESRI)/[^/]*/(\d+)$", re.IGNORECASE)
_CRS84 = re.compile(r"(^|[:/])CRS:?84$", re.IGNORECASE)  # OGC:CRS84, urn:...:OGC:1.3:CRS84
# Zip tools add these beside the real files (macOS resource forks): never the layer.
_ZIP_NOISE = re.compile(r"(^|/)(__MACOSX/|\._)")


class BoundaryError(ValueError):
    """A boundary file or mapping that cannot be read; the message names the file or key."""


@dataclass(frozen=True)
class BoundarySpec:
    """How to read one boundary layer: its format, the id/name fields, the CRS if not declared."""

    id_field: str
    name_field: str | None = None
    format: str | None = None  # None: from the file extension
    geometry_field: str = "WKT"  # csv_wkt only
    crs: str | None = None  # None: the file's own declaration, else EPSG:4326
    id_kind: str = "auto"  # auto | geoid | code | name


def parse_boundary_spec(mapping: Mapping[str, Any], where: str) -> BoundarySpec:
    """A boundary spec from the jurisdiction YAML; errors name ``where`` and the key."""
    if not isinstance(mapping, Mapping):
        raise BoundaryError(f"{where}: expected a mapping")
    id_field = mapping.get("id_field")
    if not isinstance(id_field, str) or not id_field.strip():
        raise BoundaryError(f"{where}.id_field: the field holding each area's id is required")
    name_field = mapping.get("name_field")
    if name_field is not None and (not isinstance(name_field, str) or not name_field.strip()):
        raise BoundaryError(f"{where}.name_field: expected a field name, got {name_field!r}")
    geometry_field = mapping.get("geometry_field", "WKT")
    if not isinstance(geometry_field, str) or not geometry_field.strip():
        raise BoundaryError(
            f"{where}.geometry_field: expected the name of the WKT column, got {geometry_field!r}"
        )
    fmt = mapping.get("format")
    if fmt is not None and fmt not in FORMATS:
        raise BoundaryError(f"{where}.format: must be one of {', '.join(FORMATS)}, not {fmt!r}")
    id_kind = mapping.get("id_kind", "auto")
    if id_kind not in ID_KINDS:
        raise BoundaryError(f"{where}.id_kind: must be one of {', '.join(ID_KINDS)}")
    crs = mapping.get("crs")
    if crs is not None and not _CRS_TEXT.match(str(crs)):
        raise BoundaryError(f"{where}.crs: expected an authority code like EPSG:2926, got {crs!r}")
    return BoundarySpec(
        id_field=id_field,
        name_field=name_field,
        format=fmt,
        geometry_field=geometry_field,
        crs=str(crs).upper() if crs else None,
        id_kind=id_kind,
    )


def boundary_format(spec: BoundarySpec, source_file: Path) -> str:
    if spec.format:
        return spec.format
    fmt = _EXTENSION_FORMATS.get(source_file.suffix.lower())
    if fmt is None:
        raise BoundaryError(
            f"{source_file.name}: cannot tell the boundary format from the extension; "
            f"set format to one of {', '.join(FORMATS)}"
        )
    return fmt


# --- CRS declarations -----------------------------------------------------------------------


def geojson_declared_crs(source_file: Path) -> str | None:
    """The legacy ``crs`` member of a GeoJSON file ("urn:ogc:def:crs:EPSG::2926"), if any.

    A ``crs`` member that is present but names no CRS this reader understands is an error: the
    coordinates are then in some CRS other than EPSG:4326, and the YAML's ``crs`` must say which.
    """
    source_file = Path(source_file)
    try:
        doc = json.loads(source_file.read_bytes().decode("utf-8-sig"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        return None  # the lander reports the unreadable file
    if not isinstance(doc, dict) or doc.get("crs") is None:
        return None  # not a FeatureCollection (the lander says so), or no declaration
    declared = doc["crs"]
    properties = declared.get("properties") if isinstance(declared, dict) else None
    properties = properties if isinstance(properties, dict) else {}
    crs = None
    if isinstance(declared, str):  # a bare name instead of the {"type": "name"} object
        crs = crs_from_name(declared.strip())
    elif isinstance(properties.get("name"), str):
        crs = crs_from_name(properties["name"].strip())
    elif isinstance(declared, dict) and str(declared.get("type", "")).upper() in ("EPSG", "ESRI"):
        code = str(properties.get("code", "")).strip()  # the 2008 draft's {"type": "EPSG"}
        crs = f"{str(declared['type']).upper()}:{code}" if code.isdigit() else None
    if crs is None:
        raise BoundaryError(
            f"{source_file.name}: cannot read the file's crs declaration {declared!r}; "
            "set crs (e.g. EPSG:2926) in the jurisdiction YAML"
        )
    return crs


def crs_from_name(name: str) -> str | None:
    """An authority code ("EPSG:2926") from a GeoJSON CRS name; None when there is none."""
    if _CRS84.search(name):
        return WGS84
    if _CRS_TEXT.match(name):
        return name.upper()
    match = _URN_CRS.search(name) or _URL_CRS.search(name)
    return f"{match.group(1).upper()}:{match.group(2)}" if match else None


def _shapefile_path(source_file: Path) -> str:
    """The GDAL path of a shapefile, looking inside a zip for its single ``.shp``."""
    if source_file.suffix.lower() != ".zip":
        return str(source_file)
    try:
        with zipfile.ZipFile(source_file) as archive:
            shapes = [
                n
                for n in archive.namelist()
                if n.lower().endswith(".shp") and not _ZIP_NOISE.search(n)
            ]
    except zipfile.BadZipFile as exc:
        raise BoundaryError(f"{source_file.name}: not a readable zip archive") from exc
    if len(shapes) != 1:
        raise BoundaryError(
            f"{source_file.name}: expected exactly one .shp in the archive, found {shapes}"
        )
    return f"/vsizip/{source_file}/{shapes[0]}"


def shapefile_declared_crs(con: Any, gdal_path: str) -> str | None:
    """The CRS of a shapefile's ``.prj``: its authority code, else its WKT; None without one.

    A ``.prj`` GDAL cannot match to a code (a custom projection) still says where the
    coordinates are; falling back to EPSG:4326 would throw every row out as out of range.
    """
    meta = con.execute(
        f"SELECT layers[1].geometry_fields[1].crs FROM ST_Read_Meta({sql_literal(gdal_path)})"
    ).fetchone()
    crs = meta[0] if meta else None
    if not crs:
        return None
    if crs.get("auth_name") and crs.get("auth_code"):
        return f"{crs['auth_name']}:{crs['auth_code']}".upper()
    return crs.get("wkt") or None


# --- landing ---------------------------------------------------------------------------------


def _shapefile_frame(con: Any, gdal_path: str, source_name: str) -> pl.DataFrame:
    try:
        rel = con.execute(f"SELECT * FROM ST_Read({sql_literal(gdal_path)})")
    except Exception as exc:  # GDAL's messages name the problem; keep them
        raise BoundaryError(f"{source_name}: not a readable shapefile: {exc}") from exc
    names = [c[0] for c in rel.description]
    geom = next(
        (
            n
            for n, t in zip(names, (c[1] for c in rel.description), strict=True)
            if str(t).upper().startswith("GEOMETRY")
        ),
        None,
    )
    if geom is None:
        raise BoundaryError(f"{source_name}: the shapefile has no geometry column")
    attributes = [n for n in names if n not in (geom, "OGC_FID")]
    if GEOMETRY_COLUMN in attributes:
        raise BoundaryError(f"{source_name}: an attribute is named {GEOMETRY_COLUMN!r}")
    select = ", ".join(
        [f"CAST({quote_ident(n)} AS VARCHAR) AS {quote_ident(n)}" for n in attributes]
        + [f"ST_AsText({quote_ident(geom)}) AS {GEOMETRY_COLUMN}"]
    )
    # OGC_FID is GDAL's feature order: rows land in the order they were published.
    order = "ORDER BY OGC_FID" if "OGC_FID" in names else ""
    return con.execute(f"SELECT {select} FROM ST_Read({sql_literal(gdal_path)}) {order}").pl()


def land_boundaries(
    source_file: Path,
    dest: Path,
    spec: BoundarySpec,
    *,
    load_id: str,
    con: Any,
    ingested_at: datetime | None = None,
    read: ReadOptions = DEFAULT_READ,
) -> LandingResult:
    """Land a boundary file of any supported format, with ``_source_crs`` on every row.

    Every check runs before anything is written, and the landing writer replaces ``dest``
    atomically, so a failed landing leaves the previous one untouched.
    """
    source_file, dest = Path(source_file), Path(dest)
    if not source_file.is_file():
        raise FileNotFoundError(f"{source_file}: boundary file not found")
    fmt = boundary_format(spec, source_file)
    if fmt == "geojson":
        crs = spec.crs or geojson_declared_crs(source_file) or WGS84
        constants = {SOURCE_CRS_COLUMN: crs}
        return land_geojson(
            source_file,
            dest,
            load_id=load_id,
            ingested_at=ingested_at,
            constants=constants,
            read=read,
        )
    if fmt == "csv_wkt":
        constants = {SOURCE_CRS_COLUMN: spec.crs or WGS84}
        landed = land_csv(
            source_file,
            dest.with_name(f".{dest.name}.checking"),
            load_id=load_id,
            ingested_at=ingested_at,
            constants=constants,
            read=read,
        )
        header = [c for c in landed.columns if not c.startswith("_")]
        if spec.geometry_field not in header:
            landed.path.unlink(missing_ok=True)
            raise BoundaryError(
                f"{source_file.name}: no WKT column {spec.geometry_field!r} (columns: {header})"
            )
        os.replace(landed.path, dest)
        return LandingResult(path=dest, rows=landed.rows, columns=landed.columns)
    gdal_path = _shapefile_path(source_file)
    frame = _shapefile_frame(con, gdal_path, source_file.name)
    constants = {SOURCE_CRS_COLUMN: spec.crs or shapefile_declared_crs(con, gdal_path) or WGS84}
    return land_frame(
        read.apply(source_file, frame),
        source_file.name,
        dest,
        load_id=load_id,
        ingested_at=ingested_at,
        constants=constants,
    )


def geometry_column_of(spec: BoundarySpec, fmt: str) -> str:
    return spec.geometry_field if fmt == "csv_wkt" else GEOMETRY_COLUMN
