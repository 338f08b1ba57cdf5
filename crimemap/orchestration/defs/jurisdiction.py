"""The jurisdiction being mapped: its time zone, projected CRS and quality tolerances."""

from dagster import ConfigurableResource

from crimemap.config.jurisdiction import JurisdictionConfig


class Jurisdiction(ConfigurableResource):
    """Every field comes from the jurisdiction's YAML (``jurisdiction_resource``): no city's
    settings are defaults for another."""

    name: str
    timezone: str
    # Distances and areas are measured in this projected CRS (metres).
    projected_crs: str
    # Points this far outside the boundary still count as inside (geocoding jitter at the edge).
    boundary_tolerance_m: float


def jurisdiction_resource(config: JurisdictionConfig) -> Jurisdiction:
    return Jurisdiction(
        name=config.name,
        timezone=config.timezone,
        projected_crs=config.projected_crs,
        boundary_tolerance_m=config.boundary_tolerance_m,
    )
