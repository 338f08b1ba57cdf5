"""Where crimemap keeps its runtime data, resolved from the environment.

Runtime data never lives inside the source tree's packages: it goes under the data directory
(``CRIMEMAP_DATA_DIR``, default ``./data``). dbt reads the same locations through env vars, so
this module exports them before dbt is parsed or run.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from pathlib import Path

from crimemap.core.duckdb_spatial import prepare_extension_directory


@dataclass(frozen=True)
class DataPaths:
    root: Path

    @property
    def sources(self) -> Path:
        return self.root / "sources"

    @property
    def raw(self) -> Path:
        return self.root / "raw"

    @property
    def quarantine(self) -> Path:
        return self.root / "quarantine"

    @property
    def quality(self) -> Path:
        return self.root / "quality"

    @property
    def warehouse(self) -> Path:
        return self.root / "warehouse.duckdb"

    @property
    def published(self) -> Path:
        return self.root / "published"

    @property
    def serving(self) -> Path:
        return self.root / "serving.duckdb"

    @property
    def inbox(self) -> Path:
        return self.root / "inbox"

    @property
    def dagster_home(self) -> Path:
        return self.root / "dagster"

    @property
    def dbt_target(self) -> Path:
        """dbt's artifacts (manifest, run results, saved parse, log) of builds of this data."""
        return self.root / "dbt" / "target"

    @property
    def extension_dir(self) -> Path:
        return self.root / ".duckdb_extensions"

    @property
    def conformed(self) -> Path:
        return self.root / "conformed"

    @property
    def state(self) -> Path:
        return self.root / "state"

    def raw_police(self, source: str) -> Path:
        """Monthly partitions of one police source as landed: ``month=YYYY-MM/part.parquet``."""
        return self.raw / "police" / source

    def quarantine_police(self, source: str) -> Path:
        return self.quarantine / "police" / source

    def conformed_police(self, source: str) -> Path:
        """Accepted rows of one police source, one row per offense, partitioned like raw."""
        return self.conformed / "police" / source

    @property
    def raw_surveys(self) -> Path:
        """One landed Parquet per survey file of the inbox (``<file stem>.parquet``)."""
        return self.raw / "surveys"

    @property
    def profiles(self) -> Path:
        """Per-load quality counts (``crimemap.quality.rules.LoadProfile``), for the scorecard."""
        return self.quality / "profiles"

    def profile_file(self, source: str) -> Path:
        return self.profiles / source / f"{source}.parquet"

    def raw_file(self, source: str) -> Path:
        return self.raw / source / f"{source}.parquet"

    def quarantine_file(self, source: str) -> Path:
        return self.quarantine / source / f"{source}.parquet"

    def conformed_file(self, source: str) -> Path:
        return self.conformed / source / f"{source}.parquet"


def data_paths() -> DataPaths:
    return DataPaths(Path(os.environ.get("CRIMEMAP_DATA_DIR", "data")).resolve())


def export_environment(paths: DataPaths | None = None) -> DataPaths:
    """Publish the data locations as env vars for dbt and child processes."""
    paths = paths or data_paths()
    paths.root.mkdir(parents=True, exist_ok=True)
    os.environ["CRIMEMAP_DATA_DIR"] = str(paths.root)
    os.environ.setdefault("CRIMEMAP_DUCKDB_EXTENSION_DIR", str(paths.extension_dir))
    # dbt's profile loads spatial from this directory with downloads disabled: lay it out now.
    prepare_extension_directory(Path(os.environ["CRIMEMAP_DUCKDB_EXTENSION_DIR"]))
    # dbt and dagster are console scripts of this environment; find them also when the venv is
    # not activated (e.g. `.venv/bin/python -m crimemap.orchestration.cli`).
    scripts = str(Path(sys.executable).parent)
    if scripts not in os.environ.get("PATH", "").split(os.pathsep):
        os.environ["PATH"] = scripts + os.pathsep + os.environ.get("PATH", "")
    return paths
