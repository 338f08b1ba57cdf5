"""The jurisdiction being mapped: its time zone, projected CRS and quality tolerances."""

from dagster import ConfigurableResource

from crimemap.config.jurisdiction import JurisdictionConfig
from crimemap.samplecity.city import SAMPLE_CITY_CRS, SAMPLE_CITY_TIMEZONE


class Jurisdiction(ConfigurableResource):
    name: str = "Sample City"
    timezone: str = SAMPLE_CITY_TIMEZONE
    # Distances and areas are measured in this projected CRS (metres).
    projected_crs: str = SAMPLE_CITY_CRS
    # Points this far outside the boundary still count as inside (geocoding jitter at the edge).
    boundary_tolerance_m: float = 50.0


def jurisdiction_resource(config: JurisdictionConfig) -> Jurisdiction:
    return Jurisdiction(
        name=config.name,
        timezone=config.timezone,
        projected_crs=config.projected_crs,
        boundary_tolerance_m=config.boundary_tolerance_m,
    )
