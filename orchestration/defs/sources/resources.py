"""Source resources: one interface per source family, the mode chosen by configuration.

``sample`` renders the seeded sample city (the offline default); ``file`` reads exports exactly as
downloaded from a portal. Assets only ever call the abstract interface.
"""

import hashlib
import json
import os
import shutil
import tempfile
from abc import ABC, abstractmethod
from dataclasses import asdict
from pathlib import Path

from dagster import ConfigurableResource

from ingestion.jurisdiction import JurisdictionConfig
from ingestion.sample_city import SampleCityConfig, SampleCityFiles, generate_sample_city


class SourceFiles(ConfigurableResource, ABC):
    """Hands out the published files of every source family for one jurisdiction."""

    @abstractmethod
    def areas(self, sources_dir: Path) -> Path: ...

    @abstractmethod
    def area_indicators(self, sources_dir: Path) -> Path: ...

    @abstractmethod
    def facilities(self, sources_dir: Path) -> Path: ...


class SampleCitySource(SourceFiles):
    """The deterministic sample city, generated once per configuration and reused."""

    seed: int = SampleCityConfig.seed
    n_incidents: int = SampleCityConfig.n_incidents
    defect_rate: float = SampleCityConfig.defect_rate

    def config(self) -> SampleCityConfig:
        return SampleCityConfig(
            seed=self.seed, n_incidents=self.n_incidents, defect_rate=self.defect_rate
        )

    def files(self, sources_dir: Path) -> SampleCityFiles:
        return ensure_sample_city(sources_dir / "sample", self.config())

    def areas(self, sources_dir: Path) -> Path:
        return self.files(sources_dir).areas_geojson

    def area_indicators(self, sources_dir: Path) -> Path:
        return self.files(sources_dir).acs_json

    def facilities(self, sources_dir: Path) -> Path:
        return self.files(sources_dir).facilities_csv


class FileSource(SourceFiles):
    """A jurisdiction's own downloads: paths to the files as exported by the portals."""

    areas_path: str
    area_indicators_path: str
    facilities_path: str

    @staticmethod
    def _existing(path: str, what: str) -> Path:
        resolved = Path(path).expanduser()
        if not resolved.is_file():
            raise FileNotFoundError(f"{what} source file not found: {resolved}")
        return resolved

    def areas(self, sources_dir: Path) -> Path:
        return self._existing(self.areas_path, "areas")

    def area_indicators(self, sources_dir: Path) -> Path:
        return self._existing(self.area_indicators_path, "area indicators")

    def facilities(self, sources_dir: Path) -> Path:
        return self._existing(self.facilities_path, "facilities")


def sample_city_key(config: SampleCityConfig) -> str:
    payload = json.dumps(asdict(config), sort_keys=True, default=str).encode()
    return hashlib.sha256(payload).hexdigest()[:12]


def ensure_sample_city(root: Path, config: SampleCityConfig) -> SampleCityFiles:
    """Generate the sample city into ``root/<config key>`` unless it is already there.

    Generation happens in a temporary sibling directory renamed into place, so concurrent steps
    never read a half-written city.
    """
    target = root / sample_city_key(config)
    if not (target / "truth.json").is_file():
        root.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=".tmp-", dir=root))
        try:
            generate_sample_city(staging, config)
            try:
                os.rename(staging, target)
            except OSError:
                if not (target / "truth.json").is_file():
                    raise
        finally:
            shutil.rmtree(staging, ignore_errors=True)
    return sample_city_files(target)


def sample_city_files(directory: Path) -> SampleCityFiles:
    return SampleCityFiles(
        police_csv=directory / "seattle_spd_crime_data.csv",
        areas_geojson=directory / "areas.geojson",
        acs_json=directory / "acs_5yr_tract.json",
        facilities_csv=directory / "facilities.csv",
        truth_json=directory / "truth.json",
        truth_incidents=directory / "truth_incidents.parquet",
    )


def source_files(config: JurisdictionConfig) -> SourceFiles:
    """Boundaries, indicators and facilities of a jurisdiction, by the mode its YAML gives."""
    modes = {config.boundaries.mode, config.indicators.mode, config.facilities.mode}
    if modes == {"sample"}:
        return SampleCitySource(
            seed=config.sample.seed,
            n_incidents=config.sample.incidents,
            defect_rate=config.sample.defect_rate,
        )
    if modes == {"file"}:
        return FileSource(
            areas_path=str(config.boundaries.path),
            area_indicators_path=str(config.indicators.path),
            facilities_path=str(config.facilities.path),
        )
    raise ValueError(
        f"{config.path.name}: boundaries, indicators and facilities must all be 'sample' or all "
        f"'file' (got {sorted(modes)})"
    )
