"""Complementary cell suppression and the audit that proves it on published files."""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from scipy.optimize import linprog

from crimemap.warehouse.suppression import audit_complementary, suppress_cells

FAMILIES = [["area_id", "month"], ["month", "category"]]
COUNT = "incident_count"


def rates_table(
    counts: dict[str, dict[str, int | None]], month: str = "2025-03-01"
) -> pl.DataFrame:
    """area × category cells of one month plus each area's 'all' margin row."""
    rows = []
    for area, by_category in counts.items():
        for category, n in by_category.items():
            rows.append((area, month, category, n))
        rows.append((area, month, "all", sum(n for n in by_category.values() if n is not None)))
    return pl.DataFrame(rows, schema=["area_id", "month", "category", COUNT], orient="row")


def random_table(seed: int, areas: int = 10, months: int = 4, categories: int = 5) -> pl.DataFrame:
    """A few hundred cells with many small counts, a few zeros and a few null (unknown) cells."""
    rng = np.random.default_rng(seed)
    rows = []
    for month in range(months):
        for area in range(areas):
            rates = rng.lognormal(np.log(6.0), 1.0, size=categories)
            values = rng.poisson(rates).tolist()
            unknown = rng.random(categories) < 0.03
            for category, (n, missing) in enumerate(zip(values, unknown, strict=True)):
                rows.append((f"A{area}", month, f"c{category}", None if missing else n))
            rows.append((f"A{area}", month, "all", sum(values)))
    return pl.DataFrame(rows, schema=["area_id", "month", "category", COUNT], orient="row")


def lone_groups(
    frame: pl.DataFrame, families: list[list[str]]
) -> list[tuple[tuple[object, ...], int]]:
    """Brute force: (key, publishable cells) of every group holding exactly one suppressed cell."""
    found = []
    for family in families:
        hidden: dict[tuple[object, ...], int] = defaultdict(int)
        cells: dict[tuple[object, ...], int] = defaultdict(int)
        for row in frame.iter_rows(named=True):
            if row[COUNT] is None:
                continue
            key = tuple(row[c] for c in family)
            cells[key] += 1
            hidden[key] += bool(row["suppressed"])
        found += [(key, cells[key]) for key, n in hidden.items() if n == 1]
    return found


def labels(frame: pl.DataFrame) -> dict[tuple[str, str], str | None]:
    return {
        (row["area_id"], row["category"]): row["suppression"] for row in frame.iter_rows(named=True)
    }


HAND = {
    "A": {"x": 12, "y": 3, "z": 20},
    "B": {"x": 10, "y": 15, "z": 8},
    "C": {"x": 7, "y": 30, "z": 9},
    "D": {"x": 40, "y": 25, "z": 11},
}


def test_hand_table_gets_the_known_complementary_cells() -> None:
    out = suppress_cells(rates_table(HAND), COUNT, FAMILIES)
    # A.y=3 is primary. Row A then hides one cell -> its smallest other count A.x=12; column y
    # -> B.y=15; column x (A.x) -> C.x=7. Rows B and C now hide one cell each -> B.z=8, C.z=9,
    # which also settles column z. Nothing in D or in the 'all' column is touched.
    hidden = {key: label for key, label in labels(out).items() if label is not None}
    assert hidden == {
        ("A", "y"): "primary",
        ("A", "x"): "complementary",
        ("B", "y"): "complementary",
        ("C", "x"): "complementary",
        ("B", "z"): "complementary",
        ("C", "z"): "complementary",
    }
    assert out.get_column("suppressed").sum() == 6
    assert lone_groups(out, FAMILIES) == []


def test_primary_suppression_alone_leaves_lone_groups() -> None:
    """The brute-force check does see the leak complementary suppression closes."""
    primary = rates_table(HAND).with_columns(
        suppressed=pl.col(COUNT).is_between(1, 4), suppression=pl.lit(None, pl.String)
    )
    assert sorted(key for key, _ in lone_groups(primary, FAMILIES)) == [
        ("2025-03-01", "y"),
        ("A", "2025-03-01"),
    ]


