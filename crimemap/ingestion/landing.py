"""Raw landing: a source file, exactly as published, to Parquet with lineage.

Nothing is parsed or cast: every published column lands as a string (a code "007" stays "007", a
date stays in its publisher's format), so quality rules and staging see what the publisher wrote.
Each landing adds the lineage columns of ``docs/data-contracts.md``:

- ``_source_file``: the file's name (never a machine path),
- ``_row_number``: 1-based record index in the file, header excluded (a quoted multi-line field
  is one record),
- ``_ingested_at``: UTC timestamp of the load,
- ``_load_id``: the load's identifier.

A CSV record that cannot be read (more fields than the header, a quote left open, bytes that are
not text in the declared encoding, a NUL byte) still lands, in its place, with every published
column blank and two more columns: ``_malformed`` (the line and the problem) and ``_raw_record``
(the record's text, undecodable bytes written as ``\\xNN``); the split quarantines it as
``row_malformed``. Those two columns exist only in a landing that has such a record. A record with
fewer fields than the header is read with its trailing fields blank, as exporters that omit
trailing empty fields write it.

The Parquet file (zstd) is written to a temporary file in the destination directory and renamed
into place, so a reader never sees a half-written landing.
"""

from __future__ import annotations

import csv
import io
import json
import os
import sys
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeAlias, TypeVar

import polars as pl

LINEAGE_COLUMNS: tuple[str, ...] = ("_source_file", "_row_number", "_ingested_at", "_load_id")
MALFORMED_COLUMN = "_malformed"  # why a CSV record could not be read: "line 7: ..."
RAW_RECORD_COLUMN = "_raw_record"  # that record's text as published
MALFORMED_COLUMNS: tuple[str, ...] = (MALFORMED_COLUMN, RAW_RECORD_COLUMN)
GEOMETRY_COLUMN = "geometry"
Frame: TypeAlias = pl.DataFrame | pl.LazyFrame  # a landing is written from either
FrameT = TypeVar("FrameT", pl.DataFrame, pl.LazyFrame)


@dataclass(frozen=True)
class LandingResult:
    path: Path
    rows: int
    columns: tuple[str, ...]  # as written: published columns, then lineage


class _RawNumber(str):
    """A JSON number kept as the text the publisher wrote ("000100" stays a string anyway)."""


@dataclass(frozen=True)
class ReadOptions:
    """How to read a file source as published (``columns``, ``encoding`` and ``delimiter`` in
    the jurisdiction YAML): renames and skips apply to the header as landed, where a repeated
    name's later copies are ``name#2``, ``name#3``..."""

    rename: Mapping[str, str] = field(default_factory=dict)
    skip: tuple[str, ...] = ()
    encoding: str = "utf-8"
    delimiter: str = ","

    def apply(self, source_file: Path, frame: FrameT) -> FrameT:
        """The columns after skips and renames; naming a column the file lacks is an error."""
        columns = frame.collect_schema().names()
        unknown = [c for c in (*self.skip, *self.rename) if c not in columns]
        if unknown:
            raise ValueError(
                f"{source_file}: columns to rename or skip are not in the file: {unknown}; "
                f"the file has {columns}"
            )
        frame = frame.drop(list(self.skip)).rename(dict(self.rename))
        _check_columns(source_file, frame.collect_schema().names())
        return frame


DEFAULT_READ = ReadOptions()


def positional_names(header: Iterable[str | None]) -> list[str]:
    """Header names stripped of stray spaces; a blank one is ``column_<position>`` and a
    repeated one's later copies are ``name#2``, ``name#3``... (real exports repeat names)."""
    names: list[str] = []
    seen: dict[str, int] = {}
    for position, raw in enumerate(header, start=1):
        name = (raw or "").strip() or f"column_{position}"
        seen[name] = seen.get(name, 0) + 1
        names.append(name if seen[name] == 1 else f"{name}#{seen[name]}")
    return names


