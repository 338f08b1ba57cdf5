"""Privacy transforms and the audit that blocks a release on any violation.

The audit is proved twice for every kind of violation: a release whose layers follow the rules
passes, and the same release with one violation planted is refused, naming it, with nothing
published.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from crimemap.warehouse.privacy import (
    LayerPrivacy,
    PrivacyRules,
    audit_release,
    forbidden_columns,
    generalized_point_sql,
    hundred_block_points_sql,
    suppressed_count_sql,
)
from crimemap.warehouse.publish import (
    LayerSpec,
    ReleaseValidationError,
    latest_release,
    publish_release,
)

CRS = "EPSG:32610"
RULES = PrivacyRules(point_cell_m=250.0, min_population=300)
BLOCK_RULES = PrivacyRules(point_generalization="hundred_block", point_cell_m=250.0)


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


def test_hundred_block_point_is_the_centroid_of_blocks_shared_by_k(con) -> None:
    con.execute(
        """
        CREATE TABLE offenses AS
        SELECT 'pd' AS source, block_address, is_sensitive, ST_Point(lon, lat) AS geom
        FROM (VALUES
            ('1XX MAIN ST', false, -122.3300, 47.6000), ('1XX MAIN ST', false, -122.3302, 47.6000),
            ('1XX MAIN ST', false, -122.3304, 47.6000), ('1XX MAIN ST', false, -122.3306, 47.6000),
            ('1XX MAIN ST', false, -122.3308, 47.6000), ('1XX MAIN ST', true, -122.3400, 47.6100),
            ('2XX OAK AVE', false, -122.3200, 47.6100), ('2XX OAK AVE', false, -122.3202, 47.6100)
        ) AS t(block_address, is_sensitive, lon, lat)
        """
    )
    blocks = con.execute(
        f"SELECT block_address, ST_X(block_point), ST_Y(block_point) "
        f"FROM ({hundred_block_points_sql('offenses', CRS, 5)})"
    ).fetchall()
    # Only the block five non-sensitive offenses share; its point is their mean (the sensitive
    # offence neither counts nor pulls the point).
    assert [b[0] for b in blocks] == ["1XX MAIN ST"]
    assert blocks[0][1] == pytest.approx(-122.3304, abs=1e-6)
    assert blocks[0][2] == pytest.approx(47.6000, abs=1e-6)


def test_small_counts_are_suppressed(con) -> None:
    expr = suppressed_count_sql("c", 5)
    rows = con.execute(
        f"SELECT c, {expr} FROM (VALUES (0), (1), (4), (5), (9)) t(c) ORDER BY c"
    ).fetchall()
    assert rows == [(0, 0), (1, None), (4, None), (5, 5), (9, 9)]


def test_forbidden_columns_are_named() -> None:
    columns = [
        "area_name",
        "category",
        "vict_age",
        "block_address",
        "Vict Sex",
        "report_number",
        "officer_name",
        "person_crime_rate",
    ]
    assert forbidden_columns(columns, RULES) == [
        "vict_age",
        "block_address",
        "Vict Sex",
        "report_number",
        "officer_name",
    ]


@pytest.mark.parametrize(
    "settings",
    [
        {"min_cell_count": 1},
        {"point_generalization": "exact"},
        {"point_cell_m": 0},
    ],
)
def test_rules_refuse_settings_that_protect_nothing(settings: dict) -> None:
    with pytest.raises(ValueError, match=next(iter(settings))):
        PrivacyRules(**settings)


# --------------------------------------------------------------------------- the release audit

POINT = "ST_Point(-122.33, 47.60)"
SNAPPED = generalized_point_sql(POINT, CRS, 250.0)


def incidents_sql(rows: str) -> str:
    """Rows of (is_sensitive, geometry, area_id, occurred_date, nibrs_code, year, month)."""
    return (
        f"SELECT * FROM (VALUES {rows}) "
        "t(is_sensitive, geometry, area_id, occurred_date, nibrs_code, year, month)"
    )


CLEAN_INCIDENTS = incidents_sql(
    f"(false, {SNAPPED}, 'A1', DATE '2025-01-02', '13A', 2025, 1), "
    "(true, NULL::GEOMETRY, NULL, NULL::DATE, NULL, 2025, 1)"
)
# Two areas x two categories plus the 'all' margin, one month; the lone small cell (A1, x) is
# protected by suppressing (A1, y) [its row] and (A2, x) [its column], and (A2, y) closes the
# square.
CLEAN_RATES = """
    SELECT * FROM (VALUES
        ('A1', DATE '2025-01-01', 'x', NULL, true, 1000, NULL),
        ('A1', DATE '2025-01-01', 'y', NULL, true, 1000, NULL),
        ('A1', DATE '2025-01-01', 'all', 12, false, 1000, 12.0),
        ('A2', DATE '2025-01-01', 'x', NULL, true, 200, NULL),
        ('A2', DATE '2025-01-01', 'y', NULL, true, 200, NULL),
        ('A2', DATE '2025-01-01', 'all', 20, false, 200, NULL)
    ) AS t(area_id, month, category, incident_count, count_suppressed, population, rate_per_1000)
