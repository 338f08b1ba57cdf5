"""What an interrupted write leaves is recognised by its name, and only that is removed."""

from __future__ import annotations

from pathlib import Path

from crimemap.core.files import atomic_output, is_leftover, sweep_leftovers


def touch(path: Path, text: str = "x") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def test_leftovers_are_swept_and_nothing_else(tmp_path: Path) -> None:
    kept = [
        touch(tmp_path / "raw" / "police" / "spd" / "month=2025-01" / "part.parquet"),
        touch(tmp_path / "raw" / "areas" / "areas.parquet"),
        touch(tmp_path / "state" / "run.lock"),
        touch(tmp_path / "state" / "police" / "spd.json"),
        touch(tmp_path / "raw" / "notes.tmp"),  # not hidden: not ours
    ]
    leftovers = [
        touch(tmp_path / "raw" / "police" / "spd" / ".staging" / "spd-ab12.parquet").parent,
        touch(tmp_path / "raw" / "police" / "spd" / "month=2025-01" / ".part.parquet.9f.tmp"),
        touch(tmp_path / "sources" / "sample" / ".tmp-k2j3" / "areas.geojson").parent,
    ]

    removed = sweep_leftovers(tmp_path)

    assert sorted(removed) == sorted(leftovers)
    assert all(p.exists() for p in kept)
    assert not any(p.exists() for p in leftovers)
    assert sweep_leftovers(tmp_path) == []
    assert sweep_leftovers(tmp_path / "missing") == []


def test_the_scratch_name_of_a_whole_or_nothing_write_is_a_leftover(tmp_path: Path) -> None:
    """A kill -9 inside ``atomic_output`` leaves its scratch file: the sweep must know its name."""
    target = tmp_path / "conformed" / "areas.parquet"
    with atomic_output(target) as scratch:
        scratch.write_text("whole")
        assert is_leftover(scratch) and not is_leftover(target)
    assert target.read_text() == "whole"
    assert sweep_leftovers(tmp_path) == []  # a finished write leaves nothing to sweep
