"""The publishing settings of a jurisdiction (``publishing:`` in its YAML).

```yaml
publishing:
  keep_releases: 5              # releases kept beside the current one's predecessors
  privacy:
    min_cell_count: 5           # k: aggregate counts 0 < count < k are suppressed
    point_generalization: grid  # grid | hundred_block
    point_cell_m: 250           # grid cell width (also the fallback of small hundred blocks)
  owners: [team:data-engineering, analyst@city.example]  # owners of the assets in the UI
```
The rate floor is ``analysis.min_population``: the warehouse and the audit use the same one.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from crimemap.config.analysis import config_number, config_whole, known_keys
from crimemap.config.sources import ConfigError, as_mapping

if TYPE_CHECKING:  # type only: config must not import the warehouse (pyarrow, pyproj) at runtime
    from crimemap.warehouse.privacy import PointGeneralization

POINT_GENERALIZATIONS = ("grid", "hundred_block")


@dataclass(frozen=True)
class PublishingSettings:
    keep_releases: int = 5
    min_cell_count: int = 5
    point_generalization: PointGeneralization = "grid"
    point_cell_m: float = 250.0
    # The terms a consumer reads in the manifest and on the map; none invented.
    licence: str | None = None
    attribution: str | None = None
    contact: str | None = None
    # Who answers for the pipeline's assets in the Dagster UI: emails or ``team:<name>``.
    owners: tuple[str, ...] = ()

    @property
    def terms(self) -> dict[str, str]:
        """The given ones of licence, attribution and contact."""
        given = {"licence": self.licence, "attribution": self.attribution, "contact": self.contact}
        return {key: value for key, value in given.items() if value}


TERMS: tuple[str, ...] = ("licence", "attribution", "contact")
TERM_EXAMPLES = {
    "licence": "CC-BY-4.0",
    "attribution": "City Police Department; US Census Bureau ACS",
    "contact": "opendata@city.example",
}


def publishing_settings(entry: Any, where: str) -> PublishingSettings:
    """Parse ``publishing:``; every error names the key."""
    entry = as_mapping(entry, where)
    known_keys(entry, ("keep_releases", "privacy", "owners", *TERMS), where)
    for key in TERMS:
        value = entry.get(key)
        if value is not None and (not isinstance(value, str) or not value.strip()):
            raise ConfigError(f"{where}.{key}: a text, e.g. {TERM_EXAMPLES[key]!r}")
    privacy_where = f"{where}.privacy"
    privacy = as_mapping(entry.get("privacy"), privacy_where)
    known_keys(privacy, ("min_cell_count", "point_generalization", "point_cell_m"), privacy_where)
    d = PublishingSettings()
    generalization = privacy.get("point_generalization", d.point_generalization)
    if generalization not in POINT_GENERALIZATIONS:
        raise ConfigError(
            f"{privacy_where}.point_generalization: one of {list(POINT_GENERALIZATIONS)}, "
            f"got {generalization!r}"
        )
    return PublishingSettings(
        keep_releases=config_whole(
            entry.get("keep_releases", d.keep_releases), f"{where}.keep_releases", low=1
        ),
        min_cell_count=config_whole(
            privacy.get("min_cell_count", d.min_cell_count),
            f"{privacy_where}.min_cell_count",
            low=2,
        ),
        point_generalization=generalization,
        point_cell_m=config_number(
            privacy.get("point_cell_m", d.point_cell_m), f"{privacy_where}.point_cell_m", low=1
        ),
        owners=owner_list(entry.get("owners"), f"{where}.owners"),
        **{key: entry[key].strip() for key in TERMS if entry.get(key) is not None},
    )


OWNER = re.compile(r"^(team:[A-Za-z0-9_-]+|[^@\s]+@[^@\s]+\.[^@\s]+)$")


def owner_list(value: Any, where: str) -> tuple[str, ...]:
    """Owners as Dagster takes them: a list of emails or ``team:<name>``."""
    if value is None:
        return ()
    if not isinstance(value, list):
        raise ConfigError(
            f"{where}: a list, e.g. ['team:data-engineering', 'analyst@city.example']"
        )
    for owner in value:
        if not isinstance(owner, str) or not OWNER.match(owner):
            raise ConfigError(f"{where}: {owner!r} is neither an email nor team:<name>")
    return tuple(value)
