"""The offense crosswalk seeds of the non-NIBRS publishers (LAPD, Chicago, SFPD, Baltimore).

Plain CSV checks, no dbt run: the header, the key (unique, normalized to the publisher's code
format), the NIBRS code against the Seattle NIBRS list, the category against the one Seattle
gives that NIBRS code, the flags, the coverage of each publisher's code list and a few well-known
codes.
"""

from __future__ import annotations

import csv
import re
from pathlib import Path

import pytest

SEEDS = Path(__file__).resolve().parents[2] / "dbt_project" / "seeds"

HEADER = [
    "offense_code", "nibrs_code", "offense_name", "nibrs_group", "crime_against", "category",
    "is_sensitive", "mental_health_related", "domestic_violence", "juvenile_involved",
    "substance_related",
]  # fmt: skip
FLAGS = HEADER[6:]
NON_CRIMINAL = "non_criminal"

# seed -> (code pattern, minimum number of codes)
PUBLISHERS = {
    "crosswalk_lapd": (r"[0-9]{3}", 143),
    "crosswalk_chicago": (r"[0-9]{3}[0-9A-Z]", 410),
    "crosswalk_sfpd": (r"[0-9]{5}", 1013),
    "crosswalk_baltimore": (r"[0-9][A-Z]{1,3}", 88),
}


def read(name: str) -> tuple[list[str], list[dict[str, str]]]:
    with open(SEEDS / f"{name}.csv", newline="", encoding="utf-8") as f:
        reader = csv.DictReader(f)
        return list(reader.fieldnames or []), list(reader)


def by_code(name: str) -> dict[str, dict[str, str]]:
    return {row["offense_code"]: row for row in read(name)[1]}


SEATTLE = {row["nibrs_code"]: row for row in read("crosswalk_seattle_spd")[1]}
CATEGORIES = {row["category"] for row in read("category_descriptions")[1]}


@pytest.fixture(params=sorted(PUBLISHERS))
def seed(request: pytest.FixtureRequest) -> str:
    return request.param


def test_header(seed: str) -> None:
    header, _ = read(seed)
    assert header == HEADER


def test_offense_code_is_unique_and_normalized(seed: str) -> None:
    pattern, _ = PUBLISHERS[seed]
    codes = [row["offense_code"] for row in read(seed)[1]]
    assert all(codes)
    assert len(codes) == len(set(codes))
    bad = [c for c in codes if c != c.strip().upper() or not re.fullmatch(pattern, c)]
    assert bad == []


def test_every_published_code_is_covered(seed: str) -> None:
    _, minimum = PUBLISHERS[seed]
    assert len(read(seed)[1]) >= minimum


def test_offense_name_is_present(seed: str) -> None:
    assert all(row["offense_name"].strip() for row in read(seed)[1])


def test_nibrs_code_is_a_nibrs_code_or_blank_for_non_crimes(seed: str) -> None:
    for row in read(seed)[1]:
        if row["category"] == NON_CRIMINAL:
            assert (row["nibrs_code"], row["nibrs_group"]) == ("", ""), row
            assert row["crime_against"] == "not_a_crime", row
        else:
            assert row["nibrs_code"] in SEATTLE, row


def test_category_agrees_with_the_seattle_nibrs_crosswalk(seed: str) -> None:
    for row in read(seed)[1]:
        assert row["category"] in CATEGORIES, row
        if row["category"] == NON_CRIMINAL:
            continue
        nibrs = SEATTLE[row["nibrs_code"]]
        got = (row["category"], row["nibrs_group"], row["crime_against"])
        assert got == (nibrs["category"], nibrs["nibrs_group"], nibrs["crime_against"]), row


def test_flags_are_booleans(seed: str) -> None:
    for row in read(seed)[1]:
        assert {row[flag] for flag in FLAGS} <= {"true", "false"}, row


