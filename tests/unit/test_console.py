"""The stage lines of ``crimemap run``: one when a stage starts, one when its last step ends."""

from __future__ import annotations

from types import SimpleNamespace

from dagster import AssetKey, IntMetadataValue, MetadataValue

from crimemap.orchestration.console import StageProgress, stage_of
from crimemap.orchestration.defs.transform.last_build import REPLAYED

ASSETS = frozenset({"raw__areas", "raw__police__spd", "split_areas", "crimemap_dbt_models"})
STEPS = [*ASSETS, "raw__areas_areas_raw_suite", "marts__dim_area_dim_area_mart_suite",
         "published__release"]  # fmt: skip


def event(kind: str, step: str, **data: object) -> SimpleNamespace:
    return SimpleNamespace(event_type_value=kind, step_key=step, **data)


def materialized(step: str, key: list[str], rows: int, **extra: MetadataValue) -> SimpleNamespace:
    metadata = {"dagster/row_count": IntMetadataValue(rows), **extra}
    return event(
        "ASSET_MATERIALIZATION",
        step,
        asset_key=AssetKey(key),
        event_specific_data=SimpleNamespace(materialization=SimpleNamespace(metadata=metadata)),
    )


def test_steps_fall_into_their_stages() -> None:
    assert {step: stage_of(step, ASSETS) for step in STEPS} == {
        "raw__areas": "sources",
        "raw__police__spd": "sources",
        "split_areas": "quality",
        "crimemap_dbt_models": "dbt",
        "raw__areas_areas_raw_suite": "quality",  # a check on a raw asset judges, not lands
        "marts__dim_area_dim_area_mart_suite": "marts",
        "published__release": "publish",
    }


def test_a_stage_says_when_it_starts_and_what_it_did_when_it_ends() -> None:
    lines: list[str] = []
    now = [0.0]
    progress = StageProgress(STEPS, ASSETS, lines.append, clock=lambda: now[0])
    progress.handle(event("STEP_START", "raw__areas"))
    progress.handle(materialized("raw__areas", ["raw", "areas"], 120))
    progress.handle(event("STEP_SUCCESS", "raw__areas"))
    assert lines == ["sources  ... 2 step(s)"]  # the police landing is still to come
    progress.handle(event("STEP_START", "raw__police__spd"))
    progress.handle(materialized("raw__police__spd", ["raw", "police", "spd"], 1000))
    now[0] = 12.5
    progress.handle(event("STEP_FAILURE", "raw__police__spd"))
    assert lines[-1] == "sources  done: 1 step(s), 1 FAILED, 1,120 rows landed (12.5 s)"


def test_steps_not_run_are_not_called_failed() -> None:
    lines: list[str] = []
    progress = StageProgress(["published__release"], set(), lines.append, clock=lambda: 0.0)
    progress.handle(event("STEP_SKIPPED", "published__release"))
    assert lines == ["publish  done: 0 step(s), 1 not run (0.0 s)"]


def test_a_replayed_build_says_its_models_were_not_rebuilt() -> None:
    lines: list[str] = []
    progress = StageProgress(["crimemap_dbt_models"], ASSETS, lines.append, clock=lambda: 0.0)
    progress.handle(event("STEP_START", "crimemap_dbt_models"))
    note = MetadataValue.text("not run: the inputs are those of the build in run r1")
    for name in ("dim_area", "fct_incidents"):
        progress.handle(
            materialized("crimemap_dbt_models", ["marts", name], 10, **{REPLAYED: note})
        )
    progress.handle(event("STEP_SUCCESS", "crimemap_dbt_models"))
    assert lines[-1] == (
        "dbt      done: 1 step(s), 2 model(s) as an earlier build left them, not rebuilt (0.0 s)"
    )