@pytest.mark.parametrize("seed", [0, 1, 2, 3, 4, 5])
def test_random_tables_have_no_lone_suppressed_cell(seed: int) -> None:
    cells = random_table(seed)
    out = suppress_cells(cells, COUNT, FAMILIES)

    assert all(n_cells == 1 for _, n_cells in lone_groups(out, FAMILIES))
    counts = out.get_column(COUNT)
    primary = counts.is_between(1, 4).fill_null(False)
    assert (out.get_column("suppressed") == primary | (out["suppression"] == "complementary")).all()
    assert (out.filter(primary)["suppression"] == "primary").all()
    assert out.filter(~primary)["suppression"].drop_nulls().unique().to_list() in (
        [],
        ["complementary"],
    )
    assert out.filter(pl.col(COUNT).is_null())["suppressed"].not_().all()
    complementary = int((out["suppression"] == "complementary").sum())
    assert primary.sum() > 10  # the property is exercised
    assert 0 < complementary <= primary.sum()
    assert out["suppressed"].sum() < 0.6 * out.height


def recovery_bounds(out: pl.DataFrame) -> dict[tuple[str, str], tuple[float, float]]:
    """Min and max of each suppressed cell over all non-negative tables consistent with what
    is published: the visible cells, 'all' = sum of the categories in every (area, month),
    and every (month, category) city-wide total (known from the incidents layer)."""
    rows = out.to_dicts()
    hidden = [i for i, row in enumerate(rows) if row["suppressed"]]
    column = {i: j for j, i in enumerate(hidden)}
    relations: dict[tuple[object, ...], list[int]] = defaultdict(list)
    for i, row in enumerate(rows):
        relations[("area", row["area_id"], row["month"])].append(i)
        relations[("total", row["month"], row["category"])].append(i)
    a_eq, b_eq = [], []
    for key, members in relations.items():
        coefficients, rhs = np.zeros(len(hidden)), 0.0
        for i in members:
            sign = -1.0 if key[0] == "area" and rows[i]["category"] == "all" else 1.0
            if key[0] == "total":
                rhs += rows[i][COUNT]
            if i in column:
                coefficients[column[i]] += sign
            else:
                rhs -= sign * rows[i][COUNT]
        a_eq.append(coefficients)
        b_eq.append(rhs)
    bounds = {}
    for j, i in enumerate(hidden):
        objective = np.zeros(len(hidden))
        objective[j] = 1.0
        low = linprog(objective, A_eq=a_eq, b_eq=b_eq, bounds=(0, None))
        high = linprog(-objective, A_eq=a_eq, b_eq=b_eq, bounds=(0, None))
        assert low.status == 0 and high.status == 0
        bounds[(rows[i]["area_id"], rows[i]["category"])] = (low.fun, -high.fun)
    return bounds


def test_suppressed_cells_cannot_be_recovered_from_the_totals() -> None:
    out = suppress_cells(rates_table(HAND), COUNT, FAMILIES)
    bounds = recovery_bounds(out)
    assert len(bounds) == 6
    for cell, (low, high) in bounds.items():
        assert high - low >= 1.0, f"{cell} is pinned to [{low}, {high}]"


def test_primary_cell_alone_is_recovered_exactly() -> None:
    """The recovery check has teeth: without complementary cells A.y is pinned to 3."""
    primary = rates_table(HAND).with_columns(suppressed=pl.col(COUNT).is_between(1, 4))
    low, high = recovery_bounds(primary)[("A", "y")]
    assert low == pytest.approx(3.0) and high == pytest.approx(3.0)


