"""The data directory as a Dagster resource: where every step reads and writes."""

from pathlib import Path

from dagster import ConfigurableResource

from crimemap.config.paths import DataPaths


class DataDirectory(ConfigurableResource):
    """The run's data directory (its folders: ``crimemap.config.paths.DataPaths``)."""

    root: str

    @property
    def paths(self) -> DataPaths:
        return DataPaths(Path(self.root))
