"""A jurisdiction's configuration: one YAML file names its sources, modes and settings.

``config/jurisdictions/sample_city.yml`` is the default (the embedded sample city). A city runs
its own exports with ``crimemap run --config FILE``; paths in the file are relative to it.
Errors name the file and the key, so a typo never surfaces as a stack trace deep in a run.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import pyproj
import yaml

from crimemap.config.analysis import (
    PRIORITY_COMPONENTS,
    AnalysisSettings,
    analysis_settings,
    initiatives,
)
from crimemap.config.publishing import PublishingSettings, publishing_settings
from crimemap.config.sources import (
    NONE,
    SAMPLE_BOUNDARY_SPEC,
    BoundarySource,
    ConfigError,
    FacilitySource,
    IndicatorSource,
    QualitySettings,
    ServiceRequestSource,
    SurveySource,
    boundary_source,
    existing_file,
    facility_source,
    indicator_source,
    parse_mode,
    parse_month,
    quality_settings,
    read_options,
    service_request_source,
    survey_source,
)
from crimemap.core.project import JURISDICTIONS_DIR
from crimemap.ingestion.landing import DEFAULT_READ, ReadOptions
from crimemap.ingestion.police.layout import (
    LAYOUTS_DIR,
    LayoutError,
    PoliceLayout,
    builtin_layout,
    parse_layout,
)

MODES = ("sample", "file", "live")
# The survey and public-record sources as the manifest names them -> as their assets are named.
ASSET_NAMES = {
    "boundaries": "areas",
    "census_acs": "area_indicators",
    "facilities": "facilities",
    "service_requests": "service_requests",
    "surveys": "surveys",
}
# The indicators the need index's deprivation component is built from (priority_areas.sql).
DEPRIVATION_INDICATORS = ("poverty_rate", "unemployment_rate", "median_household_income")
SOURCE_NAME = re.compile(r"^[a-z][a-z0-9_]{0,62}$")
DEFAULT_CONFIG = JURISDICTIONS_DIR / "sample_city.yml"


@dataclass(frozen=True)
class SampleSettings:
    """The seeded sample city every ``mode: sample`` source reads (``sample:`` in the YAML)."""

    seed: int = 20240601
    incidents: int = 120_000
    defect_rate: float = 0.02
    first_month: date = date(2024, 7, 1)  # fixed, never relative to today
    months: int = 24

    @property
    def last_month(self) -> date:
        index = self.first_month.year * 12 + self.first_month.month - 1 + self.months - 1
        return date(index // 12, index % 12 + 1, 1)


@dataclass(frozen=True)
class PoliceSource:
    name: str
    layout: PoliceLayout
    mode: str
    # First monthly partition; None until resolved from the data (a file export without it).
    start_month: date | None
    path: Path | None = None  # file mode: the export as downloaded
    crosswalk_csv: Path | None = None  # a city's own crosswalk (layouts with no built-in seed)
    live: Mapping[str, Any] = field(default_factory=dict)  # overrides of the layout's live spec
    read: ReadOptions = DEFAULT_READ  # file mode: renames, skips, encoding, delimiter
    # Last monthly partition: the data's last month for exports and the sample city (set when
    # the months are resolved); None for live sources, which run to the current month.
    end_month: date | None = None


@dataclass(frozen=True)
class JurisdictionConfig:
    name: str
    timezone: str
    projected_crs: str
    path: Path
    police: tuple[PoliceSource, ...]
    boundaries: BoundarySource
    indicators: IndicatorSource
    facilities: FacilitySource
    service_requests: ServiceRequestSource
    surveys: SurveySource
    boundary_tolerance_m: float = 50.0
    # A point within this distance of an area but in none is assigned to the nearest area.
    snap_tolerance_m: float = 50.0
    sample: SampleSettings = SampleSettings()
    quality: QualitySettings = field(default_factory=QualitySettings)
    analysis: AnalysisSettings = field(default_factory=AnalysisSettings)
    publishing: PublishingSettings = field(default_factory=PublishingSettings)

    @property
    def police_start_month(self) -> date:
        starts = [s.start_month for s in self.police]
        if any(start is None for start in starts):
            raise ValueError(f"{self.path.name}: police months not resolved from the data yet")
        return min(start for start in starts if start is not None)

    @property
    def police_end_month(self) -> date | None:
        """The last police partition; None when a live source runs to the current month."""
        if any(s.mode == "live" or s.end_month is None for s in self.police):
            return None
        return max(s.end_month for s in self.police if s.end_month is not None)

    @property
    def source_modes(self) -> dict[str, str]:
        """Each source's mode as the manifest names it: police sources by name, the others by
        family."""
        return {
            **{s.name: s.mode for s in self.police},
            "boundaries": self.boundaries.mode,
            "census_acs": self.indicators.mode,
            "facilities": self.facilities.mode,
            "service_requests": self.service_requests.mode,
            "surveys": self.surveys.mode,
        }

    @property
    def unavailable_priority_components(self) -> tuple[str, ...]:
        """Need-index components whose source the jurisdiction lacks: left out, never faked.
        Deprivation needs the three indicators it is built from (an indicator table may give
        others); access needs a facility list."""
        absent = self.absent_sources
        indicators = set(self.indicators.indicator_names)
        unavailable = []
        if "area_indicators" in absent or not set(DEPRIVATION_INDICATORS) <= indicators:
            unavailable.append("deprivation")
        if "facilities" in absent:
            unavailable.append("access_gap")
        return tuple(unavailable)

    @property
    def priority_indicators(self) -> list[dict[str, Any]]:
        """The jurisdiction's own indicators weighed into the need index, as the dbt var
        ``priority_indicators`` lists them: name, weight and need direction."""
        needs = self.indicators.indicator_needs
        return [
            {"name": name, "weight": weight, "need": needs[name]}
            for name, weight in self.analysis.indicator_weights.items()
        ]

    @property
    def absent_sources(self) -> tuple[str, ...]:
        """Sources the jurisdiction does not have (``mode: none``, or left out of the YAML)."""
        return tuple(
            ASSET_NAMES[source]
            for source, mode in self.source_modes.items()
            if mode == NONE and source in ASSET_NAMES
        )

    def police_source(self, name: str) -> PoliceSource:
        for source in self.police:
            if source.name == name:
                return source
        raise KeyError(f"{self.path.name}: no police source {name!r}")


def _where(path: Path, key: str) -> str:
    return f"{path.name}: {key}"


def _merge(base: Mapping[str, Any], overrides: Mapping[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in overrides.items():
        if isinstance(value, Mapping) and isinstance(merged.get(key), Mapping):
            merged[key] = _merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def _police_layout(entry: Mapping[str, Any], name: str, where: str) -> PoliceLayout:
    spec = entry.get("layout")
    overrides = entry.get("overrides") or {}
    try:
        if isinstance(spec, str):
            if not overrides:
                return builtin_layout(spec)
            base = yaml.safe_load(builtin_layout_path(spec).read_text(encoding="utf-8"))
            return parse_layout(_merge(base, overrides), name=spec, where=f"{where}.overrides")
        if isinstance(spec, Mapping):
            return parse_layout(spec, name=name, where=f"{where}.layout", crosswalk=name)
    except LayoutError as exc:
        message = str(exc)
        if not message.startswith(path_name(where)):
            message = f"{where}.layout: {message}"
        raise ConfigError(message) from exc
    raise ConfigError(
        f"{where}.layout: give a built-in layout name or a column mapping, got {spec!r}"
    )


def path_name(where: str) -> str:
    return where.split(":", 1)[0]


def builtin_layout_path(name: str) -> Path:
    builtin_layout(name)  # raises a clear error for an unknown name
    return LAYOUTS_DIR / f"{name}.yml"


def _police_source(entry: Any, index: int, base: Path, path: Path) -> PoliceSource:
    where = _where(path, f"police[{index}]")
    if not isinstance(entry, Mapping):
        raise ConfigError(f"{where}: expected a mapping")
    name = entry.get("name")
    if not isinstance(name, str) or not SOURCE_NAME.match(name):
        raise ConfigError(
            f"{where}.name: a lower-case identifier (letters, digits, _) is required, got {name!r}"
        )
    layout = _police_layout(entry, name, where)
    if "mode" not in entry and not entry.get("path"):
        raise ConfigError(f"{where}.mode: say where the rows come from: {', '.join(MODES)}")
    mode = parse_mode(entry, where, MODES, "file")
    crosswalk_csv = None
    if entry.get("crosswalk_csv"):
        crosswalk_csv = existing_file(base, entry["crosswalk_csv"], f"{where}.crosswalk_csv")
    elif isinstance(entry.get("layout"), Mapping) and not entry["layout"].get("crosswalk"):
        raise ConfigError(f"{where}: a custom layout needs a 'crosswalk_csv' (local code -> NIBRS)")
    if mode == "live" and layout.live is None and not entry.get("live"):
        raise ConfigError(f"{where}: live mode needs a 'live' section (socrata or arcgis)")
    if mode == "live" and entry.get("start_month") is None:
        raise ConfigError(f"{where}.start_month: live mode needs the first month to load")
    return PoliceSource(
        name=name,
        layout=layout,
        mode=mode,
        start_month=(
            parse_month(entry["start_month"], f"{where}.start_month")
            if entry.get("start_month") is not None
            else None
        ),
        path=existing_file(base, entry.get("path"), f"{where}.path") if mode == "file" else None,
        crosswalk_csv=crosswalk_csv,
        live=dict(entry.get("live") or {}),
        read=read_options(entry, where),
    )


def _distance(value: Any, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
        raise ConfigError(f"{where}: a distance in metres (0 or more), got {value!r}")
    return float(value)


def metric_projected_crs(value: str, where: str) -> str:
    """The CRS distances and areas are measured in: projected, in metres (every ``*_m`` setting
    is metres). Any form PROJ reads (``EPSG:32610``, WKT, PROJJSON) is kept as written."""
    try:
        crs = pyproj.CRS.from_user_input(value)
    except pyproj.exceptions.CRSError as exc:
        raise ConfigError(f"{where}: {value[:80]!r} is not a CRS PROJ knows") from exc
    if not crs.is_projected:
        raise ConfigError(
            f"{where}: {crs.name} is not projected; distances need a projected CRS in metres "
            "(e.g. the local UTM zone)"
        )
    units = {axis.unit_name for axis in crs.axis_info}
    if units != {"metre"}:
        raise ConfigError(
            f"{where}: {crs.name} measures in {', '.join(sorted(units))}; every distance "
            "setting is in metres, so give a CRS in metres (e.g. the local UTM zone)"
        )
    return value


def yaml_error_text(exc: yaml.YAMLError) -> str:
    """A parser error on one line: where it is and what is wrong (PyYAML spreads it over
    several lines with an excerpt of the file)."""
    if isinstance(exc, yaml.MarkedYAMLError) and exc.problem_mark is not None:
        mark = exc.problem_mark
        problem = " ".join(str(exc.problem or "").split())
        return f" at line {mark.line + 1}, column {mark.column + 1}: {problem}"
    return ": " + " ".join(str(exc).split())


def load_jurisdiction(path: Path | str = DEFAULT_CONFIG) -> JurisdictionConfig:
    """Read and check a jurisdiction YAML."""
    path = Path(path).resolve()
    if not path.is_file():
        raise ConfigError(f"jurisdiction config not found: {path}")
    try:
        doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path.name}: not valid YAML{yaml_error_text(exc)}") from exc
    if not isinstance(doc, Mapping):
        raise ConfigError(f"{path.name}: expected a mapping at the top level")
    base = path.parent
    police_entries = doc.get("police")
    if not isinstance(police_entries, list) or not police_entries:
        raise ConfigError(f"{path.name}: 'police' must list at least one police source")
    police = tuple(_police_source(e, i, base, path) for i, e in enumerate(police_entries))
    names = [s.name for s in police]
    if len(set(names)) != len(names):
        raise ConfigError(f"{path.name}: police source names must be unique, got {names}")
    sample = doc.get("sample") or {}
    for key in ("name", "timezone", "projected_crs"):
        if not isinstance(doc.get(key), str) or not doc[key]:
            raise ConfigError(f"{path.name}: missing required key {key!r}")
    try:
        ZoneInfo(doc["timezone"])
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ConfigError(f"{path.name}: timezone {doc['timezone']!r} is not an IANA zone") from exc
    if doc.get("boundaries") is None or (
        isinstance(doc.get("boundaries"), Mapping) and doc["boundaries"].get("mode") == "none"
    ):
        # Every stage keys and bounds its rows by the areas (out-of-jurisdiction points, rates,
        # access): running without them would quarantine every point as outside.
        raise ConfigError(
            f"{path.name}: boundaries: the areas are required (the unit of analysis and the "
            "jurisdiction's extent); a single polygon of the city limits will do"
        )
    tolerance = _distance(
        doc.get("boundary_tolerance_m", 50.0), f"{path.name}: boundary_tolerance_m"
    )
    config = JurisdictionConfig(
        name=doc["name"],
        timezone=doc["timezone"],
        projected_crs=metric_projected_crs(doc["projected_crs"], f"{path.name}: projected_crs"),
        path=path,
        police=police,
        boundaries=boundary_source(
            doc.get("boundaries"),
            _where(path, "boundaries"),
            base,
            sample_spec=SAMPLE_BOUNDARY_SPEC,
        ),
        indicators=indicator_source(doc.get("indicators"), _where(path, "indicators"), base),
        facilities=facility_source(doc.get("facilities"), _where(path, "facilities"), base),
        service_requests=service_request_source(
            doc.get("service_requests"), _where(path, "service_requests"), base
        ),
        surveys=survey_source(doc.get("surveys"), _where(path, "surveys")),
        boundary_tolerance_m=tolerance,
        snap_tolerance_m=_distance(
            doc.get("snap_tolerance_m", tolerance), f"{path.name}: snap_tolerance_m"
        ),
        quality=quality_settings(doc.get("quality"), _where(path, "quality")),
        analysis=dataclasses.replace(
            analysis_settings(doc.get("analysis"), _where(path, "analysis")),
            initiatives=initiatives(doc.get("initiatives"), _where(path, "initiatives")),
        ),
        publishing=publishing_settings(doc.get("publishing"), _where(path, "publishing")),
        sample=SampleSettings(
            seed=int(sample.get("seed", SampleSettings.seed)),
            incidents=int(sample.get("incidents", SampleSettings.incidents)),
            defect_rate=float(sample.get("defect_rate", SampleSettings.defect_rate)),
            first_month=parse_month(
                sample.get("first_month", SampleSettings.first_month.strftime("%Y-%m")),
                _where(path, "sample.first_month"),
            ),
            months=int(sample.get("months", SampleSettings.months)),
        ),
    )
    _check_priority_indicators(config)
    return config


def _check_priority_indicators(config: JurisdictionConfig) -> None:
    """Every extra name in ``analysis.priority_weights`` is one of the jurisdiction's measures:
    an indicator it has, and not a count (a count grows with the area's size, not its need)."""
    where = f"{config.path.name}: analysis.priority_weights"
    extra = list(config.analysis.indicator_weights)
    if not extra:
        return
    if config.indicators.mode == NONE:
        raise ConfigError(
            f"{where}: {extra} would be indicators, but the jurisdiction has none "
            "(indicators: mode none)"
        )
    measures = config.indicators.measures
    for name in extra:
        if name not in measures:
            counts = set(config.indicators.indicator_names) - set(measures)
            why = " (a count: declare a rate or proportion)" if name in counts else ""
            raise ConfigError(
                f"{where}.{name}: not a component ({', '.join(PRIORITY_COMPONENTS)}) nor one "
                f"of the jurisdiction's indicators{why}; indicators: {', '.join(measures)}"
            )
