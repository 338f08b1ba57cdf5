"""The Dagster definitions load, and their asset keys match the committed snapshot."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

PROJECT_ROOT = Path(__file__).resolve().parents[2]
SNAPSHOT = PROJECT_ROOT / "tests" / "fixtures" / "asset_keys.txt"


def current_asset_keys() -> list[str]:
    from crimemap.config.paths import data_paths
    from crimemap.config.runtime import current_config
    from crimemap.orchestration.definitions import build_definitions

    graph = build_definitions(current_config(), data_paths()).resolve_asset_graph()
    keys = sorted(key.to_user_string() for key in graph.get_all_asset_keys())
    checks = sorted(
        f"{key.asset_key.to_user_string()}:{key.name}" for key in graph.asset_check_keys
    )
    return [*keys, "# checks", *checks]


def test_asset_keys_match_snapshot() -> None:
    if os.environ.get("CRIMEMAP_UPDATE_SNAPSHOTS"):
        SNAPSHOT.write_text("\n".join(current_asset_keys()) + "\n")
    expected = SNAPSHOT.read_text().splitlines()
    assert current_asset_keys() == expected, (
        "asset graph changed: rerun with CRIMEMAP_UPDATE_SNAPSHOTS=1 and review the diff"
    )


def test_every_check_says_what_it_checks() -> None:
    from crimemap.config.paths import data_paths
    from crimemap.config.runtime import current_config
    from crimemap.orchestration.definitions import build_definitions

    graph = build_definitions(current_config(), data_paths()).resolve_asset_graph()
    specs = [graph.get_check_spec(key) for key in graph.asset_check_keys]
    assert len(specs) > 200
    assert [s.key.to_user_string() for s in specs if not (s.description or "").strip()] == []
    # a folded not-null test names the columns it judges
    (folded,) = [s for s in specs if s.key.name == "not_null_stg_police__offenses"]
    assert folded.description is not None
    assert folded.description.startswith("dbt test: none of offense_key, incident_key, ")


def test_every_asset_has_the_jurisdictions_owners_and_the_releases_have_freshness() -> None:
    from crimemap.config.paths import data_paths
    from crimemap.config.runtime import current_config
    from crimemap.orchestration.definitions import build_definitions

    config = current_config()
    defs = build_definitions(config, data_paths())
    graph = defs.resolve_asset_graph()
    nodes = [graph.get(key) for key in graph.get_all_asset_keys()]
    assert {tuple(node.owners) for node in nodes} == {config.publishing.owners}
    watched = {node.key.to_user_string() for node in nodes if node.freshness_policy is not None}
    assert "published/release" in watched and "published/priority_areas" in watched
    assert "raw/police/seattle_spd" in watched
    assert not any(key.startswith("marts/") for key in watched)
    # `crimemap run` runs the named job, which holds every asset and check.
    job = defs.resolve_job_def("crimemap_pipeline")
    assert set(job.graph.node_names()) == set(
        defs.resolve_implicit_global_asset_job_def().graph.node_names()
    )


def test_every_layer_prefix_is_present() -> None:
    keys = current_asset_keys()
    for prefix in ("raw/", "quarantine/", "staging/", "intermediate/", "marts/", "published/"):
        assert any(key.startswith(prefix) for key in keys), prefix


@pytest.mark.integration
def test_dagster_cli_loads_the_definitions(tmp_path: Path) -> None:
    """What `dagster dev` does first: load the code location, here without a server."""
    env = {**os.environ, "CRIMEMAP_DATA_DIR": str(tmp_path), "DAGSTER_HOME": str(tmp_path)}
    dagster = Path(sys.executable).with_name("dagster")
    completed = subprocess.run(
        [str(dagster), "definitions", "validate", "-m", "crimemap.orchestration.definitions"],
        cwd=PROJECT_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert completed.returncode == 0, completed.stdout + completed.stderr


def test_loading_the_definitions_does_not_import_great_expectations(tmp_path: Path) -> None:
    """Every step process loads the definitions first; GX (seconds to import) is left to the
    checks that run a suite."""
    env = {**os.environ, "CRIMEMAP_DATA_DIR": str(tmp_path)}
    code = (
        "import sys, crimemap.orchestration.definitions as d; d.defs(); "
        "sys.exit(1 if 'great_expectations' in sys.modules else 0)"
    )
    completed = subprocess.run(
        [sys.executable, "-c", code], cwd=PROJECT_ROOT, env=env, capture_output=True, timeout=300
    )
    assert completed.returncode == 0, completed.stderr


def test_importing_the_definitions_does_nothing(tmp_path: Path) -> None:
    """The definitions are built by a function: importing the module exports no environment,
    reads no jurisdiction and parses no dbt project."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("CRIMEMAP_")}
    code = (
        "import os, sys, crimemap.orchestration.definitions; "
        "sys.exit(1 if any(k.startswith('CRIMEMAP_') for k in os.environ) else 0)"
    )
    completed = subprocess.run(
        [sys.executable, "-c", code], cwd=tmp_path, env=env, capture_output=True, timeout=300
    )
    assert completed.returncode == 0, completed.stderr
