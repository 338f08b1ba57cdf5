"""A publisher killed at any moment never breaks the current release; readers never block it.

The killed publishers run in subprocesses (tests/integration/publish_crash_worker.py) that SIGKILL
themselves at a chosen step or are SIGKILLed from here, because only a real kill skips every
``finally`` and ``except`` the publisher has.
"""

from __future__ import annotations

import hashlib
import json
import random
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb
import pytest

from crimemap.core.duckdb_spatial import connect
from crimemap.warehouse import publish
from crimemap.warehouse.geoparquet import validate_geoparquet, validate_parquet_table
from crimemap.warehouse.publish import (
    ReleaseError,
    layer_scan_sql,
    new_release_id,
    prune_releases,
    publish_release,
    read_latest_id,
    release_ids,
)
from crimemap.warehouse.serving import build_serving_database
from tests.integration.publish_crash_worker import KEEP_RELEASES, SERVING_QUERY, crash_layers

REPO = Path(__file__).resolve().parents[2]
WORKER = "tests.integration.publish_crash_worker"
SIGKILLED = -signal.SIGKILL
TIMEOUT_S = 120
BIG = 200_000  # points in the release killed at random moments
_RELEASE_ID = re.compile(r"\d{8}T\d{6}Z-[0-9a-f]{6}")
# The layer a staged file belongs to: releases/.tmp-<id>/<layer>/... or .../.<layer>.parquet...
_STAGED_LAYER = re.compile(r"/\.tmp-[^/]+/\.?([a-z_]+)")
# (spatial, sha256) of files that passed validation: files are byte-stable across releases, and
# each is hashed before this is consulted, so a file is validated once, not after every kill.
_VALIDATED: set[tuple[bool, str]] = set()


# --------------------------------------------------------------------------- helpers


def worker_command(*args: object) -> list[str]:
    return [sys.executable, "-m", WORKER, *(str(a) for a in args)]


def run_worker(*args: object) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        worker_command(*args), cwd=REPO, capture_output=True, text=True, timeout=TIMEOUT_S
    )