def delimiter_hint(columns: Sequence[str]) -> str:
    """A hint when a file read as comma-separated came out as one column holding another
    delimiter (a semicolon, a tab, a pipe): the header names it."""
    if len(columns) != 1:
        return ""
    for delimiter, name in ((";", "';'"), ("\t", "'\\t'"), ("|", "'|'")):
        if delimiter in columns[0]:
            return (
                f"; the file has one column {columns[0][:60]!r}...: separated by {name}? "
                f"declare delimiter: {name}"
            )
    return ""


def _is_utf8(encoding: str) -> bool:
    return encoding.replace("-", "").replace("_", "").lower() in ("utf8", "utf8sig")


def _check_encoding(source_file: Path, encoding: str) -> None:
    try:
        "".encode(encoding)
    except LookupError as exc:
        raise ValueError(f"{source_file}: unknown encoding {encoding!r}") from exc


def _has_nul(source_file: Path, block: int = 1 << 24) -> bool:
    """Whether the file holds a NUL byte, read in blocks (a mapping of a gigabyte export would
    count against the process's resident memory)."""
    with source_file.open("rb") as handle:
        while chunk := handle.read(block):
            if b"\x00" in chunk:
                return True
    return False


def _land_whole(
    source_file: Path, read: ReadOptions, separator: str, write: Callable[[Frame], LandingResult]
) -> LandingResult | None:
    """polars's reader, every column a string under its landed name, handed to ``write``;
    ``None`` when a record is malformed (the tolerant reader then finds which). A UTF-8 file is
    streamed, never held in memory whole (a police export can be gigabytes); polars reads
    UTF-8 only, so a file in another encoding is decoded in memory first."""
    if _has_nul(source_file):
        return None
    source: Path | bytes = source_file
    try:
        if not _is_utf8(read.encoding):
            source = source_file.read_bytes().decode(read.encoding).encode("utf-8")
        # The header is read on its own because polars renames duplicate names silently.
        header = pl.read_csv(
            _as_readable(source),
            has_header=False,
            n_rows=1,
            infer_schema=False,
            separator=separator,
        ).row(0)
        frame = pl.scan_csv(_as_readable(source), infer_schema=False, separator=separator)
        names = frame.collect_schema().names()
        frame = frame.rename(dict(zip(names, positional_names(header), strict=True)))
        return write(read.apply(source_file, frame))
    except (pl.exceptions.PolarsError, UnicodeDecodeError):
        return None


def _as_readable(source: Path | bytes) -> Path | io.BytesIO:
    return io.BytesIO(source) if isinstance(source, bytes) else source


@dataclass(frozen=True)
class _Record:
    line: int  # the physical line the record starts on, 1-based
    text: str  # as decoded, undecodable bytes as lone surrogates
    fields: list[str] | None  # None: the record does not parse
    problem: str | None = None


def _records(lines: list[str], separator: str) -> Iterator[_Record]:
    """The CSV records of ``lines``. A record that does not parse (a quote left open, text after
    a closing quote) is its first line alone; reading resumes on the next line, so a quote left
    open swallows one line, not the rest of the file."""
    position = 0
    while position < len(lines):
        consumed = [position]

        def feed(start: int = position, consumed: list[int] = consumed) -> Iterator[str]:
            for index in range(start, len(lines)):
                consumed[0] = index + 1
                yield lines[index]

        reader = csv.reader(feed(), delimiter=separator, strict=True)
        start = position
        while True:
            try:
                fields = next(reader)
            except StopIteration:
                return
            except csv.Error as exc:
                yield _Record(start + 1, lines[start], None, _csv_problem(exc))
                position = start + 1
                break
            yield _Record(start + 1, "".join(lines[start : consumed[0]]), fields)
            start = consumed[0]


def _csv_problem(error: csv.Error) -> str:
    message = str(error)
    if message == "unexpected end of data":
        return "a quoted field is never closed"
    if message.endswith("expected after '\"'"):
        return "a quote that does not close its field"
    return f"does not parse as CSV ({message})"


def _undecodable(text: str) -> bool:
    return any("\udc80" <= ch <= "\udcff" for ch in text)