def test_sexual_trafficking_and_domestic_offences_are_sensitive(seed: str) -> None:
    for row in read(seed)[1]:
        if row["nibrs_code"][:2] in {"11", "36", "64"} or row["domestic_violence"] == "true":
            assert row["is_sensitive"] == "true", row


def test_family_offenses_are_domestic_and_drug_offences_substance_related(seed: str) -> None:
    for row in read(seed)[1]:
        if row["nibrs_code"] == "90F":
            assert row["domestic_violence"] == "true", row
        if row["nibrs_code"] in {"35A", "35B", "90D", "90E", "90G"}:
            assert row["substance_related"] == "true", row


def test_non_criminal_is_a_category() -> None:
    rows = {row["category"]: row for row in read("category_descriptions")[1]}
    assert rows[NON_CRIMINAL]["category_label"] == "Non-criminal"
    assert int(rows["unmapped"]["sort_order"]) == max(int(r["sort_order"]) for r in rows.values())
    orders = [int(r["sort_order"]) for r in rows.values()]
    assert len(orders) == len(set(orders))


# (seed, code) -> expected (nibrs_code, category) plus flags that must be true
SPOT_CHECKS = [
    ("crosswalk_lapd", "510", "240", "motor_vehicle_theft", ()),
    ("crosswalk_lapd", "626", "13B", "assault", ("domestic_violence", "is_sensitive")),
    ("crosswalk_lapd", "236", "13A", "assault", ("domestic_violence", "is_sensitive")),
    ("crosswalk_lapd", "121", "11A", "sexual_offense", ("is_sensitive",)),
    ("crosswalk_lapd", "354", "26F", "fraud", ()),
    ("crosswalk_lapd", "627", "13B", "assault", ("juvenile_involved", "is_sensitive")),
    ("crosswalk_chicago", "0486", "13B", "assault", ("domestic_violence", "is_sensitive")),
    ("crosswalk_chicago", "0820", "23H", "theft", ()),
    ("crosswalk_chicago", "0110", "09A", "violent", ()),
    ("crosswalk_chicago", "041A", "13A", "assault", ()),
    ("crosswalk_chicago", "0860", "23C", "theft", ()),
    ("crosswalk_chicago", "0910", "240", "motor_vehicle_theft", ()),
    ("crosswalk_chicago", "1811", "35A", "drugs", ("substance_related",)),
    ("crosswalk_chicago", "1481", "", NON_CRIMINAL, ()),
    ("crosswalk_sfpd", "07021", "240", "motor_vehicle_theft", ()),
    ("crosswalk_sfpd", "06244", "23F", "theft", ()),
    ("crosswalk_sfpd", "15040", "13B", "assault", ("domestic_violence", "is_sensitive")),
    ("crosswalk_sfpd", "64020", "", NON_CRIMINAL, ("mental_health_related",)),
    ("crosswalk_sfpd", "71000", "", NON_CRIMINAL, ()),
    ("crosswalk_sfpd", "07041", "", NON_CRIMINAL, ()),
    ("crosswalk_sfpd", "29100", "90I", "other", ("juvenile_involved",)),
    ("crosswalk_baltimore", "4E", "13B", "assault", ()),
    ("crosswalk_baltimore", "6D", "23F", "theft", ()),
    ("crosswalk_baltimore", "1F", "09A", "violent", ()),
    ("crosswalk_baltimore", "3AJF", "120", "robbery", ()),
    ("crosswalk_baltimore", "7A", "240", "motor_vehicle_theft", ()),
    ("crosswalk_baltimore", "8AO", "200", "vandalism", ()),
]


@pytest.mark.parametrize(("seed_name", "code", "nibrs", "category", "flags"), SPOT_CHECKS)
def test_well_known_codes(
    seed_name: str, code: str, nibrs: str, category: str, flags: tuple[str, ...]
) -> None:
    row = by_code(seed_name)[code]
    assert (row["nibrs_code"], row["category"]) == (nibrs, category)
    for flag in flags:
        assert row[flag] == "true", (code, flag)
