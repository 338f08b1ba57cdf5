"""``crimemap ui`` on the shared run's data directory: the Dagster UI answers over HTTP with one
code location named ``crimemap``; its sensors start no run for input already landed; SIGTERM to
``crimemap ui`` stops every process it started."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from pathlib import Path

import pytest
from dagster import DagsterInstance

from tests.integration.conftest import PROJECT_ROOT, SMALL_SAMPLE_INCIDENTS, PipelineRun

pytestmark = pytest.mark.integration

STARTUP_S = 180
# The survey sensor ticks every 30 s: two ticks have passed by then.
SENSOR_WAIT_S = 75


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def graphql(port: int, query: str) -> dict:
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/graphql",
        data=json.dumps({"query": query}).encode(),
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.loads(response.read())


def wait_for_locations(port: int, ui: subprocess.Popen[bytes]) -> list[str]:
    query = "{ workspaceOrError { ... on Workspace { locationEntries { name loadStatus } } } }"
    deadline = time.monotonic() + STARTUP_S
    while time.monotonic() < deadline:
        assert ui.poll() is None, "crimemap ui exited"
        try:
            entries = graphql(port, query)["data"]["workspaceOrError"]["locationEntries"]
            if entries and all(e["loadStatus"] == "LOADED" for e in entries):
                return [e["name"] for e in entries]
        except (OSError, KeyError, TypeError):
            pass
        time.sleep(2)
    pytest.fail(f"the UI did not load its code location within {STARTUP_S} s")


def group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    return True


def data_docs_links(data_dir: Path) -> list[str]:
    """The data_docs URL of every GX check evaluation of the last run."""
    from dagster import DagsterEventType

    with DagsterInstance.from_config(str(data_dir / "dagster")) as instance:
        (run,) = instance.get_runs(limit=1)
        records = instance.all_logs(run.run_id, of_type=DagsterEventType.ASSET_CHECK_EVALUATION)
    metadata = [r.dagster_event.event_specific_data.metadata for r in records]
    return sorted({m["data_docs"].value for m in metadata if "data_docs" in m})


def run_count(data_dir: Path) -> int:
    with DagsterInstance.from_config(str(data_dir / "dagster")) as instance:
        return len(instance.get_runs())


def test_the_ui_names_its_location_starts_no_run_and_stops_whole(
    pipeline_run: PipelineRun,
) -> None:
    data_dir = pipeline_run.data_dir
    runs_before = run_count(data_dir)
    port, docs_port = free_port(), free_port()
    docs_links = data_docs_links(data_dir)
    assert len(docs_links) > 20
    env = {**os.environ, "CRIMEMAP_DATA_DIR": str(data_dir)}
    env.pop("DAGSTER_HOME", None)
    ui = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "crimemap.orchestration.cli",
            "ui",
            "--port",
            str(port),
            "--docs-port",
            str(docs_port),
            "--incidents",
            str(SMALL_SAMPLE_INCIDENTS),
        ],
        cwd=PROJECT_ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,  # its own group, as a terminal gives it
    )
    try:
        assert wait_for_locations(port, ui) == ["crimemap"]
        # The checks' Data Docs links open over http while the UI runs.
        for link in docs_links:
            page = urllib.parse.urlsplit(link).path
            with urllib.request.urlopen(f"http://127.0.0.1:{docs_port}{page}", timeout=10) as r:
                assert r.status == 200 and "expectations" in r.read().decode(), link
        time.sleep(SENSOR_WAIT_S)
        assert run_count(data_dir) == runs_before  # nothing re-landed, nothing published
    finally:
        ui.send_signal(signal.SIGTERM)
        try:
            ui.wait(timeout=60)
        finally:
            deadline = time.monotonic() + 30
            while group_alive(ui.pid) and time.monotonic() < deadline:
                time.sleep(0.5)
            survivors = group_alive(ui.pid)
            if survivors:
                os.killpg(ui.pid, signal.SIGKILL)
    assert not survivors, "processes of crimemap ui outlived its SIGTERM"
