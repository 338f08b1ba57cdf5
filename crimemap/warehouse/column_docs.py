"""Column descriptions of the dbt marts, read from the project's model YAMLs.

The YAMLs are the documentation dbt itself renders, so the published layers carry the same
words without needing a dbt run artifact.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import yaml

MARTS_DIR = Path("models") / "marts"


def _one_line(text: str) -> str:
    """Folded or literal YAML text as a single stripped line."""
    return " ".join(text.split())


def model_column_descriptions(documents: Iterable[Any]) -> dict[str, dict[str, str]]:
    """Model name -> column name -> description, from parsed dbt property documents.

    Columns without a description are left out; so are entries that are not models.
    """
    result: dict[str, dict[str, str]] = {}
    for document in documents:
        if not isinstance(document, Mapping):
            continue
        for model in document.get("models") or []:
            if not isinstance(model, Mapping) or not model.get("name"):
                continue
            columns = result.setdefault(str(model["name"]), {})
            for column in model.get("columns") or []:
                if not isinstance(column, Mapping) or not column.get("name"):
                    continue
                description = _one_line(str(column.get("description") or ""))
                if description:
                    columns[str(column["name"])] = description
    return result


def mart_column_descriptions(dbt_project_dir: Path) -> dict[str, dict[str, str]]:
    """Mart name -> column name -> description for every model YAML under models/marts."""
    paths = sorted((dbt_project_dir / MARTS_DIR).rglob("*.yml"))
    return model_column_descriptions(yaml.safe_load(path.read_text()) for path in paths)
