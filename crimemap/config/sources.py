"""The survey and public-record sources of a jurisdiction YAML: boundaries, ACS indicators,
facilities, 311 service requests and resident surveys.

Each entry names a mode (``none`` | ``sample`` | ``file`` | ``live`` where the source has an API)
and how to read the publisher's fields. An omitted entry is ``none``: the jurisdiction has no such
source, and the marts that need it are withheld with a reason, never filled with sample data.
Sample data appears only where ``mode: sample`` is written. Surveys default to ``file``: whatever
lands in the inbox (nothing, for a city that never drops a file there).
Errors are ``ConfigError`` naming the file and the key.
"""

from __future__ import annotations

import codecs
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any, TypeVar

from crimemap.ingestion.boundaries import BoundaryError, BoundarySpec, parse_boundary_spec
from crimemap.ingestion.census import TABLE_SETS
from crimemap.ingestion.indicator_table import IndicatorTable, parse_indicator_table, table_format
from crimemap.ingestion.landing import DEFAULT_READ, ReadOptions

T = TypeVar("T")

NONE = "none"  # the jurisdiction has no such source

INTERPOLATION_METHODS = ("area",)
# The columns of the sample feed's areas GeoJSON: what `mode: sample` reads.
SAMPLE_BOUNDARY_SPEC = BoundarySpec(id_field="GEOID", name_field="NAME", id_kind="geoid")
DEFAULT_SURVEY_INBOX = "inbox/surveys"


class ConfigError(ValueError):
    """A jurisdiction file that cannot be used; the message names the file and the key."""


@dataclass(frozen=True)
class BoundarySource:
    mode: str  # none | sample | file
    spec: BoundarySpec
    path: Path | None = None
    read: ReadOptions = DEFAULT_READ


@dataclass(frozen=True)
class CensusApi:
    year: int
    geography_in: tuple[str, ...]  # ("state:53", "county:033")
    dataset: str = "acs/acs5"
    geography_for: str = "tract:*"
    base_url: str = "https://api.census.gov/data"
    api_key_env: str = "CENSUS_API_KEY"


@dataclass(frozen=True)
class IndicatorSource:
    mode: str  # none | sample | file | live
    path: Path | None = None
    table_set: str = "social_services"
    cv_threshold_pct: float = 30.0
    api: CensusApi | None = None
    units: BoundarySource | None = None  # the indicators' own geography, when not the areas'
    interpolation: str = "area"
    table: IndicatorTable | None = None  # a city's own table; None: Census ACS (API JSON)
    read: ReadOptions = DEFAULT_READ

    @property
    def indicator_names(self) -> tuple[str, ...]:
        """Every indicator the source yields, in order."""
        if self.table is not None:
            return self.table.indicator_names
        return tuple(i.name for i in TABLE_SETS[self.table_set])

    @property
    def indicator_kinds(self) -> dict[str, str]:
        if self.table is not None:
            kinds = {}
            for i in self.table.indicators:
                kinds[i.name] = i.kind if i.universe_column is None else "proportion"
                if i.universe_column:
                    kinds[i.numerator_name] = kinds[i.universe_name] = "count"
            return kinds
        return {i.name: i.kind for i in TABLE_SETS[self.table_set]}

    @property
    def measures(self) -> tuple[str, ...]:
        """The indicators crime rates are correlated with: all but counts."""
        return tuple(n for n, kind in self.indicator_kinds.items() if kind != "count")

    @property
    def indicator_needs(self) -> dict[str, str]:
        """Which way each measure points: ``high`` (a high value means more need) or ``low``."""
        if self.table is not None:
            needs = {i.name: i.need for i in self.table.indicators}
        else:
            needs = {i.name: i.need for i in TABLE_SETS[self.table_set]}
        return {name: needs.get(name, "high") for name in self.measures}


@dataclass(frozen=True)
class FacilitySource:
    mode: str  # none | sample | file
    mapping: Any  # crimemap.ingestion.facilities.FacilityMapping
    path: Path | None = None
    read: ReadOptions = DEFAULT_READ


@dataclass(frozen=True)
class ServiceRequestSource:
    mode: str  # none | sample | file | live
    layout: Any  # crimemap.ingestion.service_requests.layout.ServiceRequestLayout
    start_month: date = date(2024, 7, 1)
    path: Path | None = None
    live: Mapping[str, Any] = field(default_factory=dict)
    read: ReadOptions = DEFAULT_READ