def test_result_does_not_depend_on_row_order() -> None:
    # Counts from a narrow range so that many candidates tie on count.
    rng = np.random.default_rng(11)
    cells = random_table(3).with_columns(
        pl.Series(COUNT, rng.integers(0, 9, size=random_table(3).height))
    )
    keys = ["area_id", "month", "category"]
    expected = suppress_cells(cells, COUNT, FAMILIES).sort(keys)
    assert expected["suppression"].eq("complementary").sum() > 0
    for seed in range(5):
        shuffled = cells.sample(fraction=1.0, shuffle=True, seed=seed)
        out = suppress_cells(shuffled, COUNT, FAMILIES)
        assert out.select(keys).equals(shuffled.select(keys))  # input order is kept
        assert out.sort(keys).equals(expected)


def test_a_zero_cell_is_taken_when_nothing_nonzero_is_left() -> None:
    cells = pl.DataFrame(
        {"g": ["a", "a", "a", "b", "b"], "cell": [1, 2, 3, 1, 2], COUNT: [2, 0, 0, 6, 7]}
    )
    out = suppress_cells(cells, COUNT, [["g"]])
    # Tie between the two zeros broken by the row's values: cell 2 before cell 3.
    assert out["suppression"].to_list() == ["primary", "complementary", None, None, None]


def test_smallest_nonzero_count_is_preferred_over_zero() -> None:
    cells = pl.DataFrame({"g": ["a"] * 4, "cell": [1, 2, 3, 4], COUNT: [1, 0, 9, 6]})
    out = suppress_cells(cells, COUNT, [["g"]])
    assert out["suppression"].to_list() == ["primary", None, None, "complementary"]


def test_singleton_group_and_null_counts_are_left_alone() -> None:
    cells = pl.DataFrame(
        {"g": ["a", "b", "b", "c", "c"], "cell": [1, 1, 2, 1, 2], COUNT: [3, 4, None, 2, 8]}
    )
    out = suppress_cells(cells, COUNT, [["g"]])
    # a: its group's only cell is the group's published total, public whatever the table does;
    # b: its other cell is unknown (null), never published or suppressed.
    assert out["suppression"].to_list() == [None, "primary", None, "primary", "complementary"]
    assert out["suppressed"].to_list() == [False, True, False, True, True]


def test_a_town_with_one_area_publishes_its_counts(con, tmp_path: Path) -> None:
    """Every (month, category) group of a one-area town is that area's cell alone: the city
    totals the incidents layer gives are its counts. Nothing can be hidden, nothing is, and the
    audit passes (small counts alone in a group are not a finding)."""
    town = rates_table({"TOWN": {"x": 2, "y": 1, "z": 30}})
    out = suppress_cells(town, COUNT, FAMILIES)
    assert not out["suppressed"].any()
    path = tmp_path / "area_month_rates.parquet"
    write_published(con, out, path)
    assert audit_complementary(con, path, COUNT, FAMILIES) == []


def test_two_areas_still_protect_a_small_count() -> None:
    out = suppress_cells(rates_table({"A": {"x": 2, "y": 40}, "B": {"x": 30, "y": 50}}), COUNT,
                         FAMILIES)  # fmt: skip
    assert recovery_bounds(out)[("A", "x")][1] - recovery_bounds(out)[("A", "x")][0] >= 1.0


def test_unstable_within_max_rounds_is_an_error() -> None:
    # The hand table needs two rounds that add cells and a third that confirms.
    assert suppress_cells(rates_table(HAND), COUNT, FAMILIES, max_rounds=3)["suppressed"].sum()
    with pytest.raises(RuntimeError, match="not stable after 2 rounds"):
        suppress_cells(rates_table(HAND), COUNT, FAMILIES, max_rounds=2)


