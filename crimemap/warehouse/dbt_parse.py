"""dbt's parse of the project, started when a run starts so that its build finds it done.

A dbt build whose target folder holds no parse made with the same vars and profile parses the
whole project first: about 4 seconds of one core, in every new data directory and after every
change of a jurisdiction's settings. The parse reads the project's files and the run's vars,
never the data, so ``crimemap run`` starts ``dbt parse`` in a subprocess as the run begins. It
runs on the core the landing leaves free, and the build, minutes or seconds later, finds the
parse current (dbt's partial parsing: nothing changed, nothing parsed).

What dbt compares before it reuses a parse: the vars, the profile (its connection settings,
which name the data directory) and ``dbt_project.yml``. The stamp below fingerprints the same,
so a run whose last parse is still current starts no parse at all.

The build waits for the parse (``wait_for_parse``) before it starts: two dbt processes must not
write one target folder. A parse that fails changes nothing: the build parses for itself and
reports the error as a build does.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from crimemap.config.paths import DataPaths
from crimemap.core.project import DBT_PROJECT_DIR
from crimemap.warehouse.dbt_server import client_executable

STAMP_NAME = "parse_inputs.sha256"
# dbt reads these project files before it decides whether a saved parse is current.
STATE_FILES: tuple[str, ...] = ("dbt_project.yml", "profiles.yml")
# Environment variables the profile renders (dbt_project/profiles.yml).
PROFILE_ENV: tuple[str, ...] = ("CRIMEMAP_DATA_DIR", "CRIMEMAP_DUCKDB_EXTENSION_DIR")


@dataclass(frozen=True)
class ParseOutcome:
    succeeded: bool
    waited_seconds: float  # how long the build waited for it (0: it ran entirely beside others)


def parse_inputs_digest(variables: Mapping[str, Any], project_dir: Path = DBT_PROJECT_DIR) -> str:
    """A fingerprint of what decides whether dbt can reuse a parse: the vars, the profile's
    environment, the project and profile files, and the dbt-core version."""
    from importlib.metadata import version

    digest = hashlib.sha256()
    digest.update(json.dumps(dict(variables), sort_keys=True).encode())
    for name in PROFILE_ENV:
        digest.update(f"\0{name}={os.environ.get(name, '')}".encode())
    for name in STATE_FILES:
        digest.update(b"\0" + (project_dir / name).read_bytes())
    digest.update(f"\0dbt-core {version('dbt-core')}".encode())
    return digest.hexdigest()


def stamp_path(target: Path) -> Path:
    return target / STAMP_NAME


def parse_is_current(target: Path, digest: str) -> bool:
    """True when the target's saved parse was made from the same inputs."""
    stamp = stamp_path(target)
    saved = target / "partial_parse.msgpack"
    return saved.exists() and stamp.exists() and stamp.read_text().strip() == digest


def record_parse(target: Path, digest: str) -> None:
    """Note that the target's saved parse was made from these inputs (after a parse or a build
    that succeeded)."""
    target.mkdir(parents=True, exist_ok=True)
    stamp_path(target).write_text(digest + "\n", encoding="utf-8")


def parse_environment(target: Path) -> dict[str, str]:
    """The environment of a dbt invocation writing to ``target``, as dagster-dbt sets it for the
    build (the same target and log folder, no usage statistics)."""
    return {
        **os.environ,
        "DBT_TARGET_PATH": str(target),
        "DBT_LOG_PATH": str(target),
        "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
        "DBT_PROJECT_DIR": str(DBT_PROJECT_DIR),
    }


@dataclass
class EarlyParse:
    process: subprocess.Popen[bytes]
    target: Path
    digest: str

    def wait(self) -> ParseOutcome:
        asked = time.perf_counter()
        succeeded = self.process.wait() == 0
        if succeeded:
            record_parse(self.target, self.digest)
        return ParseOutcome(succeeded, time.perf_counter() - asked)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            self.process.wait()


# The parse a run started, by target folder: the build (an asset in the same process) waits
# for it.
_pending: dict[Path, EarlyParse] = {}


def start_parse(paths: DataPaths, variables: Mapping[str, Any]) -> EarlyParse | None:
    """Start ``dbt parse`` for the data directory's target folder, unless its saved parse is
    current. The profile's environment must already be set (``export_environment``)."""
    target = paths.dbt_target
    digest = parse_inputs_digest(variables)
    if parse_is_current(target, digest):
        return None
    target.mkdir(parents=True, exist_ok=True)
    stamp_path(target).unlink(missing_ok=True)
    command = [
        str(client_executable()),  # by the run's dbt server (dbt_server.py) when it is up
        "parse",
        "--vars",
        json.dumps(dict(variables)),
        "--log-level-file",
        "info",
    ]
    process = subprocess.Popen(
        command,
        cwd=DBT_PROJECT_DIR,
        env=parse_environment(target),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    early = EarlyParse(process, target, digest)
    _pending[target] = early
    return early


def wait_for_parse(target: Path) -> ParseOutcome | None:
    """Wait for the parse started for ``target`` in this process; None if none was started."""
    early = _pending.pop(target, None)
    return None if early is None else early.wait()


@contextmanager
def early_parse(paths: DataPaths, variables: Mapping[str, Any]) -> Iterator[EarlyParse | None]:
    """A parse started now and, if the block ends before a build waited for it (a run that
    failed before dbt), stopped then."""
    early = start_parse(paths, variables)
    try:
        yield early
    finally:
        if early is not None and _pending.get(early.target) is early:
            del _pending[early.target]
            early.stop()