@dataclass(frozen=True)
class SurveySource:
    mode: str  # sample | file
    layout: Any  # crimemap.ingestion.surveys.SurveyLayout
    inbox: str = DEFAULT_SURVEY_INBOX  # relative to the data directory
    min_responses: int = 10
    declared: bool = True  # False: no layout given, so the inbox takes no files


@dataclass(frozen=True)
class QualitySettings:
    """Run-wide quality bounds (``quality:`` in the YAML); see ``crimemap/quality/volume.py``."""

    max_volume_drop: float = 0.5  # a load losing more than this share of its baseline fails
    min_baseline_rows: int = 50  # smaller baselines are noise, not judged
    volume_overrides: Mapping[str, float] = field(default_factory=dict)  # per source
    # a boundary repair changing an area's size by more than this share warns, naming the area
    max_repair_area_change: float = 0.01
    # a load accepting less than this share of its rows stops its source; less than warn, warns
    min_accepted_share: float = 0.5
    warn_accepted_share: float = 0.9

    def max_drop_for(self, source: str) -> float:
        return self.volume_overrides.get(source, self.max_volume_drop)


# --- small readers ---------------------------------------------------------------------------


def parse_month(value: Any, where: str) -> date:
    text = str(value)
    match = re.fullmatch(r"(\d{4})-(\d{2})(?:-01)?", text)
    if not match or not 1 <= int(match.group(2)) <= 12:
        raise ConfigError(f"{where}: expected a month like 2024-07, got {value!r}")
    return date(int(match.group(1)), int(match.group(2)), 1)