"""
RATES_PRIVACY = LayerPrivacy(
    count_columns=("incident_count",),
    suppressed_flag="count_suppressed",
    linked_groups=(("area_id", "month"), ("month", "category")),
    rate_columns=("rate_per_1000",),
    population_column="population",
)


def release_layers(incidents: str = CLEAN_INCIDENTS, rates: str = CLEAN_RATES) -> list[LayerSpec]:
    return [
        LayerSpec(
            name="incidents",
            query=incidents,
            spatial=True,
            description="offenses",
            partition_by=("year", "month"),
            privacy=LayerPrivacy(incident_points=True),
        ),
        LayerSpec(
            name="area_month_rates",
            query=rates,
            spatial=False,
            description="counts",
            privacy=RATES_PRIVACY,
        ),
    ]


def publish_audited(con, tmp_path: Path, layers: list[LayerSpec], rules: PrivacyRules):
    def audit(release_dir: Path) -> list[str]:
        specs = [(x.name, x.path, bool(x.partition_by), x.privacy) for x in layers]
        return audit_release(release_dir, specs, rules, CRS, con)

    return publish_release(con, layers, tmp_path / "published", audit=audit)


def test_a_release_that_follows_the_rules_passes(con, tmp_path: Path) -> None:
    release = publish_audited(con, tmp_path, release_layers(), RULES)
    assert latest_release(tmp_path / "published") == release.path


def rates_with(old: str, new: str) -> str:
    assert old in CLEAN_RATES
    return CLEAN_RATES.replace(old, new)


VIOLATIONS = {
    "victim attribute": (
        release_layers(rates=f"SELECT *, 34 AS victim_age FROM ({CLEAN_RATES})"),
        "area_month_rates: forbidden column 'victim_age'",
    ),
    "free text": (
        release_layers(
            incidents=f"SELECT *, 'shouted at neighbour' AS narrative FROM ({CLEAN_INCIDENTS})"
        ),
        "incidents: forbidden column 'narrative'",
    ),
    "name": (
        release_layers(incidents=f"SELECT *, 'J. Doe' AS suspect_name FROM ({CLEAN_INCIDENTS})"),
        "incidents: forbidden column 'suspect_name'",
    ),
    "sensitive offence with a point": (
        release_layers(
            incidents=incidents_sql(
                f"(false, {SNAPPED}, 'A1', DATE '2025-01-02', '13A', 2025, 1), "
                f"(true, {SNAPPED}, NULL, NULL::DATE, NULL, 2025, 1)"
            )
        ),
        "incidents: 1 sensitive offences carry a point, area, day or code",
    ),
    "sensitive offence with an area": (
        release_layers(
            incidents=incidents_sql(
                f"(false, {SNAPPED}, 'A1', DATE '2025-01-02', '13A', 2025, 1), "
                "(true, NULL::GEOMETRY, 'A1', NULL::DATE, NULL, 2025, 1)"
            )
        ),
        "incidents: 1 sensitive offences carry a point, area, day or code",
    ),
    "sensitive offence with a day": (
        release_layers(
            incidents=incidents_sql(
                f"(false, {SNAPPED}, 'A1', DATE '2025-01-02', '13A', 2025, 1), "
                "(true, NULL::GEOMETRY, NULL, DATE '2025-01-03', NULL, 2025, 1)"
            )
        ),
        "incidents: 1 sensitive offences carry a point, area, day or code",
    ),
    "sensitive offence with its code": (
        release_layers(
            incidents=incidents_sql(
                f"(false, {SNAPPED}, 'A1', DATE '2025-01-02', '13A', 2025, 1), "
                "(true, NULL::GEOMETRY, NULL, NULL::DATE, '11A', 2025, 1)"
            )
        ),
        "incidents: 1 sensitive offences carry a point, area, day or code",
    ),
    "exact point": (
        release_layers(
            incidents=incidents_sql(
                "(false, ST_Point(-122.3311, 47.6012), 'A1', DATE '2025-01-02', '13A', 2025, 1)"
            )
        ),
        "incidents: 1 points are not generalized",
    ),
    "checked column gone": (
        release_layers(rates=f"SELECT * EXCLUDE (population) FROM ({CLEAN_RATES})"),
        "area_month_rates: columns the privacy checks need are missing: ['population']",
    ),
    "small count": (
        release_layers(rates=rates_with("'x', NULL, true, 1000", "'x', 3, true, 1000")),
        "area_month_rates: 1 rows of incident_count below k=5",
    ),
    "lone suppressed cell": (
        # (A1, y) published: the A1 row then hides only (A1, x), which is 'all' minus y.
        release_layers(rates=rates_with("'y', NULL, true, 1000", "'y', 7, false, 1000")),
        "(area_id, month) groups have exactly one suppressed count_suppressed cell",
    ),
    "rate below the population floor": (
        release_layers(
            rates=rates_with("'all', 20, false, 200, NULL", "'all', 20, false, 200, 100.0")
        ),
        "area_month_rates: 1 rows show rate_per_1000 for a population below 300",
    ),
}


@pytest.mark.parametrize("violation", list(VIOLATIONS))
def test_the_audit_blocks_each_kind_of_violation(con, tmp_path: Path, violation: str) -> None:
    layers, message = VIOLATIONS[violation]
    with pytest.raises(ReleaseValidationError) as caught:
        publish_audited(con, tmp_path, layers, RULES)
    assert any(message in problem for problem in caught.value.problems), caught.value.problems
    assert latest_release(tmp_path / "published") is None
    assert list((tmp_path / "published" / "releases").iterdir()) == []


def test_hundred_block_points_pass_only_where_k_offenses_share_them(con, tmp_path: Path) -> None:
    block = "ST_Point(-122.3304, 47.6000)"  # off the grid, shared by five offenses
    shared = ", ".join(
        f"(false, {block}, 'A1', DATE '2025-01-0{d}', '13A', 2025, 1)" for d in range(1, 6)
    )
    release = publish_audited(
        con, tmp_path, release_layers(incidents=incidents_sql(shared)), BLOCK_RULES
    )
    assert release.manifest["layers"][0]["rows"] == 5

    four = ", ".join(
        f"(false, {block}, 'A1', DATE '2025-01-0{d}', '13A', 2025, 1)" for d in range(1, 5)
    )
    with pytest.raises(ReleaseValidationError, match="4 points are not generalized"):
        publish_audited(
            con, tmp_path / "again", release_layers(incidents=incidents_sql(four)), BLOCK_RULES
        )
    # The grid rule does not accept block centroids at all.
    with pytest.raises(ReleaseValidationError, match="5 points are not generalized"):
        publish_audited(
            con, tmp_path / "grid", release_layers(incidents=incidents_sql(shared)), RULES
        )
