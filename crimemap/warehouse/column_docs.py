"""Column descriptions of the dbt marts, read from the project's model YAMLs.

The YAMLs are the documentation dbt itself renders, so the published layers carry the same
words without needing a dbt run artifact. ``crimemap.core.marts`` reads them.
"""

from __future__ import annotations

from pathlib import Path

from crimemap.core.marts import declared_marts

MARTS_DIR = Path("models") / "marts"


def mart_column_descriptions(dbt_project_dir: Path) -> dict[str, dict[str, str]]:
    """Mart name -> column name -> description for every model YAML under models/marts.
    Columns without a description are left out."""
    marts = declared_marts(dbt_project_dir / MARTS_DIR)
    return {
        name: {c.name: c.description for c in mart.columns if c.description}
        for name, mart in marts.items()
    }