def _published_text(text: str, encoding: str) -> str:
    """A record's text for the quarantine: bytes the encoding cannot decode written as \\xNN."""
    text = text.rstrip("\r\n")
    if not _undecodable(text):
        return text
    return text.encode(encoding, "surrogateescape").decode(encoding, "backslashreplace")


def _record_problem(record: _Record, width: int, encoding: str) -> str | None:
    if record.problem is not None:
        return record.problem
    if record.fields is not None and len(record.fields) > width:
        return f"{len(record.fields)} fields, the header has {width}"
    if _undecodable(record.text):
        return f"bytes that are not {encoding} text"
    if "\x00" in record.text:
        return "a NUL byte"
    return None


@dataclass(frozen=True)
class _TolerantRead:
    frame: pl.DataFrame  # the published columns; a malformed record's are all blank
    malformed: list[str | None]
    raw_records: list[str | None]


def _read_tolerant(source_file: Path, encoding: str, separator: str) -> _TolerantRead:
    """Record by record, so one malformed record is kept aside instead of failing the file."""
    codec = "utf-8-sig" if _is_utf8(encoding) else encoding
    text = source_file.read_bytes().decode(codec, "surrogateescape")
    csv.field_size_limit(max(csv.field_size_limit(), 2**31 - 1))  # a 5 MB field is still a field
    records = _records(list(io.StringIO(text, newline="")), separator)
    header = next(records, None)
    if header is None or header.fields is None or _record_problem(header, sys.maxsize, encoding):
        problem = "no header" if header is None else _record_problem(header, sys.maxsize, encoding)
        raise ValueError(f"{source_file}: line 1: the header cannot be read: {problem}")
    names = positional_names(header.fields)
    width = len(names)
    columns: list[list[str | None]] = [[] for _ in names]
    malformed: list[str | None] = []
    raw_records: list[str | None] = []
    for record in records:
        problem = _record_problem(record, width, encoding)
        values: list[str | None] = [None] * width
        if problem is None and record.fields is not None:
            values[: len(record.fields)] = [v if v != "" else None for v in record.fields]
        for column, value in zip(columns, values, strict=True):
            column.append(value)
        malformed.append(None if problem is None else f"line {record.line}: {problem}")
        raw_records.append(None if problem is None else _published_text(record.text, encoding))
    frame = pl.DataFrame(
        dict(zip(names, columns, strict=True)), schema=dict.fromkeys(names, pl.String)
    )
    return _TolerantRead(frame, malformed, raw_records)


def land_csv(
    source_file: Path,
    dest: Path,
    *,
    load_id: str,
    ingested_at: datetime | None = None,
    constants: Mapping[str, str] | None = None,
    separator: str | None = None,
    read: ReadOptions = DEFAULT_READ,
) -> LandingResult:
    """Land a CSV export: every column a string, header names stripped of stray spaces.

    A header cell left blank (a trailing separator) is named ``column_<position>``; a repeated
    name's later copies ``name#2``... (``positional_names``); then ``read``'s skips and renames.
    polars reads a well-formed file; a file with a malformed record is read again record by
    record and lands its malformed records in ``MALFORMED_COLUMNS`` (see the module's doc).
    """
    source_file = Path(source_file)
    _check_readable(source_file)
    _check_encoding(source_file, read.encoding)
    separator = separator or read.delimiter
    landed = _land_whole(
        source_file,
        read,
        separator,
        lambda frame: _write_landing(
            frame, source_file, Path(dest), load_id, ingested_at, constants
        ),
    )
    if landed is not None:
        return landed
    tolerant = _read_tolerant(source_file, read.encoding, separator)
    frame = read.apply(source_file, tolerant.frame)
    if any(reason is not None for reason in tolerant.malformed):
        frame = frame.with_columns(
            pl.Series(MALFORMED_COLUMN, tolerant.malformed, dtype=pl.String),
            pl.Series(RAW_RECORD_COLUMN, tolerant.raw_records, dtype=pl.String),
        )
    return _write_landing(frame, source_file, Path(dest), load_id, ingested_at, constants)


