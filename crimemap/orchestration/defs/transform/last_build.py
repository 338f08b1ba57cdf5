"""The last dbt build's results, kept so that a run with the same inputs need not build again.

After a build of every model and test succeeds, its Dagster events (each model's output with
its metadata, each test's check result) are saved with the digest of the build's inputs
(``crimemap.warehouse.build_inputs``) and the warehouse's state once the build let go of it.
A later run whose inputs and warehouse are still those replays the events, each marked as
standing for that build, instead of running dbt: the same tables would be rebuilt and judged
the same way. Any change, or a run that selects only some models, builds as before.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dagster import AssetCheckResult, MetadataValue, Output
from dagster._serdes import deserialize_value, serialize_value

from crimemap.config.paths import DataPaths
from crimemap.core.files import write_atomic

REPLAYED = "dbt_build"  # the metadata entry a replayed event carries


def record_path(paths: DataPaths) -> Path:
    return paths.root / "dbt" / "last_build.dagster"


@dataclass(frozen=True)
class LastBuild:
    inputs: str  # build_inputs.dbt_inputs_digest of the build
    warehouse: list[int]  # build_inputs.warehouse_state once the build was done
    run_id: str
    events: list[Output | AssetCheckResult]


def _event_record(event: Output | AssetCheckResult) -> dict[str, Any]:
    if isinstance(event, Output):
        return {"kind": "output", "output_name": event.output_name, "metadata": event.metadata}
    return {
        "kind": "check",
        "asset_key": event.asset_key,
        "check_name": event.check_name,
        "passed": event.passed,
        "severity": event.severity,
        "description": event.description,
        "metadata": event.metadata,
    }


def _event(record: dict[str, Any], note: str) -> Output | AssetCheckResult:
    metadata = {**record["metadata"], REPLAYED: MetadataValue.text(note)}
    if record["kind"] == "output":
        return Output(value=None, output_name=record["output_name"], metadata=metadata)
    return AssetCheckResult(
        asset_key=record["asset_key"],
        check_name=record["check_name"],
        passed=record["passed"],
        severity=record["severity"],
        description=record["description"],
        metadata=metadata,
    )


def save(path: Path, build: LastBuild) -> bool:
    """Keep ``build``; False (and nothing kept) when one of its events is of a kind a replay
    could not give back."""
    path.unlink(missing_ok=True)
    if not all(isinstance(e, Output | AssetCheckResult) for e in build.events):
        return False
    payload: dict[str, Any] = {
        "inputs": build.inputs,
        "warehouse": build.warehouse,
        "run_id": build.run_id,
        "events": [_event_record(e) for e in build.events],
    }
    text = serialize_value(payload)
    path.parent.mkdir(parents=True, exist_ok=True)
    write_atomic(path, lambda tmp: tmp.write_text(text, encoding="utf-8"))
    return True


def load(path: Path) -> LastBuild | None:
    """The kept build, or None when there is none or it cannot be read back."""
    try:
        payload = deserialize_value(path.read_text(encoding="utf-8"), dict)
        notes = f"not run: the inputs are those of the build in run {payload['run_id']}"
        events = [_event(record, notes) for record in payload["events"]]
        return LastBuild(payload["inputs"], list(payload["warehouse"]), payload["run_id"], events)
    except Exception:  # missing, unreadable or from another version: build
        return None


def standing(path: Path, inputs: str, warehouse: Sequence[int]) -> LastBuild | None:
    """The build kept at ``path`` if it was made from ``inputs`` and left the warehouse as it
    is now (``warehouse``): its results stand for a build now."""
    build = load(path)
    if build is None or build.inputs != inputs or build.warehouse != list(warehouse):
        return None
    return build
