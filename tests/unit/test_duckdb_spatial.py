"""Spatial loads from the installed wheel, on a machine that has never been online."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from crimemap.core import duckdb_spatial
from crimemap.core.duckdb_spatial import (
    SpatialExtensionMissing,
    connect,
    prepare_extension_directory,
)

PROJECT_ROOT = Path(__file__).resolve().parents[2]


def test_connect_loads_spatial_without_home_or_network(tmp_path: Path) -> None:
    """A fresh HOME (no ~/.duckdb) and a fresh extension dir: LOAD must not try to download."""
    home = tmp_path / "home"
    home.mkdir()
    env = {
        **os.environ,
        "HOME": str(home),
        "CRIMEMAP_DUCKDB_EXTENSION_DIR": str(tmp_path / "ext"),
        # Any attempt to reach the internet fails fast instead of silently succeeding.
        "HTTP_PROXY": "http://127.0.0.1:9",
        "HTTPS_PROXY": "http://127.0.0.1:9",
    }
    code = (
        "from crimemap.core.duckdb_spatial import connect\n"
        "con = connect()\n"
        'print(con.execute("SELECT ST_AsText(ST_Buffer(ST_Point(0, 0), 1))").fetchone()[0][:7])\n'
    )
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=PROJECT_ROOT, env=env, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "POLYGON"
    assert not (home / ".duckdb").exists()
    assert (tmp_path / "ext" / duckdb_spatial.duckdb_version_tag()).is_dir()


def test_extension_directory_links_the_packaged_binary(tmp_path: Path) -> None:
    directory = prepare_extension_directory(tmp_path)
    linked = directory / duckdb_spatial.duckdb_version_tag() / duckdb_spatial.duckdb_platform()
    target = linked / duckdb_spatial.EXTENSION_FILE
    assert target.resolve() == duckdb_spatial.packaged_spatial_extension().resolve()
    # Preparing twice is harmless.
    assert prepare_extension_directory(tmp_path) == directory


def test_a_process_that_loses_the_race_leaves_the_packaged_binary_alone(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """Two processes lay out the directory at once: the second finds the first's link as it
    links, and uses it. It never writes through that link onto the packaged binary."""
    packaged = tmp_path / "wheel" / duckdb_spatial.EXTENSION_FILE
    packaged.parent.mkdir()
    packaged.write_bytes(b"the packaged binary")
    written = packaged.stat().st_mtime_ns
    monkeypatch.setattr(duckdb_spatial, "packaged_spatial_extension", lambda: packaged)
    link = Path.symlink_to

    def linked_by_another_process_first(self: Path, target: Path) -> None:
        link(self, target)
        raise FileExistsError(17, "File exists", str(self))

    monkeypatch.setattr(Path, "symlink_to", linked_by_another_process_first)
    directory = prepare_extension_directory(tmp_path / "ext")
    target = (
        directory
        / duckdb_spatial.duckdb_version_tag()
        / duckdb_spatial.duckdb_platform()
        / duckdb_spatial.EXTENSION_FILE
    )
    assert target.resolve() == packaged.resolve()
    assert packaged.stat().st_mtime_ns == written
    assert packaged.read_bytes() == b"the packaged binary"


def test_missing_extension_names_the_package(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setattr(duckdb_spatial, "duckdb_version_tag", lambda: "v0.0.0")
    with pytest.raises(SpatialExtensionMissing, match="duckdb-extension-spatial"):
        connect(extension_directory=tmp_path)