def as_mapping(value: Any, where: str) -> Mapping[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise ConfigError(f"{where}: expected a mapping")
    return value


def parse_mode(entry: Mapping[str, Any], where: str, allowed: tuple[str, ...], default: str) -> str:
    mode = entry.get("mode", default)
    if mode not in allowed:
        raise ConfigError(f"{where}.mode: must be one of {', '.join(allowed)}, not {mode!r}")
    return mode


def existing_file(base: Path, value: Any, where: str) -> Path:
    if not value:
        raise ConfigError(f"{where}: file mode needs a 'path'")
    path = Path(str(value))
    path = path if path.is_absolute() else (base / path).resolve()
    if not path.is_file():
        raise ConfigError(f"{where}: file not found: {value}")
    return path


READ_KEYS = ("columns", "encoding", "delimiter")


def read_options(entry: Mapping[str, Any], where: str) -> ReadOptions:
    """``columns: {rename: {old: new}, skip: [...]}``, ``encoding`` and ``delimiter`` of a file
    source. A repeated header name's later copies are ``name#2``, ``name#3``..."""
    columns = as_mapping(entry.get("columns"), f"{where}.columns")
    unknown = sorted(set(columns) - {"rename", "skip"})
    if unknown:
        raise ConfigError(f"{where}.columns: unknown keys {unknown} (known: rename, skip)")
    rename = as_mapping(columns.get("rename"), f"{where}.columns.rename")
    if not all(isinstance(k, str) and isinstance(v, str) and v.strip() for k, v in rename.items()):
        raise ConfigError(f"{where}.columns.rename: a mapping of column name -> new name")
    skip = columns.get("skip") or []
    if isinstance(skip, str):
        skip = [skip]
    if not isinstance(skip, list) or not all(isinstance(c, str) for c in skip):
        raise ConfigError(f"{where}.columns.skip: a list of column names")
    encoding = entry.get("encoding", "utf-8")
    try:
        codecs.lookup(str(encoding))
    except LookupError as exc:
        raise ConfigError(f"{where}.encoding: unknown encoding {encoding!r}") from exc
    delimiter = entry.get("delimiter", ",")
    if not isinstance(delimiter, str) or len(delimiter) != 1:
        raise ConfigError(f"{where}.delimiter: one character, e.g. ';' or '\\t', got {delimiter!r}")
    return ReadOptions(
        rename=dict(rename), skip=tuple(skip), encoding=str(encoding), delimiter=delimiter
    )


def _parsed(parse: Callable[[], T], where: str) -> T:
    """Run a sub-parser; its ValueError becomes a ConfigError that names the file."""
    try:
        return parse()
    except ConfigError:
        raise
    except (BoundaryError, ValueError) as exc:  # IndicatorTableError is a ValueError
        message = str(exc)
        file_name = where.split(":", 1)[0]
        raise ConfigError(
            message if message.startswith(file_name) else f"{where}: {message}"
        ) from exc


def _number(entry: Mapping[str, Any], key: str, default: float, where: str) -> float:
    value = entry.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
        raise ConfigError(f"{where}.{key}: expected a positive number, got {value!r}")
    return float(value)


# --- per source ------------------------------------------------------------------------------


def boundary_source(
    entry: Any, where: str, base: Path, *, sample_spec: BoundarySpec
) -> BoundarySource:
    entry = as_mapping(entry, where)
    mode = parse_mode(entry, where, (NONE, "sample", "file"), NONE)
    if mode in (NONE, "sample"):
        return BoundarySource(mode=mode, spec=sample_spec)
    spec = _parsed(
        lambda: parse_boundary_spec({k: v for k, v in entry.items() if k not in READ_KEYS}, where),
        where,
    )
    return BoundarySource(
        mode="file",
        spec=spec,
        path=existing_file(base, entry.get("path"), f"{where}.path"),
        read=read_options(entry, where),
    )


def _census_api(entry: Mapping[str, Any], where: str) -> CensusApi:
    api = as_mapping(entry.get("api"), f"{where}.api")
    if not api:
        raise ConfigError(f"{where}: live mode needs an 'api' section (year, in)")
    year = api.get("year")
    if not isinstance(year, int) or not 2009 <= year <= 2100:
        raise ConfigError(f"{where}.api.year: the ACS release year, e.g. 2022, got {year!r}")
    geography_in = api.get("in", [])
    if isinstance(geography_in, str):
        geography_in = [geography_in]
    if not geography_in or not all(isinstance(g, str) and ":" in g for g in geography_in):
        raise ConfigError(
            f"{where}.api.in: the enclosing geographies, e.g. ['state:53', 'county:033']"
        )
    return CensusApi(
        year=year,
        geography_in=tuple(geography_in),
        dataset=str(api.get("dataset", CensusApi.dataset)),
        geography_for=str(api.get("for", CensusApi.geography_for)),
        base_url=str(api.get("base_url", CensusApi.base_url)),
        api_key_env=str(api.get("api_key_env", CensusApi.api_key_env)),
    )


def indicator_source(entry: Any, where: str, base: Path) -> IndicatorSource:
    entry = as_mapping(entry, where)
    mode = parse_mode(entry, where, (NONE, "sample", "file", "live"), NONE)
    table_set = entry.get("table_set", "social_services")
    if table_set not in TABLE_SETS:
        raise ConfigError(
            f"{where}.table_set: unknown ACS table set {table_set!r}; known: {sorted(TABLE_SETS)}"
        )
    units = None
    if entry.get("units") is not None:
        units_entry = {"mode": "file", **as_mapping(entry["units"], f"{where}.units")}
        units = boundary_source(
            units_entry, f"{where}.units", base, sample_spec=SAMPLE_BOUNDARY_SPEC
        )
    interpolation = entry.get("interpolation", "area")
    if interpolation not in INTERPOLATION_METHODS:
        raise ConfigError(
            f"{where}.interpolation: must be one of {', '.join(INTERPOLATION_METHODS)}, "
            f"not {interpolation!r}"
        )
    table = None
    if entry.get("indicators") is not None:
        if mode != "file":
            raise ConfigError(f"{where}.indicators: a city's own table is read in file mode")
        table = _parsed(lambda: parse_indicator_table(entry, where), where)
    path = existing_file(base, entry.get("path"), f"{where}.path") if mode == "file" else None
    if table is not None and path is not None:
        _parsed(lambda: table_format(path.suffix, f"{where}.path"), where)
    return IndicatorSource(
        mode=mode,
        table=table,
        read=read_options(entry, where),
        path=path,
        table_set=table_set,
        cv_threshold_pct=_number(entry, "cv_threshold_pct", 30.0, where),
        api=_census_api(entry, where) if mode == "live" else None,
        units=units,
        interpolation=interpolation,
    )


def facility_source(entry: Any, where: str, base: Path) -> FacilitySource:
    from crimemap.ingestion.facilities import parse_facility_mapping

    entry = as_mapping(entry, where)
    mode = parse_mode(entry, where, (NONE, "sample", "file"), NONE)
    spec: dict[str, Any] = {k: v for k, v in entry.items() if k not in ("mode", "path", *READ_KEYS)}
    mapping = _parsed(lambda: parse_facility_mapping(spec, where), where)
    path = existing_file(base, entry.get("path"), f"{where}.path") if mode == "file" else None
    return FacilitySource(mode=mode, mapping=mapping, path=path, read=read_options(entry, where))


def service_request_source(entry: Any, where: str, base: Path) -> ServiceRequestSource:
    from crimemap.ingestion.service_requests.layout import service_request_layout

    entry = as_mapping(entry, where)
    mode = parse_mode(entry, where, (NONE, "sample", "file", "live"), NONE)
    spec = entry.get("layout", "sf311")
    if not isinstance(spec, str | Mapping):
        raise ConfigError(f"{where}.layout: a built-in layout name or a column mapping")
    layout = _parsed(
        lambda: service_request_layout(spec, name="service_requests", where=f"{where}.layout"),
        where,
    )
    if mode == "live" and getattr(layout, "live", None) is None and not entry.get("live"):
        raise ConfigError(f"{where}: live mode needs a 'live' section (socrata)")
    return ServiceRequestSource(
        mode=mode,
        layout=layout,
        start_month=parse_month(entry.get("start_month", "2024-07"), f"{where}.start_month"),
        path=existing_file(base, entry.get("path"), f"{where}.path") if mode == "file" else None,
        live=dict(as_mapping(entry.get("live"), f"{where}.live")),
        read=read_options(entry, where),
    )


def survey_source(entry: Any, where: str) -> SurveySource:
    from crimemap.ingestion.surveys import NO_SURVEY_LAYOUT, parse_survey_layout

    entry = as_mapping(entry, where)
    mode = parse_mode(entry, where, ("sample", "file"), "file")
    layout_entry = entry.get("layout")
    if layout_entry is None and mode == "sample":
        raise ConfigError(
            f"{where}.layout: sample mode drops the sample city's survey in the inbox; give the "
            "layout that reads it (as config/jurisdictions/sample_city.yml does)"
        )
    layout = (
        NO_SURVEY_LAYOUT
        if layout_entry is None
        else _parsed(
            lambda: parse_survey_layout(
                as_mapping(layout_entry, f"{where}.layout"), f"{where}.layout"
            ),
            where,
        )
    )
    inbox = str(entry.get("inbox", DEFAULT_SURVEY_INBOX))
    if Path(inbox).is_absolute() or ".." in Path(inbox).parts:
        raise ConfigError(f"{where}.inbox: a directory inside the data directory, got {inbox!r}")
    min_responses = entry.get("min_responses", 10)
    if isinstance(min_responses, bool) or not isinstance(min_responses, int) or min_responses < 1:
        raise ConfigError(f"{where}.min_responses: a positive whole number, got {min_responses!r}")
    return SurveySource(
        mode=mode,
        layout=layout,
        inbox=inbox,
        min_responses=min_responses,
        declared=layout_entry is not None,
    )


def _drop_share(value: Any, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 < value < 1:
        raise ConfigError(f"{where}: a share between 0 and 1 (exclusive), got {value!r}")
    return float(value)


def quality_settings(entry: Any, where: str) -> QualitySettings:
    entry = as_mapping(entry, where)
    known = {
        "max_volume_drop",
        "min_baseline_rows",
        "sources",
        "max_repair_area_change",
        "min_accepted_share",
        "warn_accepted_share",
    }
    unknown = sorted(set(entry) - known)
    if unknown:
        raise ConfigError(f"{where}: unknown keys {unknown}")
    default = QualitySettings()
    min_rows = entry.get("min_baseline_rows", default.min_baseline_rows)
    if isinstance(min_rows, bool) or not isinstance(min_rows, int) or min_rows < 1:
        raise ConfigError(f"{where}.min_baseline_rows: a positive whole number, got {min_rows!r}")
    overrides = {
        str(name): _drop_share(
            as_mapping(settings, f"{where}.sources.{name}").get("max_volume_drop"),
            f"{where}.sources.{name}.max_volume_drop",
        )
        for name, settings in as_mapping(entry.get("sources"), f"{where}.sources").items()
    }
    error_share = _drop_share(
        entry.get("min_accepted_share", default.min_accepted_share), f"{where}.min_accepted_share"
    )
    warn_share = _drop_share(
        entry.get("warn_accepted_share", max(default.warn_accepted_share, error_share)),
        f"{where}.warn_accepted_share",
    )
    if warn_share < error_share:
        raise ConfigError(
            f"{where}.warn_accepted_share: {warn_share} is below min_accepted_share "
            f"{error_share}; the warning comes first"
        )
    return QualitySettings(
        max_volume_drop=_drop_share(
            entry.get("max_volume_drop", default.max_volume_drop), f"{where}.max_volume_drop"
        ),
        min_baseline_rows=min_rows,
        volume_overrides=overrides,
        max_repair_area_change=_drop_share(
            entry.get("max_repair_area_change", default.max_repair_area_change),
            f"{where}.max_repair_area_change",
        ),
        min_accepted_share=error_share,
        warn_accepted_share=warn_share,
    )