def land_frame(
    frame: pl.DataFrame,
    source_name: str,
    dest: Path,
    *,
    load_id: str,
    ingested_at: datetime | None = None,
    constants: Mapping[str, str] | None = None,
) -> LandingResult:
    """Land rows already in memory (an API's pages), every column as a string.

    ``source_name`` stands in for the file name in ``_source_file`` (e.g. the API window).
    """
    _check_columns(Path(source_name), frame.columns)
    frame = frame.select(pl.all().cast(pl.String))
    return _write_landing(frame, Path(source_name), Path(dest), load_id, ingested_at, constants)


def land_parquet(
    source_file: Path,
    dest: Path,
    *,
    load_id: str,
    ingested_at: datetime | None = None,
    read: ReadOptions = DEFAULT_READ,
) -> LandingResult:
    """Land a Parquet table: every column cast to a string, as a CSV would land."""
    source_file = Path(source_file)
    _check_readable(source_file)
    try:
        frame = pl.read_parquet(source_file)
    except (pl.exceptions.PolarsError, OSError) as exc:
        raise ValueError(f"{source_file}: not a readable Parquet file: {exc}") from exc
    frame = read.apply(source_file, frame.select(pl.all().cast(pl.String)))
    return _write_landing(frame, source_file, Path(dest), load_id, ingested_at)


def land_geojson(
    source_file: Path,
    dest: Path,
    *,
    load_id: str,
    ingested_at: datetime | None = None,
    constants: Mapping[str, str] | None = None,
    read: ReadOptions = DEFAULT_READ,
) -> LandingResult:
    """Land a GeoJSON FeatureCollection: one row per feature, each property a string column and
    ``geometry`` the feature's geometry as GeoJSON text (numbers exactly as published)."""
    source_file = Path(source_file)
    doc = _read_json(source_file)
    if not isinstance(doc, dict) or doc.get("type") != "FeatureCollection":
        raise ValueError(f"{source_file}: not a GeoJSON FeatureCollection")
    features = doc.get("features")
    if not isinstance(features, list) or not all(isinstance(f, dict) for f in features):
        raise ValueError(f"{source_file}: FeatureCollection has no valid 'features' array")
    properties = [f.get("properties") or {} for f in features]
    if not all(isinstance(p, dict) for p in properties):
        raise ValueError(f"{source_file}: a feature's 'properties' is not an object")
    names = list(dict.fromkeys(key for p in properties for key in p))
    _check_columns(source_file, [*names, GEOMETRY_COLUMN])
    columns: dict[str, list[str | None]] = {
        name: [_as_text(p.get(name)) for p in properties] for name in names
    }
    columns[GEOMETRY_COLUMN] = [
        None if f.get("geometry") is None else _dump_json(f["geometry"]) for f in features
    ]
    frame = read.apply(source_file, pl.DataFrame(columns, schema=dict.fromkeys(columns, pl.String)))
    return _write_landing(frame, source_file, Path(dest), load_id, ingested_at, constants)


def land_census_json(
    source_file: Path,
    dest: Path,
    *,
    load_id: str,
    ingested_at: datetime | None = None,
) -> LandingResult:
    """Land a Census API response: a JSON array of arrays whose first row holds the names."""
    source_file = Path(source_file)
    doc = _read_json(source_file)
    if not isinstance(doc, list) or not doc or not all(isinstance(row, list) for row in doc):
        raise ValueError(f"{source_file}: not a Census API array of arrays with a header row")
    header, rows = doc[0], doc[1:]
    if not all(isinstance(name, str) for name in header):
        raise ValueError(f"{source_file}: header row must hold column names")
    names = [name.strip() for name in header]
    _check_columns(source_file, names)
    ragged = next((i for i, row in enumerate(rows, start=1) if len(row) != len(names)), None)
    if ragged is not None:
        raise ValueError(
            f"{source_file}: record {ragged} has {len(rows[ragged - 1])} values, "
            f"the header has {len(names)}"
        )
    values = list(zip(*rows, strict=True)) if rows else [() for _ in names]
    frame = pl.DataFrame(
        {name: [_as_text(v) for v in column] for name, column in zip(names, values, strict=True)},
        schema=dict.fromkeys(names, pl.String),
    )
    return _write_landing(frame, source_file, Path(dest), load_id, ingested_at)


