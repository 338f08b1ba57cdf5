"""One jurisdiction per data directory: the first run claims it, another is refused."""

from __future__ import annotations

from pathlib import Path

import pytest

from crimemap.config.data_directory import (
    DataDirectoryInUse,
    claim_data_directory,
    held_jurisdiction,
)
from crimemap.config.paths import DataPaths


def test_a_fresh_directory_is_claimed_by_its_first_jurisdiction(tmp_path: Path) -> None:
    paths = DataPaths(tmp_path / "data")
    assert held_jurisdiction(paths) is None

    claim_data_directory(paths, "Smallville", Path("smallville.yml"))

    assert held_jurisdiction(paths) == "Smallville"
    claim_data_directory(paths, "Smallville", Path("renamed.yml"))  # the same city: welcome


def test_another_jurisdiction_is_refused_with_where_to_go(tmp_path: Path) -> None:
    paths = DataPaths(tmp_path / "data")
    claim_data_directory(paths, "Smallville", Path("smallville.yml"))

    with pytest.raises(DataDirectoryInUse) as refused:
        claim_data_directory(paths, "Othertown", Path("othertown.yml"))

    assert str(refused.value) == (
        f"data directory {paths.root} holds the jurisdiction 'Smallville'; 'Othertown' needs a "
        "data directory of its own: pass --data-dir DIR (or set CRIMEMAP_DATA_DIR)"
    )
    assert held_jurisdiction(paths) == "Smallville"