def test_bad_arguments_are_named() -> None:
    cells = rates_table(HAND)
    with pytest.raises(ValueError, match="no column 'district'"):
        suppress_cells(cells, COUNT, [["district", "month"]])
    with pytest.raises(ValueError, match="no column 'n'"):
        suppress_cells(cells, "n", FAMILIES)
    with pytest.raises(ValueError, match="not numeric"):
        suppress_cells(cells, "category", FAMILIES)
    with pytest.raises(ValueError, match="k must be at least 1"):
        suppress_cells(cells, COUNT, FAMILIES, k=0)
    with pytest.raises(ValueError, match="list of column lists"):
        suppress_cells(cells, COUNT, ["area_id", "month"])
    with pytest.raises(ValueError, match="already have a column 'suppressed'"):
        suppress_cells(cells.with_columns(suppressed=True), COUNT, FAMILIES)


def write_published(con, out: pl.DataFrame, path: Path, partition: bool = False) -> None:
    """Publish the way the layer does: a suppressed count is NULL, plus a boolean flag."""
    published = out.select(
        "area_id",
        pl.col("month").str.to_date(),
        "category",
        pl.when("suppressed").then(None).otherwise(pl.col(COUNT)).alias(COUNT),
        pl.col("suppressed").alias("is_suppressed"),
    )
    con.register("published", published.to_arrow())
    options = "FORMAT parquet, PARTITION_BY (month)" if partition else "FORMAT parquet"
    con.execute(f"COPY published TO '{path}' ({options})")
    con.unregister("published")


def test_audit_passes_a_correctly_suppressed_file(con, tmp_path: Path) -> None:
    path = tmp_path / "area_month_rates.parquet"
    write_published(con, suppress_cells(rates_table(HAND), COUNT, FAMILIES), path)
    assert audit_complementary(con, path, COUNT, FAMILIES) == []
    assert audit_complementary(con, str(path), "is_suppressed", FAMILIES) == []


def test_audit_flags_a_planted_single_suppression(con, tmp_path: Path) -> None:
    primary_only = rates_table(HAND).with_columns(suppressed=pl.col(COUNT).is_between(1, 4))
    path = tmp_path / "area_month_rates.parquet"
    write_published(con, primary_only, path)
    assert audit_complementary(con, path, COUNT, FAMILIES) == [
        "area_month_rates.parquet: 1 (area_id, month) groups have exactly one suppressed "
        "incident_count cell, e.g. area_id=A, month=2025-03-01 — it can be recovered from the "
        "group's total",
        "area_month_rates.parquet: 1 (month, category) groups have exactly one suppressed "
        "incident_count cell, e.g. month=2025-03-01, category=y — it can be recovered from the "
        "group's total",
    ]
    problems = audit_complementary(con, path, "is_suppressed", [["area_id", "month"]])
    assert len(problems) == 1 and "suppressed is_suppressed cell" in problems[0]


def test_audit_reads_a_hive_partitioned_layer_and_counts_singletons(con, tmp_path: Path) -> None:
    ok = suppress_cells(rates_table(HAND), COUNT, FAMILIES)
    # A second month where area E is the only area with a 'w' count: singleton groups, hidden
    # by hand (suppress_cells never hides a lone cell: its total is published).
    lone = rates_table({"E": {"w": 2}}, month="2025-04-01").with_columns(
        suppressed=pl.lit(True), suppression=pl.lit("primary")
    )
    cells = pl.concat([ok, lone])
    write_published(con, cells, tmp_path / "rates", partition=True)
    glob = str(tmp_path / "rates" / "**" / "*.parquet")
    assert audit_complementary(con, glob, COUNT, [["area_id", "month"]]) == []
    assert audit_complementary(con, glob, COUNT, [["month", "category"]]) == [
        "rates: 2 (month, category) groups have exactly one suppressed incident_count cell "
        "(2 of them the group's only cell), e.g. month=2025-04-01, category=all — it can be "
        "recovered from the group's total"
    ]


def test_audit_names_a_missing_flag_column(con, tmp_path: Path) -> None:
    path = tmp_path / "area_month_rates.parquet"
    write_published(con, suppress_cells(rates_table(HAND), COUNT, FAMILIES), path)
    with pytest.raises(ValueError, match="no column 'flag'"):
        audit_complementary(con, path, "flag", FAMILIES)
