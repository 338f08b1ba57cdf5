"""The seeded sample city: a fictional jurisdiction whose every analytic has a known answer.

``generate_sample_city`` writes the files listed in ``docs/data-contracts.md`` ("Sample city source
files"): police incidents in the Seattle SPD "Crime Data" export layout with planted defects, tract
boundaries (GeoJSON), ACS indicators (Census API JSON), social-service facilities (CSV), a
resident survey and 311 service requests (CSV), and the truth the pipeline's results are tested
against (``truth.json``, ``truth_incidents.parquet``, ``truth_service_requests.parquet``). The
non-police sources are rendered by ``crimemap.samplecity.records``, which also writes the extra
boundary formats (shapefile, WKT CSV, neighbourhoods) on demand.

Same seed and config give byte-identical files: all randomness comes from one
``numpy.random.SeedSequence``, spawned per component so that, for example, changing the number of
incidents leaves the areas, indicators and facilities unchanged. Nothing depends on today's date.

``build_sample_city`` draws the whole city without writing anything: areas, hotspots, and a
layout-free table of police reports and their NIBRS offenses (``SampleCity``). The Seattle export
(``seattle_spd_export``) and the other publishers' layouts (``crimemap.samplecity.publishers``) are
renderings of that one table, so every layout describes the same incidents.

Geometry is designed in UTM 10N metres and published in EPSG:4326. Coordinates are carried as
integers (1e-7 degrees for area vertices, 1e-9 degrees for points) so that shared vertices stay
identical after rounding and on-edge points are decimal-exact points of the published edges.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from dataclasses import asdict
from pathlib import Path

from crimemap.samplecity import records as sample_records
from crimemap.samplecity.files import (
    areas_geojson_text,
    census_json,
    write_atomic,
    write_parquet,
    write_text,
)
from crimemap.samplecity.incidents import build_sample_city, seattle_spd_export
from crimemap.samplecity.settings import DEFAULT_SAMPLE_CITY, SampleCityConfig, SampleCityFiles
from crimemap.samplecity.truth import planted_truth, truth_document


def generate_sample_city(
    out_dir: Path, config: SampleCityConfig = DEFAULT_SAMPLE_CITY
) -> SampleCityFiles:
    """Write the sample city's source files and truth into `out_dir` (created if needed)."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    city = build_sample_city(config)
    grid, areas, hotspots = city.grid, city.areas, list(city.hotspots)
    incidents = seattle_spd_export(city)
    acs = sample_records.acs_records(city)
    facilities = sample_records.facility_directory(city)
    survey = sample_records.resident_survey(city)
    requests = sample_records.service_requests(city)

    files = SampleCityFiles.in_directory(out_dir)
    write_atomic(files.police_csv, incidents.frame.write_csv)
    write_text(files.areas_geojson, areas_geojson_text(grid))
    write_text(files.acs_json, census_json(acs.rows))
    write_atomic(files.facilities_csv, facilities.frame.write_csv)
    write_atomic(files.survey_csv, survey.frame.write_csv)
    write_atomic(files.service_requests_csv, requests.frame.write_csv)
    for path, table in (
        (files.truth_incidents, incidents.truth),
        (files.truth_service_requests, requests.counts),
    ):
        write_parquet(path, table)
    records = {
        "acs": acs.truth,
        "facilities": facilities.truth,
        "surveys": survey.truth,
        "service_requests": requests.truth,
        "neighbourhoods": sample_records.neighbourhood_membership(grid),
        "planted": planted_truth(city),
    }
    truth = truth_document(config, grid, areas, hotspots, incidents, records)
    write_text(files.truth_json, json.dumps(truth, indent=2) + "\n")
    return files


# --- the sample city, generated once per configuration ------------------------------------------


# Bumped whenever the generator writes different files for the same config, so a city cached by
# an older version is generated afresh instead of being reused with files missing.
SAMPLE_CITY_FORMAT = 2


def sample_city_key(config: SampleCityConfig) -> str:
    payload = json.dumps(
        {"format": SAMPLE_CITY_FORMAT, **asdict(config)}, sort_keys=True, default=str
    ).encode()
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
    return SampleCityFiles.in_directory(target)
