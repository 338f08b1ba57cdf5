"""Privacy transforms and the audit that blocks a release on any violation."""

from __future__ import annotations

from pathlib import Path

import pytest

from warehouse.privacy import (
    PrivacyRules,
    audit_columns,
    audit_counts,
    audit_incident_points,
    forbidden_columns,
    generalized_point_sql,
    suppressed_count_sql,
)
from warehouse.publish import LayerSpec, ReleaseValidationError, latest_release, publish_release

CRS = "EPSG:32610"
RULES = PrivacyRules(point_cell_m=250.0)


def project(con, lon: float, lat: float) -> tuple[float, float]:
    return con.execute(
        f"SELECT ST_X(p), ST_Y(p) FROM (SELECT ST_Transform(ST_Point({lon}, {lat}), "
        f"'EPSG:4326', '{CRS}', always_xy := true) AS p)"
    ).fetchone()


def test_generalized_point_is_the_cell_centroid(con) -> None:
    snapped = generalized_point_sql(f"ST_Point({-122.3301}, {47.6012})", CRS, 250.0)
    lon, lat = con.execute(f"SELECT ST_X(g), ST_Y(g) FROM (SELECT {snapped} AS g)").fetchone()
    x, y = project(con, lon, lat)
    assert x % 250.0 == pytest.approx(125.0, abs=1e-3)
    assert y % 250.0 == pytest.approx(125.0, abs=1e-3)
    ox, oy = project(con, -122.3301, 47.6012)
    assert abs(x - ox) <= 125.001 and abs(y - oy) <= 125.001


def test_small_counts_are_suppressed(con) -> None:
    expr = suppressed_count_sql("c", 5)
    rows = con.execute(
        f"SELECT c, {expr} FROM (VALUES (0), (1), (4), (5), (9)) t(c) ORDER BY c"
    ).fetchall()
    assert rows == [(0, 0), (1, None), (4, None), (5, 5), (9, 9)]


def test_forbidden_columns_are_named() -> None:
    columns = ["area_name", "category", "vict_age", "block_address", "Vict Sex", "report_number"]
    assert forbidden_columns(columns, RULES) == [
        "vict_age",
        "block_address",
        "Vict Sex",
        "report_number",
    ]


def write_points(con, path: Path, rows: str) -> None:
    """Rows of (is_sensitive, geometry, area_id, occurred_date, nibrs_code)."""
    con.execute(
        f"COPY (SELECT * FROM (VALUES {rows}) "
        "t(is_sensitive, geometry, area_id, occurred_date, nibrs_code)) "
        f"TO '{path}' (FORMAT parquet)"
    )


HIDDEN = "NULL::VARCHAR, NULL::DATE, NULL::VARCHAR"


def test_audit_passes_generalized_points(con, tmp_path: Path) -> None:
    snapped = generalized_point_sql("ST_Point(-122.33, 47.60)", CRS, 250.0)
    path = tmp_path / "incidents.parquet"
    write_points(
        con,
        path,
        f"(false, {snapped}, 'A1', DATE '2025-01-02', '13A'), (true, NULL::GEOMETRY, {HIDDEN})",
    )
    assert audit_incident_points(con, path, RULES, CRS) == []


def test_audit_flags_sensitive_point_and_exact_point(con, tmp_path: Path) -> None:
    path = tmp_path / "incidents.parquet"
    write_points(
        con,
        path,
        f"(true, ST_Point(-122.33, 47.60), {HIDDEN}), "
        "(false, ST_Point(-122.3311, 47.6012), 'A1', DATE '2025-01-02', '13A')",
    )
    problems = audit_incident_points(con, path, RULES, CRS)
    assert any("1 sensitive" in p for p in problems)
    assert any("not generalized" in p for p in problems)


@pytest.mark.parametrize(
    "located",
    [
        "NULL::GEOMETRY, 'A1', NULL::DATE, NULL::VARCHAR",
        "NULL::GEOMETRY, NULL::VARCHAR, DATE '2025-01-02', NULL::VARCHAR",
        "NULL::GEOMETRY, NULL::VARCHAR, NULL::DATE, '11A'",
    ],
)
def test_audit_flags_sensitive_area_day_or_code(con, tmp_path: Path, located: str) -> None:
    path = tmp_path / "incidents.parquet"
    snapped = generalized_point_sql("ST_Point(-122.33, 47.60)", CRS, 250.0)
    clean = f"(false, {snapped}, 'A1', DATE '2025-01-02', '13A')"
    write_points(con, path, f"(true, {located}), {clean}")
    assert audit_incident_points(con, path, RULES, CRS) == [
        "incidents.parquet: 1 sensitive offences carry a point, area, day or code"
    ]


def test_audit_flags_small_counts_and_forbidden_columns(con, tmp_path: Path) -> None:
    path = tmp_path / "rates.parquet"
    con.execute(
        f"COPY (SELECT 3 AS incident_count, 'x' AS victim_name) TO '{path}' (FORMAT parquet)"
    )
    assert audit_counts(con, path, ["incident_count"], 5)
    assert audit_columns(con, path, RULES) == [f"{path.name}: forbidden column 'victim_name'"]


def test_failed_audit_blocks_the_release(con, tmp_path: Path) -> None:
    layer = LayerSpec(
        name="incidents",
        query="SELECT true AS is_sensitive, ST_Point(-122.33, 47.60) AS geometry, "
        "NULL AS area_id, NULL::DATE AS occurred_date, NULL AS nibrs_code",
        spatial=True,
        description="test",
    )
    published = tmp_path / "published"
    with pytest.raises(ReleaseValidationError, match="sensitive"):
        publish_release(
            con,
            [layer],
            published,
            audit=lambda d: audit_incident_points(con, d / "incidents.parquet", RULES, CRS),
        )
    assert latest_release(published) is None
    assert list((published / "releases").iterdir()) == []
