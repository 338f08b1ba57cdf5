"""``crimemap-dbt`` runs dbt commands through the run's warm dbt process as dbt itself runs them:
the same output, the same exit codes; without a server (or with one that is gone) it is dbt.

Real processes: the server imports dbt and forks per command; the client is the console script.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

from crimemap.core.duckdb_spatial import prepare_extension_directory
from crimemap.core.project import DBT_PROJECT_DIR
from crimemap.warehouse.dbt_server import (
    SERVER_ENV,
    alive,
    client_executable,
    dbt_executable,
    dbt_server,
    read_usage,
    server_address,
)


def environment(data_dir: Path) -> dict[str, str]:
    env = {
        **os.environ,
        "CRIMEMAP_DATA_DIR": str(data_dir),
        "CRIMEMAP_DUCKDB_EXTENSION_DIR": str(
            prepare_extension_directory(data_dir / ".duckdb_extensions")
        ),
        "DBT_TARGET_PATH": str(data_dir / "target"),
        "DBT_LOG_PATH": str(data_dir / "target"),
        "DBT_LOG_FORMAT": "json",
        "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
    }
    env.pop(SERVER_ENV, None)
    return env


def address() -> tuple[int, str]:
    """The running server's process id and socket (inside ``dbt_server()``)."""
    found = server_address()
    assert found is not None, "no dbt server announced"
    return found


def run(executable: Path, env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(executable), *args], cwd=DBT_PROJECT_DIR, env=env, capture_output=True, text=True
    )


def event_names(stdout: str) -> list[str]:
    return [json.loads(line)["info"]["name"] for line in stdout.splitlines() if line[:1] == "{"]


def test_a_command_through_the_server_is_the_command_dbt_runs(tmp_path: Path) -> None:
    plain_env = environment(tmp_path / "plain")
    plain = run(dbt_executable(), plain_env, "parse")
    with dbt_server():
        served_env = {**environment(tmp_path / "served"), SERVER_ENV: os.environ[SERVER_ENV]}
        server_pid, socket_path = address()
        served = run(client_executable(), served_env, "parse")
        # the fork's CPU time and peak, recorded before the client had its exit code
        after_parse = read_usage(socket_path)
        wrong = run(client_executable(), served_env, "no-such-command")
    assert (served.returncode, plain.returncode) == (0, 0), served.stderr[-2000:]
    # the same events, in the same order: what dagster-dbt reads
    assert event_names(served.stdout) == event_names(plain.stdout)
    assert event_names(served.stdout)[-1] == "ParsePerfInfoPath"
    assert (tmp_path / "served" / "target" / "manifest.json").is_file()
    # dbt's usage error: its exit code and message, on the client's stderr
    assert wrong.returncode == run(dbt_executable(), plain_env, "no-such-command").returncode == 2
    assert "No such command 'no-such-command'" in wrong.stderr
    assert served.stderr == ""  # nothing of the server's own (a warning, a traceback)
    assert not alive(server_pid), "the server outlived its block"
    # the parse's own CPU (more than a second of dbt's) and a peak of a dbt process
    assert after_parse["cpu_s"] > 1.0 and 100 < after_parse["peak_mb"] < 2000


def test_without_a_server_crimemap_dbt_is_dbt(tmp_path: Path) -> None:
    env = environment(tmp_path)
    version = run(client_executable(), env, "--version")
    assert version.returncode == 0
    assert version.stdout == run(dbt_executable(), env, "--version").stdout


def test_a_server_that_is_gone_leaves_the_command_to_dbt(tmp_path: Path) -> None:
    gone = subprocess.Popen(["true"])
    gone.wait()
    env = {**environment(tmp_path), SERVER_ENV: f"{gone.pid}:{tmp_path / 'no.sock'}"}
    version = run(client_executable(), env, "--version")
    assert version.returncode == 0 and "dbt" in version.stdout.lower()


def test_a_failing_command_keeps_dbts_exit_code(tmp_path: Path) -> None:
    """``dbt debug`` fails when the profile's spatial extension folder is missing; through the
    server it fails with the same exit code."""
    env = environment(tmp_path)
    env["CRIMEMAP_DUCKDB_EXTENSION_DIR"] = str(tmp_path / "missing")
    plain = run(dbt_executable(), env, "debug")
    with dbt_server():
        served = run(client_executable(), {**env, SERVER_ENV: os.environ[SERVER_ENV]}, "debug")
    assert plain.returncode != 0
    assert served.returncode == plain.returncode


def test_the_server_of_a_killed_run_exits_by_itself() -> None:
    """A run killed outright never stops its server: the server sees its parent gone."""
    import signal
    import sys
    import time

    run_process = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import os, time\n"
            "from crimemap.warehouse.dbt_server import SERVER_ENV, dbt_server\n"
            "with dbt_server():\n"
            "    print(os.environ[SERVER_ENV], flush=True)\n"
            "    time.sleep(600)\n",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert run_process.stdout is not None
    pid, _, socket_path = run_process.stdout.readline().strip().partition(":")
    server_pid = int(pid)
    assert alive(server_pid)
    run_process.send_signal(signal.SIGKILL)
    run_process.wait()
    deadline = time.monotonic() + 30
    while alive(server_pid) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not alive(server_pid), "the server of a killed run is still running"
    assert not Path(socket_path).parent.exists(), "the killed run's server left its folder"


def test_a_dbt_command_stopped_by_sigterm_does_not_report_success(tmp_path: Path) -> None:
    """The server exits cleanly on SIGTERM; a command it forked must not: stopped, it is a
    failure for the client, as a stopped dbt would be."""
    import signal
    import time

    env = environment(tmp_path)
    with dbt_server():
        server_pid, _ = address()
        client = subprocess.Popen(
            [str(client_executable()), "parse"],
            cwd=DBT_PROJECT_DIR,
            env={**env, SERVER_ENV: os.environ[SERVER_ENV]},
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        children = Path(f"/proc/{server_pid}/task/{server_pid}/children")
        deadline = time.monotonic() + 60
        while not children.read_text().split() and time.monotonic() < deadline:
            time.sleep(0.05)
        (fork,) = children.read_text().split()
        os.kill(int(fork), signal.SIGTERM)
        _, stderr = client.communicate(timeout=60)
    assert client.returncode == 128 + signal.SIGTERM
    assert "dbt was stopped by signal 15" in stderr


def test_a_client_that_left_does_not_stop_the_server(tmp_path: Path) -> None:
    """A step stopped mid-command leaves the server up: the next command still goes through it."""
    import signal
    import time

    env = environment(tmp_path)
    with dbt_server():
        server_pid, socket_path = address()
        served_env = {**env, SERVER_ENV: os.environ[SERVER_ENV]}
        client = subprocess.Popen(
            [str(client_executable()), "parse"],
            cwd=DBT_PROJECT_DIR,
            env=served_env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        children = Path(f"/proc/{server_pid}/task/{server_pid}/children")
        deadline = time.monotonic() + 60
        while not children.read_text().split() and time.monotonic() < deadline:
            time.sleep(0.05)
        client.send_signal(signal.SIGKILL)
        client.wait()
        while children.read_text().split() and time.monotonic() < deadline:
            time.sleep(0.05)  # the abandoned parse runs to its end
        before = read_usage(socket_path)["cpu_s"]
        again = run(client_executable(), served_env, "parse")
        assert again.returncode == 0, again.stderr[-2000:]
        assert alive(server_pid)
        assert read_usage(socket_path)["cpu_s"] > before  # it ran in the server's fork
