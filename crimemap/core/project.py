"""Where the project's own files are: the dbt project and the shipped jurisdiction configs."""

from __future__ import annotations

from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[2]
DBT_PROJECT_DIR = PROJECT_ROOT / "dbt_project"
JURISDICTIONS_DIR = PROJECT_ROOT / "config" / "jurisdictions"
