"""Jurisdiction YAML blocks the integration tests share: the sample city's non-police sources
in file mode, declared the way an agency declares its own downloads."""

from __future__ import annotations

import json

import yaml

from crimemap.config.jurisdiction import DEFAULT_CONFIG
from crimemap.samplecity.records import SAMPLE_FACILITY_TYPE_MAP


def file_sources_yaml(exports: str) -> str:
    """Boundaries, ACS and facilities of a generated sample city under ``exports``."""
    type_map = json.dumps(SAMPLE_FACILITY_TYPE_MAP)  # JSON is YAML: one flow mapping
    return (
        f"boundaries: {{mode: file, path: {exports}/areas.geojson, id_field: GEOID, "
        "name_field: NAME}\n"
        f"indicators: {{mode: file, path: {exports}/acs_5yr_tract.json}}\n"
        f"facilities: {{mode: file, path: {exports}/facilities.csv, address_field: address, "
        f"type_map: {type_map}}}\n"
    )


def sample_survey_yaml() -> str:
    """A ``surveys:`` block reading the sample city's survey, with the layout its YAML gives."""
    layout = yaml.safe_load(DEFAULT_CONFIG.read_text(encoding="utf-8"))["surveys"]["layout"]
    return f"surveys: {{layout: {json.dumps(layout)}}}\n"