# --------------------------------------------------------------------------------------------


def _check_readable(source_file: Path) -> None:
    if not source_file.is_file():
        raise FileNotFoundError(f"{source_file}: source file not found")
    if source_file.stat().st_size == 0:
        raise ValueError(f"{source_file}: source file is empty")


def _check_columns(source_file: Path, names: Iterable[str]) -> None:
    names = list(names)
    if any(name == "" for name in names):
        raise ValueError(f"{source_file}: a column has no name")
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise ValueError(f"{source_file}: duplicate column names {duplicates}")
    clashes = sorted(set(names) & {*LINEAGE_COLUMNS, *MALFORMED_COLUMNS})
    if clashes:
        raise ValueError(f"{source_file}: columns {clashes} clash with lineage column names")


def _read_json(source_file: Path) -> Any:
    _check_readable(source_file)
    try:
        text = source_file.read_bytes().decode("utf-8-sig")  # tolerate a UTF-8 BOM
        # Numbers stay as published text: "1.50" must not become "1.5", nor 10-digit ids floats.
        return json.loads(
            text, parse_int=_RawNumber, parse_float=_RawNumber, parse_constant=_RawNumber
        )
    except UnicodeDecodeError as exc:
        raise ValueError(f"{source_file}: not UTF-8 text: {exc}") from exc
    except json.JSONDecodeError as exc:
        raise ValueError(f"{source_file}: malformed JSON: {exc}") from exc


def _as_text(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, str):  # includes _RawNumber
        return str(value)
    return _dump_json(value)  # booleans, nested objects and arrays


def _dump_json(value: Any) -> str:
    """Compact JSON text that writes numbers exactly as they were published."""
    if isinstance(value, _RawNumber):
        return str(value)
    if isinstance(value, dict):
        items = (f"{json.dumps(k)}:{_dump_json(v)}" for k, v in value.items())
        return "{" + ",".join(items) + "}"
    if isinstance(value, list):
        return "[" + ",".join(_dump_json(v) for v in value) + "]"
    return json.dumps(value)


def _utc(ingested_at: datetime | None) -> datetime:
    if ingested_at is None:
        return datetime.now(UTC)
    if ingested_at.tzinfo is None or ingested_at.utcoffset() is None:
        raise ValueError("ingested_at must be timezone-aware")
    return ingested_at.astimezone(UTC)


def _write_landing(
    frame: Frame,
    source_file: Path,
    dest: Path,
    load_id: str,
    ingested_at: datetime | None,
    constants: Mapping[str, str] | None = None,
) -> LandingResult:
    if not load_id or not load_id.strip():
        raise ValueError("load_id must be a non-empty string")
    columns = frame.collect_schema().names()
    constant_columns = [
        pl.lit(_utc(ingested_at), dtype=pl.Datetime("us", "UTC")).alias("_ingested_at"),
        pl.lit(load_id, dtype=pl.String).alias("_load_id"),
        # per-load facts every row carries, e.g. the CRS a boundary file is in
        *(pl.lit(v, dtype=pl.String).alias(k) for k, v in (constants or {}).items()),
    ]
    landed = (
        frame.lazy()
        .with_row_index("_row_number", offset=1)  # streams, where int_range(len) would not
        .select(
            *columns,
            pl.lit(source_file.name, dtype=pl.String).alias("_source_file"),
            pl.col("_row_number").cast(pl.Int64),
            *constant_columns,
        )
    )
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.with_name(f".{dest.name}.{uuid.uuid4().hex}.tmp")
    try:
        landed.sink_parquet(tmp, compression="zstd")
        rows = pl.scan_parquet(tmp).select(pl.len()).collect().item()  # from the footer
        os.replace(tmp, dest)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return LandingResult(path=dest, rows=rows, columns=tuple(landed.collect_schema().names()))
