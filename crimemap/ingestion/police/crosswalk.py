"""Offense crosswalks a jurisdiction supplies for its own layouts (``crosswalk_csv``): checked and
normalized like the seeds in ``dbt_project/seeds`` (codes trimmed, upper case, padded)."""

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import polars as pl

CROSSWALK_COLUMNS = (
    "offense_code",
    "nibrs_code",
    "offense_name",
    "nibrs_group",
    "crime_against",
    "category",
    "is_sensitive",
    "mental_health_related",
    "domestic_violence",
    "juvenile_involved",
    "substance_related",
)


FLAG_COLUMNS = CROSSWALK_COLUMNS[6:]
TRUE_TEXT = ["true", "1", "yes"]


@dataclass(frozen=True)
class CustomCrosswalk:
    """A crosswalk CSV, the crosswalk name its layout uses, and the width codes are padded to."""

    path: Path
    name: str
    code_width: int | None = None


def read_custom_crosswalk(crosswalk: CustomCrosswalk) -> pl.DataFrame:
    """A city's crosswalk CSV, checked and normalized like the seeds (codes padded, upper)."""
    path = crosswalk.path
    frame = pl.read_csv(path, infer_schema=False)
    frame = frame.rename({c: c.strip() for c in frame.columns})
    missing = [c for c in CROSSWALK_COLUMNS if c not in frame.columns]
    if missing:
        raise ValueError(f"{path.name}: crosswalk lacks columns {missing}")
    code = pl.col("offense_code").str.strip_chars().str.to_uppercase()
    width = crosswalk.code_width
    if width:
        code = code.str.zfill(width)
    flags = CROSSWALK_COLUMNS[6:]
    frame = frame.select(
        pl.lit(crosswalk.name).alias("crosswalk"),
        code.alias("offense_code"),
        *(pl.col(c).str.strip_chars() for c in CROSSWALK_COLUMNS[1:6]),
        *(pl.col(c).str.strip_chars().str.to_lowercase().is_in(TRUE_TEXT) for c in flags),
    )
    blank = frame.filter(pl.col("offense_code").is_null() | (pl.col("offense_code") == ""))
    if blank.height:
        raise ValueError(f"{path.name}: {blank.height} row(s) with a blank offense_code")
    dupes = frame.filter(pl.col("offense_code").is_duplicated())
    if dupes.height:
        codes = sorted(set(dupes.get_column("offense_code").to_list()))[:10]
        raise ValueError(f"{path.name}: offense_code repeated: {codes}")
    return frame


def write_custom_crosswalks(crosswalks: Sequence[CustomCrosswalk], target: Path) -> int:
    """Every supplied crosswalk in one file (empty, with the columns, when there are none)."""
    frames = [read_custom_crosswalk(c) for c in crosswalks]
    schema: dict[str, type[pl.DataType]] = {"crosswalk": pl.String, "offense_code": pl.String}
    schema |= {c: pl.String for c in CROSSWALK_COLUMNS[1:6]}
    schema |= {c: pl.Boolean for c in FLAG_COLUMNS}
    frame = pl.concat(frames) if frames else pl.DataFrame(schema=schema)
    target.parent.mkdir(parents=True, exist_ok=True)
    frame.write_parquet(target)
    return frame.height
