"""Row-count bounds against earlier loads (crimemap/quality/volume.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from crimemap.quality.volume import (
    LoadVolume,
    accept_latest,
    history_path,
    judge_latest,
    read_history,
    record_load,
)

FEED = "sample:{n: 1000}"


def load(load_id: str, feed: str = FEED, accepted: bool = False, **rows: int) -> LoadVolume:
    return LoadVolume(load_id, feed, {k.replace("_", "-"): v for k, v in rows.items()}, accepted)


def test_first_load_has_nothing_to_compare_with() -> None:
    verdict = judge_latest("facilities", [load("a", all=500)])
    assert verdict.passed and verdict.judged_scopes == 0
    assert "first load" in verdict.message


def test_a_drop_within_bounds_passes() -> None:
    verdict = judge_latest("facilities", [load("a", all=500), load("b", all=260)], max_drop=0.5)
    assert verdict.passed and verdict.judged_scopes == 1


def test_a_collapse_fails_naming_the_scope_and_the_counts() -> None:
    verdict = judge_latest("facilities", [load("a", all=500), load("b", all=240)], max_drop=0.5)
    assert not verdict.passed
    (drop,) = verdict.drops
    assert (drop.scope, drop.baseline_rows, drop.rows, drop.baseline_load_id) == (
        "all",
        500,
        240,
        "a",
    )
    assert drop.share == pytest.approx(0.52)
    assert "all: 240 rows vs 500 before (-52%)" in verdict.message
    assert "--accept-volume facilities" in verdict.message


def test_months_are_compared_with_the_same_month() -> None:
    history = [
        load("a", m2024_06=1000, m2024_07=1000),
        load("b", m2024_07=100, m2024_08=5),  # July collapsed; August is new
    ]
    verdict = judge_latest("spd", history)
    assert [(d.scope, d.baseline_rows) for d in verdict.drops] == [("m2024-07", 1000)]
    assert verdict.judged_scopes == 1


def test_a_failed_load_never_becomes_the_baseline() -> None:
    history = [load("a", all=1000), load("b", all=10), load("c", all=10)]
    verdict = judge_latest("spd", history)
    assert not verdict.passed
    assert verdict.drops[0].baseline_load_id == "a"


def test_an_accepted_load_becomes_the_baseline() -> None:
    history = [load("a", all=1000), load("b", all=10, accepted=True), load("c", all=10)]
    assert judge_latest("spd", history).passed
    assert judge_latest("spd", history[:2]).passed  # accepting passes the load itself


def test_a_new_feed_starts_afresh() -> None:
    history = [load("a", all=120_000), load("b", feed="sample:{n: 6000}", all=6000)]
    verdict = judge_latest("spd", history)
    assert verdict.passed and verdict.judged_scopes == 0


def test_small_baselines_are_not_judged() -> None:
    history = [load("a", all=40), load("b", all=1)]
    assert judge_latest("spd", history, min_baseline_rows=50).passed
    assert not judge_latest("spd", history, min_baseline_rows=10).passed


@pytest.mark.parametrize("max_drop", [0, 1, -0.1, 1.5])
def test_max_drop_must_be_a_share(max_drop: float) -> None:
    with pytest.raises(ValueError, match="max_drop"):
        judge_latest("spd", [load("a", all=1)], max_drop=max_drop)


def test_history_round_trips_and_a_retried_load_replaces_its_record(tmp_path: Path) -> None:
    path = history_path(tmp_path, "facilities")
    record_load(path, "facilities", load("a", all=500))
    record_load(path, "facilities", load("b", all=10))
    record_load(path, "facilities", load("b", all=490))  # the step retried
    assert read_history(path) == [load("a", all=500), load("b", all=490)]
    assert judge_latest("facilities", read_history(path)).passed


def test_accept_latest_marks_the_newest_load(tmp_path: Path) -> None:
    path = history_path(tmp_path, "facilities")
    with pytest.raises(ValueError, match="no load recorded"):
        accept_latest(path, "facilities")
    record_load(path, "facilities", load("a", all=500))
    record_load(path, "facilities", load("b", all=10))
    assert not judge_latest("facilities", read_history(path)).passed
    assert accept_latest(path, "facilities").accepted
    assert judge_latest("facilities", read_history(path)).passed


def test_a_corrupt_history_names_the_file(tmp_path: Path) -> None:
    path = history_path(tmp_path, "facilities")
    path.parent.mkdir(parents=True)
    path.write_text("{not json")
    with pytest.raises(ValueError, match=r"facilities\.json"):
        read_history(path)
