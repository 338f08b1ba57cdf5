"""One jurisdiction per data directory.

A data directory holds one jurisdiction's landings, conformed files, warehouse and releases.
Running a second jurisdiction into it would mix both cities' rows in the marts, so the first run
records the jurisdiction's name in ``state/jurisdiction.json`` and a run of any other
jurisdiction is refused with a message saying where to go instead.
"""

from __future__ import annotations

import json
from pathlib import Path

from crimemap.config.paths import DataPaths

MARKER_NAME = "jurisdiction.json"


class DataDirectoryInUse(RuntimeError):
    """The data directory holds another jurisdiction."""


def marker_path(paths: DataPaths) -> Path:
    return paths.state / MARKER_NAME


def held_jurisdiction(paths: DataPaths) -> str | None:
    """The name of the jurisdiction the directory holds, or None for a fresh directory."""
    marker = marker_path(paths)
    if not marker.is_file():
        return None
    return str(json.loads(marker.read_text(encoding="utf-8"))["jurisdiction"])


def claim_data_directory(paths: DataPaths, jurisdiction: str, config_file: Path) -> None:
    """Record ``jurisdiction`` as the directory's, or refuse when it holds another one."""
    held = held_jurisdiction(paths)
    if held is None:
        marker = marker_path(paths)
        marker.parent.mkdir(parents=True, exist_ok=True)
        document = {"jurisdiction": jurisdiction, "config": config_file.name}
        tmp = marker.with_suffix(".tmp")
        tmp.write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")
        tmp.replace(marker)
        return
    if held != jurisdiction:
        raise DataDirectoryInUse(
            f"data directory {paths.root} holds the jurisdiction {held!r}; {jurisdiction!r} "
            "needs a data directory of its own: pass --data-dir DIR (or set CRIMEMAP_DATA_DIR)"
        )
