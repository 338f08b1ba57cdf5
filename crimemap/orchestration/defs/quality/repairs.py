"""A boundary repair that changes an area's size: a WARN check naming the area.

``ST_MakeValid`` makes every published polygon usable, but a self-intersecting ring can come out
as a part of itself. The areas stay published (they are repaired, and flagged
``geometry_repaired``); this check says which ones changed size, by how much, so an analyst can
look at them before trusting their rates.
"""

import dagster as dg

from crimemap.config.jurisdiction import JurisdictionConfig
from crimemap.config.sources import BoundarySource
from crimemap.core.duckdb_spatial import scratch
from crimemap.orchestration.defs.data_directory import DataDirectory
from crimemap.quality.boundaries import repaired_area_changes

MAX_LISTED = 5


def repair_check(
    source: str, boundaries: BoundarySource, max_change: float
) -> dg.AssetChecksDefinition:
    @dg.asset_check(
        asset=dg.AssetKey(["conformed", source]),
        name=f"{source}_repair_area_change",
        description=(
            f"{source}: no geometry repair changes an area's size by more than "
            f"{max_change:.0%} (WARN, naming the areas)."
        ),
    )
    def _check(
        context: dg.AssetCheckExecutionContext, data_dir: DataDirectory
    ) -> dg.AssetCheckResult:
        with scratch() as con:
            changed = repaired_area_changes(
                con, boundaries.spec, data_dir.paths.raw_file(source), max_change
            )
        listed = "; ".join(c.message for c in changed[:MAX_LISTED])
        more = f"; and {len(changed) - MAX_LISTED} more" if len(changed) > MAX_LISTED else ""
        return dg.AssetCheckResult(
            passed=not changed,
            severity=dg.AssetCheckSeverity.WARN,
            description=listed + more if changed else "no repair changed an area's size",
            metadata={
                "areas_changed": len(changed),
                "max_change": max_change,
                "changes": dg.MetadataValue.json(
                    [
                        {
                            "area_id": c.area_id,
                            "row": c.row_number,
                            "drawn_area": c.drawn_area,
                            "repaired_area": c.repaired_area,
                        }
                        for c in changed
                    ]
                ),
            },
        )

    return _check


def repair_checks(config: JurisdictionConfig) -> list[dg.AssetChecksDefinition]:
    max_change = config.quality.max_repair_area_change
    checks = [repair_check("areas", config.boundaries, max_change)]
    if config.indicators.units is not None:
        checks.append(repair_check("indicator_units", config.indicators.units, max_change))
    return checks
