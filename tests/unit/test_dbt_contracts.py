"""Every mart a release publishes has an enforced dbt model contract.

A contract makes ``dbt build`` fail when a model's column names or types drift from its YAML,
so a published layer's schema changes only through a reviewed YAML edit. dbt itself checks
that the contract matches the model's columns at build time; this test checks that the
contract exists and is complete: enforced, and a data type and a description (the published
column documentation) on every column.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

REPO = Path(__file__).resolve().parents[2]
MARTS_DIR = REPO / "dbt_project" / "models" / "marts"


def mart_models(marts_dir: Path) -> dict[str, tuple[Path, Mapping[str, Any]]]:
    """Model name -> (YAML file, model properties) for every model YAML under the marts."""
    models: dict[str, tuple[Path, Mapping[str, Any]]] = {}
    for path in sorted(marts_dir.rglob("*.yml")):
        document = yaml.safe_load(path.read_text()) or {}
        for model in document.get("models") or []:
            name = model["name"]
            assert name not in models, f"{path}: model {name} already defined in {models[name][0]}"
            models[name] = (path, model)
    return models


def contract_problems(model: Mapping[str, Any]) -> list[str]:
    """What keeps a model's contract from being enforced and complete, one line per problem."""
    name = model.get("name", "<unnamed>")
    problems: list[str] = []
    contract = (model.get("config") or {}).get("contract") or {}
    if contract.get("enforced") is not True:
        problems.append(f"model {name}: contract not enforced (config: contract: enforced: true)")
    columns = model.get("columns") or []
    if not columns:
        problems.append(f"model {name}: no columns declared")
    for column in columns:
        column_name = column.get("name", "<unnamed>")
        if not str(column.get("data_type") or "").strip():
            problems.append(f"model {name}, column {column_name}: no data_type")
        if not str(column.get("description") or "").strip():
            problems.append(f"model {name}, column {column_name}: no description")
    return problems


def published_mart_names() -> list[str]:
    from crimemap.orchestration.defs.publish.assets import PUBLISHED_MARTS

    names = []
    for key in PUBLISHED_MARTS:
        assert key.path[0] == "marts" and len(key.path) == 2, key
        names.append(key.path[-1])
    return names


def test_every_published_mart_has_an_enforced_complete_contract() -> None:
    models = mart_models(MARTS_DIR)
    names = published_mart_names()
    assert names, "PUBLISHED_MARTS is empty"
    problems: list[str] = []
    for name in names:
        if name not in models:
            problems.append(f"model {name}: published but has no YAML under {MARTS_DIR.name}/")
            continue
        path, model = models[name]
        problems += [f"{path.relative_to(REPO)}: {problem}" for problem in contract_problems(model)]
    assert not problems, "\n".join(problems)


def test_contract_check_names_the_model_and_column_at_fault() -> None:
    complete = {
        "name": "layer",
        "config": {"contract": {"enforced": True}},
        "columns": [{"name": "id", "data_type": "varchar", "description": "Key."}],
    }
    assert contract_problems(complete) == []

    unenforced = {**complete, "config": {"contract": {"enforced": False}}}
    assert contract_problems(unenforced) == [
        "model layer: contract not enforced (config: contract: enforced: true)"
    ]
    assert contract_problems({**complete, "config": None}) == contract_problems(unenforced)

    untyped = {
        **complete,
        "columns": [
            {"name": "id", "data_type": "varchar", "description": "Key."},
            {"name": "count", "description": "Rows."},
            {"name": "note", "data_type": "varchar", "description": "  "},
        ],
    }
    assert contract_problems(untyped) == [
        "model layer, column count: no data_type",
        "model layer, column note: no description",
    ]
    assert contract_problems({**complete, "columns": []}) == ["model layer: no columns declared"]


def test_mart_models_reads_every_yaml_under_the_marts(tmp_path: Path) -> None:
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "_a__models.yml").write_text(
        "version: 2\nmodels:\n  - name: one\n  - name: two\n"
    )
    (tmp_path / "b").mkdir()
    (tmp_path / "b" / "_b__models.yml").write_text("version: 2\nmodels:\n  - name: three\n")
    (tmp_path / "b" / "_b__sources.yml").write_text("version: 2\nsources: []\n")
    assert sorted(mart_models(tmp_path)) == ["one", "three", "two"]