@contextmanager
def started_worker(*args: object, stdin: int | None = None) -> Iterator[subprocess.Popen[str]]:
    """A running worker, killed on the way out if the test left it running (or hung)."""
    proc = subprocess.Popen(
        worker_command(*args),
        cwd=REPO,
        stdin=stdin,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    watchdog = threading.Timer(TIMEOUT_S, proc.kill)
    watchdog.start()
    try:
        yield proc
    finally:
        watchdog.cancel()
        if proc.poll() is None:
            proc.kill()
        proc.wait()
        for stream in (proc.stdin, proc.stdout, proc.stderr):
            if stream is not None:
                stream.close()


def wait_for(path: Path, proc: subprocess.Popen[str]) -> None:
    deadline = time.monotonic() + TIMEOUT_S
    while not path.exists():
        if proc.poll() is not None:
            pytest.fail(f"worker exited ({proc.returncode}) before {path}: {proc.stderr.read()}")
        assert time.monotonic() < deadline, f"{path} never appeared"
        time.sleep(0.02)


def snapshot(directory: Path) -> dict[str, bytes]:
    return {
        p.relative_to(directory).as_posix(): p.read_bytes()
        for p in sorted(directory.rglob("*"))
        if p.is_file()
    }


def entries(published: Path) -> list[str]:
    """Everything in releases/, including temporary and half-deleted directories."""
    return sorted(p.name for p in (published / "releases").iterdir())


def check_current_release(
    con: duckdb.DuckDBPyConnection, published: Path
) -> tuple[str, dict[str, Any]]:
    """What a reader following LATEST gets must be a complete, valid release; returns it."""
    release_id = read_latest_id(published)
    assert release_id is not None, f"{published}: LATEST is missing or empty"
    release = published / "releases" / release_id
    assert release.is_dir(), f"LATEST names {release_id}, but {release} is missing"
    manifest = json.loads((release / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["release_id"] == release_id
    listed = {"manifest.json"}
    for layer in manifest["layers"]:
        for file in layer["files"]:
            path = release / file["path"]
            data = path.read_bytes()
            assert hashlib.sha256(data).hexdigest() == file["sha256"], f"{path}: sha256 differs"
            assert len(data) == file["bytes"], f"{path}: size differs"
            assert validate(path, layer["spatial"], file["sha256"]) == [], path
            listed.add(file["path"])
        scan = layer_scan_sql(release, layer)
        rows = con.execute(f"SELECT count(*) FROM {scan}").fetchone()
        assert rows == (layer["rows"],), f"{release_id}/{layer['path']}: row count"
    on_disk = {p.relative_to(release).as_posix() for p in release.rglob("*") if p.is_file()}
    assert on_disk == listed, f"{release}: files not in the manifest or missing"
    return release_id, manifest


def validate(path: Path, spatial: bool, sha256: str) -> list[str]:
    if (spatial, sha256) in _VALIDATED:
        return []
    problems = validate_geoparquet(path) if spatial else validate_parquet_table(path)
    if not problems:
        _VALIDATED.add((spatial, sha256))
    return problems


def content(manifest: dict[str, Any]) -> list[tuple[str, int, list[tuple[str, str]]]]:
    """A release's data, without its id and time: layers, rows and every file's hash."""
    return [
        (layer["name"], layer["rows"], [(f["path"], f["sha256"]) for f in layer["files"]])
        for layer in manifest["layers"]
    ]


def recover_and_check(
    con: duckdb.DuckDBPyConnection, published: Path, current: str, points: int = 2_000
) -> None:
    """The next publish succeeds, removes what the killed one left and keeps ``current``."""
    kept = snapshot(published / "releases" / current)
    recovered = publish_release(con, crash_layers(points), published, keep_releases=KEEP_RELEASES)
    assert check_current_release(con, published)[0] == recovered.release_id
    assert recovered.release_id > current
    # No temporary, never-current or half-pruned directory is left; the previous release stays.
    assert entries(published) == [current, recovered.release_id]
    assert not (published / "LATEST.tmp").exists()
    assert snapshot(published / "releases" / current) == kept


# --------------------------------------------------------------------------- kill at every step


@dataclass(frozen=True)
class Template:
    """A published directory holding two good releases and what an earlier kill left."""

    published: Path
    older: str  # pruned by the next publish (KEEP_RELEASES = 2)
    current: str  # what LATEST names
    current_files: dict[str, bytes]
    content: list[tuple[str, int, list[tuple[str, str]]]]
    killed: str  # id of a publisher killed while writing: its releases/.tmp-<id> is left
    never: str  # a release renamed into place by a killed publisher but never made current

    def copy(self, target: Path) -> Path:
        shutil.copytree(self.published, target)
        return target

    def describe(self, step: str) -> str:
        names = {
            self.older: "<older>",
            self.current: "<current>",
            self.killed: "<killed>",
            self.never: "<never>",
        }
        return _RELEASE_ID.sub(lambda m: names.get(m.group(), "<new>"), step)


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Template:
    published = tmp_path_factory.mktemp("crash-template") / "published"
    with connect() as con:
        older = publish_release(con, crash_layers(), published, keep_releases=KEEP_RELEASES)
        current = publish_release(con, crash_layers(), published, keep_releases=KEEP_RELEASES)
        _, manifest = check_current_release(con, published)
    releases = published / "releases"
    killed = new_release_id(after=current.release_id)
    (releases / f".tmp-{killed}").mkdir()
    (releases / f".tmp-{killed}" / ".tracts.parquet.0123456789ab.tmp").write_bytes(b"PAR1 torn")
    never = new_release_id(after=current.release_id)
    shutil.copytree(current.path, releases / never)
    return Template(
        published=published,
        older=older.release_id,
        current=current.release_id,
        current_files=snapshot(current.path),
        content=content(manifest),
        killed=killed,
        never=never,
    )


def file_groups(steps: list[str]) -> list[list[int]]:
    """Indexes (1-based) of the steps that write each layer file: its row groups, the fsync of
    the temporary file, the replace into place and the fsync of its directory."""
    groups: list[list[int]] = []
    closed = True
    for k, step in enumerate(steps, start=1):
        if closed and step.startswith("write row group "):
            groups.append([])
        elif closed:
            if groups and groups[-1][-1] == k - 1 and steps[k - 2].startswith("replace "):
                groups[-1].append(k)
            continue
        groups[-1].append(k)
        closed = step.startswith("replace ")
    return groups


def kill_points(steps: list[str]) -> list[int]:
    """Every step outside the layer files (clearing leftovers, the manifest, the renames, LATEST,
    pruning); every step of the first layer file; the first step of each later layer. All layer
    files go into the staging directory the same way, so sampling them keeps the walk fast."""
    groups = file_groups(steps)
    in_files = {k for group in groups for k in group}
    chosen = {k for k in range(1, len(steps) + 1) if k not in in_files} | set(groups[0])
    layers = [_STAGED_LAYER.search(steps[group[0] - 1]) for group in groups]
    for before, group, layer in zip(layers, groups[1:], layers[1:], strict=False):
        assert before is not None and layer is not None, steps[group[0] - 1]
        if layer.group(1) != before.group(1):
            chosen.add(group[0])
    return sorted(chosen)


def check_killed(
    con: duckdb.DuckDBPyConnection,
    template: Template,
    published: Path,
    result: subprocess.CompletedProcess[str],
    phase: str,
    where: str,
) -> None:
    """After a kill in ``phase`` (clearing, staging, renamed, switched): the kill left that
    phase's state, readers following LATEST get a whole release, and the next publish recovers."""
    assert result.returncode == SIGKILLED, f"{where}: exit {result.returncode}\n{result.stderr}"
    left = entries(published)
    current, manifest = check_current_release(con, published)
    if phase == "switched":
        assert current not in (template.killed, template.never), where
        assert current > template.current, where
        assert content(manifest) == template.content, f"{where}: new release incomplete"
    else:
        assert current == template.current, f"{where}: LATEST moved before the switch"
        new = [n for n in left if n not in (template.older, template.current, template.never)]
        if phase == "clearing":
            leftovers = {
                f".tmp-{template.killed}",
                template.never,
                f".tmp-never-current-{template.never}",
            }
            assert leftovers & set(left), (where, left)
        elif phase == "staging":
            assert [n for n in new if n.startswith(".tmp-")] != [], (where, left)
        else:  # renamed into place, never made current
            assert [n for n in new if not n.startswith(".tmp-")] != [], (where, left)
    # With two releases kept, the previous one is never touched by the next publish.
    assert snapshot(published / "releases" / template.current) == template.current_files, where
    recover_and_check(con, published, current)


def position(steps: list[str], prefix: str) -> int:
    """The 1-based index of the first step starting with ``prefix``."""
    found = [k for k, step in enumerate(steps, start=1) if step.startswith(prefix)]
    assert found, f"the publish never did {prefix!r}; its steps: {steps}"
    return found[0]


def phase_of(k: int, cleared: int, renamed: int, switched: int) -> str:
    """The publish phase a kill at step ``k`` interrupts (the arguments are 1-based steps)."""
    if k <= cleared:
        return "clearing"
    if k <= renamed:
        return "staging"
    return "renamed" if k <= switched else "switched"


def test_kill_at_every_step_leaves_a_valid_release(
    con: duckdb.DuckDBPyConnection, template: Template, tmp_path: Path
) -> None:
    counted = template.copy(tmp_path / "count")
    steps_file = tmp_path / "steps.json"
    done = run_worker("count", counted, "--steps-out", steps_file)
    assert done.returncode == 0, done.stderr
    steps = [template.describe(s) for s in json.loads(steps_file.read_text())]
    assert content(check_current_release(con, counted)[1]) == template.content

    # The walk passes every durable step of a publish, in this order.
    milestones = [
        "rmtree ./releases/.tmp-<killed>",
        "rename ./releases/<never> -> ./releases/.tmp-never-current-<never>",
        "rmtree ./releases/.tmp-never-current-<never>",
        # The incidents are the current release's: each month's file is linked from it.
        "link ./releases/<current>/incidents/year=2025/month=11/part-0.parquet -> "
        "./releases/.tmp-<new>/incidents/year=2025/month=11/part-0.parquet",
        "link ./releases/<current>/incidents/year=2026/month=2/part-0.parquet -> "
        "./releases/.tmp-<new>/incidents/year=2026/month=2/part-0.parquet",
        "write row group ./releases/.tmp-<new>/.tracts.parquet.",
        "replace ./releases/.tmp-<new>/.tracts.parquet.",
        "replace ./releases/.tmp-<new>/.tract_counts.parquet.",
        "write ./releases/.tmp-<new>/manifest.json",
        "fsync ./releases/.tmp-<new>/manifest.json",
        "rename ./releases/.tmp-<new> -> ./releases/<new>",
        "write ./LATEST.tmp",
        "fsync ./LATEST.tmp",
        "replace ./LATEST.tmp -> ./LATEST",
        "rename ./releases/<older> -> ./releases/.tmp-pruned-<older>",
        "rmtree ./releases/.tmp-pruned-<older>",
    ]
    positions = [position(steps, m) for m in milestones]
    assert positions == sorted(positions), list(zip(milestones, positions, strict=True))
    at = dict(zip(milestones, positions, strict=True))
    cleared = at["rmtree ./releases/.tmp-never-current-<never>"]
    renamed = at["rename ./releases/.tmp-<new> -> ./releases/<new>"]
    switched = at["replace ./LATEST.tmp -> ./LATEST"]

    points = kill_points(steps)
    assert {1, len(steps)} <= set(points)
    manifest_onwards = range(at["write ./releases/.tmp-<new>/manifest.json"], len(steps) + 1)
    assert set(manifest_onwards) <= set(points)
    cases = {k: template.copy(tmp_path / f"kill-{k:02d}") for k in points}
    with ThreadPoolExecutor(max_workers=2) as pool:
        runs: dict[int, Future[subprocess.CompletedProcess[str]]] = {
            k: pool.submit(run_worker, "kill", cases[k], "--kill-at", k) for k in points
        }
        try:
            for k in points:
                where = f"killed at step {k}/{len(steps)} ({steps[k - 1]})"
                phase = phase_of(k, cleared, renamed, switched)
                check_killed(con, template, cases[k], runs[k].result(), phase, where)
        finally:
            pool.shutdown(cancel_futures=True)


# --------------------------------------------------------------------------- kill at random


def test_kill_at_a_random_moment_leaves_a_valid_release(
    con: duckdb.DuckDBPyConnection, tmp_path: Path
) -> None:
    base = tmp_path / "published"
    old = publish_release(con, crash_layers(BIG), base, keep_releases=KEEP_RELEASES)
    old_files = snapshot(old.path)
    # How long a worker's publish takes, as the kills below meet it (over the same release).
    timing = tmp_path / "timing"
    shutil.copytree(base, timing)
    with started_worker("run", timing, "--points", BIG) as proc:
        assert proc.stdout.readline() == "publishing\n", proc.stderr.read()
        started = time.monotonic()
        proc.wait(timeout=TIMEOUT_S)
    duration = time.monotonic() - started
    rng = random.Random(20261125)
    outcomes = []
    for i in range(3):
        for attempt in range(4):
            published = tmp_path / f"case-{i}-{attempt}"
            shutil.copytree(base, published)
            delay = rng.uniform(0.0, duration)
            with started_worker("run", published, "--points", BIG) as proc:
                assert proc.stdout.readline() == "publishing\n", proc.stderr.read()
                time.sleep(delay)
                proc.send_signal(signal.SIGKILL)
                proc.wait(timeout=TIMEOUT_S)
            current, manifest = check_current_release(con, published)
            if current == old.release_id:
                assert snapshot(old.path) == old_files
            else:
                assert proc.returncode in (0, SIGKILLED)
                assert [layer["rows"] for layer in manifest["layers"]] == [BIG, 5, 5]
            recover_and_check(con, published, current)
            if proc.returncode == SIGKILLED:
                break
            duration = delay  # the publish beat the kill (a busy machine's timing): sooner
        outcomes.append((round(delay, 2), proc.returncode, current == old.release_id))
    # The delays fall within one publish, so (almost) every worker must die mid-publish.
    assert sum(code == SIGKILLED for _, code, _ in outcomes) >= 2, outcomes


# --------------------------------------------------------------------------- concurrency


def test_a_second_publisher_is_refused_while_one_holds_the_lock(
    con: duckdb.DuckDBPyConnection, tmp_path: Path
) -> None:
    published = tmp_path / "published"
    first = publish_release(con, crash_layers(), published, keep_releases=KEEP_RELEASES)
    hold = tmp_path / "hold"
    hold.mkdir()
    with started_worker("hold", published, "--hold-dir", hold) as proc:
        wait_for(hold / "holding", proc)
        with pytest.raises(ReleaseError, match="another publisher"):
            publish_release(con, crash_layers(), published, keep_releases=KEEP_RELEASES)
        assert read_latest_id(published) == first.release_id
        # The refused publisher cleared nothing: the holder's staging directory is still there.
        assert [n for n in entries(published) if n.startswith(".tmp-")] != []
        (hold / "go").touch()
        out, err = proc.communicate(timeout=TIMEOUT_S)
    assert proc.returncode == 0, err
    held = out.split()[-1]
    assert check_current_release(con, published)[0] == held
    assert entries(published) == [first.release_id, held]

    # A publisher killed while holding the lock does not keep it: the OS drops a flock.
    (hold / "go").unlink()
    (hold / "holding").unlink()
    with started_worker("hold", published, "--hold-dir", hold) as proc:
        wait_for(hold / "holding", proc)
        proc.send_signal(signal.SIGKILL)
        assert proc.wait(timeout=TIMEOUT_S) == SIGKILLED
    assert [n for n in entries(published) if n.startswith(".tmp-")] != []  # its staging dir
    recover_and_check(con, published, held)


# --------------------------------------------------------------------------- BI readers


def test_a_bi_reader_does_not_block_publishing_and_keeps_its_view(
    con: duckdb.DuckDBPyConnection, tmp_path: Path
) -> None:
    published = tmp_path / "published"
    serving = tmp_path / "serving.duckdb"
    first = publish_release(con, crash_layers(2_000), published, keep_releases=KEEP_RELEASES)
    build_serving_database(first.path, serving)
    old_view = [first.release_id, 2_000, sum(range(2_000)), 5]
    with started_worker("read", serving, stdin=subprocess.PIPE) as reader:

        def seen() -> Any:
            line = reader.stdout.readline()
            assert line, f"reader died: {reader.stderr.read()}"
            return json.loads(line)

        assert seen() == old_view
        # The reader holds serving.duckdb open (read-only) throughout.
        second = publish_release(con, crash_layers(3_000), published, keep_releases=KEEP_RELEASES)
        assert build_serving_database(second.path, serving) == serving
        reader.stdin.write("again\n")
        reader.stdin.flush()
        assert seen() == old_view  # its open database still reads the old release, whole
        with connect(serving, read_only=True) as new_reader:
            assert new_reader.execute(SERVING_QUERY).fetchone() == (
                second.release_id,
                3_000,
                sum(range(3_000)),
                5,
            )
        reader.stdin.write("again\n")
        reader.stdin.flush()
        assert seen() == old_view
        reader.stdin.close()
        assert reader.wait(timeout=TIMEOUT_S) == 0, reader.stderr.read()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["published", "serving.duckdb"]


# --------------------------------------------------------------------------- pruning


def test_pruning_keeps_the_newest_releases_and_never_the_current_one(
    con: duckdb.DuckDBPyConnection, tmp_path: Path
) -> None:
    published = tmp_path / "published"
    ids = [
        publish_release(con, crash_layers(200), published, keep_releases=2).release_id
        for _ in range(4)
    ]
    assert ids == sorted(ids)
    assert entries(published) == ids[-2:]
    assert check_current_release(con, published)[0] == ids[-1]

    # LATEST rolled back to the older release: pruning keeps it even when keeping just one.
    (published / "LATEST").write_text(ids[-2] + "\n")
    assert prune_releases(published, 1) == []
    assert entries(published) == ids[-2:]
    (published / "LATEST").write_text(ids[-1] + "\n")
    assert prune_releases(published, 1) == [ids[-2]]
    assert entries(published) == [ids[-1]]
    assert release_ids(published) == [ids[-1]]


# --------------------------------------------------------------------------- interrupts


def test_an_interrupt_after_latest_is_switched_keeps_the_new_release(
    con: duckdb.DuckDBPyConnection, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Ctrl-C or a run cancellation (BaseException) arriving after LATEST was replaced, e.g.
    during the directory fsync that ends the switch, must not delete the release LATEST names."""
    published = tmp_path / "published"
    publish_release(con, crash_layers(), published, keep_releases=KEEP_RELEASES)
    fsync_directory = publish.fsync_directory

    def interrupted(directory: Path) -> None:
        fsync_directory(directory)
        if Path(directory) == published:  # the last step of switching LATEST
            raise KeyboardInterrupt

    monkeypatch.setattr(publish, "fsync_directory", interrupted)
    with pytest.raises(KeyboardInterrupt):
        publish_release(con, crash_layers(), published, keep_releases=KEEP_RELEASES)
    monkeypatch.undo()
    current, _ = check_current_release(con, published)
    recover_and_check(con, published, current)
