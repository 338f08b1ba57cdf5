"""The code version a release records: the package version plus the git commit when known."""

from __future__ import annotations

import subprocess
from importlib import metadata
from pathlib import Path

from crimemap.core.project import PROJECT_ROOT


def _git(root: Path, *args: str) -> str:
    return subprocess.run(
        ["git", "-C", str(root), *args], capture_output=True, text=True, timeout=10, check=True
    ).stdout.strip()


def _git_commit(root: Path) -> str | None:
    try:
        commit = _git(root, "rev-parse", "--short=12", "HEAD")
        dirty = _git(root, "status", "--porcelain", "--untracked-files=no")
    except (OSError, subprocess.SubprocessError):
        return None  # an installed package, or no git: the version alone says it
    return f"{commit}.dirty" if dirty else commit


def code_version(root: Path = PROJECT_ROOT) -> str:
    """``crimemap 0.1.0+g1a2b3c4d5e6f`` (``.dirty`` with uncommitted changes)."""
    try:
        version = metadata.version("crimemap")
    except metadata.PackageNotFoundError:
        version = "0+unknown"
    commit = _git_commit(root)
    return f"crimemap {version}+g{commit}" if commit else f"crimemap {version}"
