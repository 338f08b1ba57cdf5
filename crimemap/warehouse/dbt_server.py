"""A dbt process that has imported dbt once, and runs each dbt command in a fork of itself.

Every dbt command starts by importing dbt, its DuckDB adapter and their libraries: about 2.5 s
of one core before dbt reads a file, paid by the early parse and again by the build, in every
run. ``crimemap run`` starts this server as the run begins, beside the landing; the
``crimemap-dbt`` command (``client_main``), which the pipeline's dbt resource runs instead of
``dbt``, hands it its arguments, environment, working folder and its own stdout and stderr.
The server forks, and the fork runs the command exactly as the ``dbt`` command does (the same
click entry point, the same exit codes), writing to the client's stdout and stderr: dagster-dbt
reads dbt's JSON log lines as it would from ``dbt`` itself. The client exits with the fork's
exit code. Without a server (a run launched from the UI), ``crimemap-dbt`` runs ``dbt``.

Protocol, over a Unix socket: the client sends 8 bytes (the request's length) with its stdout
and stderr descriptors attached, then the request as JSON ``{"args", "env", "cwd"}``; the server
answers with the fork's exit code as 4 bytes (negative: the signal that ended it) once the fork
has ended.
"""

from __future__ import annotations

import atexit
import importlib
import json
import os
import resource
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import time
import traceback
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any, NoReturn

SERVER_ENV = "CRIMEMAP_DBT_SERVER"  # "<server pid>:<socket path>", for crimemap-dbt
# What every dbt command of the pipeline imports: the CLI, the DuckDB adapter, the parser and
# the tasks a run invokes.
PRELOAD: tuple[str, ...] = (
    "dbt.cli.main",
    "dbt.adapters.duckdb",
    "dbt.adapters.duckdb.impl",
    "dbt.parser.manifest",
    "dbt.context.providers",
    "dbt.task.build",
)
LENGTH = struct.Struct("!Q")
EXIT = struct.Struct("!i")
USAGE_NAME = "usage.json"  # beside the socket: what the finished commands used
READY_SECONDS = 60.0  # how long a client waits for a starting server to listen
PARENT_CHECK_SECONDS = 1.0  # how often an idle server looks whether its run is still there


# --- the server ---------------------------------------------------------------------------------


def receive_request(connection: socket.socket) -> tuple[dict[str, Any], list[int]]:
    header, descriptors, _, _ = socket.recv_fds(connection, LENGTH.size, 2)
    (length,) = LENGTH.unpack(header)
    payload = b""
    while len(payload) < length:
        chunk = connection.recv(length - len(payload))
        if not chunk:
            raise ConnectionError("the client left before its request was whole")
        payload += chunk
    return json.loads(payload), descriptors


def run_dbt(args: Sequence[str]) -> int:
    """``args`` as the ``dbt`` command runs them: its click entry point, its exit codes."""
    from dbt.cli.main import cli

    try:
        cli.main(args=list(args), prog_name="dbt", standalone_mode=True)
    except SystemExit as exit_:
        code = exit_.code
        return code if isinstance(code, int) else (0 if code is None else 1)
    return 0


def serve_one(connection: socket.socket) -> int:
    """In the fork: take the client's request and descriptors, run dbt; dbt's exit code."""
    request, (stdout, stderr) = receive_request(connection)
    connection.close()  # the server answers, once this process has ended
    os.dup2(stdout, 1)
    os.dup2(stderr, 2)
    os.close(stdout)
    os.close(stderr)
    os.chdir(request["cwd"])
    os.environ.clear()
    os.environ.update(request["env"])
    try:
        return run_dbt(request["args"])
    finally:
        sys.stdout.flush()
        sys.stderr.flush()


def record_usage(
    usage_path: Path, usage: resource.struct_rusage, previous: Mapping[str, float]
) -> dict[str, float]:
    """Add a finished command's CPU time and peak memory to the server's record."""
    record = {
        "cpu_s": previous.get("cpu_s", 0.0) + usage.ru_utime + usage.ru_stime,
        "peak_mb": max(previous.get("peak_mb", 0.0), usage.ru_maxrss / 1024),  # kB on Linux
    }
    temporary = usage_path.with_suffix(".tmp")
    temporary.write_text(json.dumps(record))
    os.replace(temporary, usage_path)
    return record


def read_usage(socket_path: str) -> dict[str, float]:
    """What the server used so far, its start and its finished commands: CPU seconds and the
    largest peak (MB)."""
    try:
        return dict(json.loads(Path(socket_path).with_name(USAGE_NAME).read_text()))
    except (OSError, ValueError):
        return {}


def serve(socket_path: str, parent: int) -> None:
    """Import dbt, then run each command in a fork of this process, one at a time, until
    terminated or until the ``parent`` process (the run) is gone. A command's client gets its
    exit code once its fork has ended and its CPU time and peak memory are recorded
    (``read_usage``): a run's step timings count them as the step's."""
    for module in PRELOAD:
        importlib.import_module(module)
    usage_path = Path(socket_path).with_name(USAGE_NAME)
    usage = record_usage(usage_path, resource.getrusage(resource.RUSAGE_SELF), {})
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(socket_path)
    listener.listen()
    listener.settimeout(PARENT_CHECK_SECONDS)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    running: int | None = None
    try:
        while True:
            try:
                connection, _ = listener.accept()
            except TimeoutError:
                if os.getppid() != parent:
                    # The run was killed: nobody will stop the server or clear its folder.
                    shutil.rmtree(Path(socket_path).parent, ignore_errors=True)
                    return
                continue
            connection.settimeout(None)
            with connection:
                # SIGTERM waits while the server forks: a fork stopped before it had set its
                # own handler would run the server's, exit 0, and report a stopped dbt a success.
                signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGTERM})
                running = os.fork()
                if running == 0:
                    run_fork(listener, connection)
                signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGTERM})
                _, status, fork_usage = os.wait4(running, 0)
                running = None
                usage = record_usage(usage_path, fork_usage, usage)
                # A client that is gone (its step was stopped) leaves the server serving.
                with suppress(OSError):
                    connection.sendall(EXIT.pack(os.waitstatus_to_exitcode(status)))
    finally:
        # A command still running when the run ends was abandoned (the run was interrupted).
        if running:
            os.kill(running, signal.SIGTERM)
            os.waitpid(running, 0)


def run_fork(listener: socket.socket, connection: socket.socket) -> NoReturn:
    """The fork's life: dbt's command, then the exit a dbt process makes."""
    # A dbt stopped by SIGTERM is killed, as dbt would be; never a clean exit.
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGTERM})
    listener.close()
    code = 70
    try:
        code = serve_one(connection)
    except BaseException:
        traceback.print_exc()  # on the client's stderr once it has been received
    # What a dbt process does as it exits (release dbt's semaphores, flush logs), without
    # unwinding into the server's loop.
    atexit._run_exitfuncs()
    os._exit(code)


# --- starting and stopping it (crimemap run) ----------------------------------------------------


@contextmanager
def dbt_server() -> Iterator[str]:
    """A server for the block (a pipeline run), its socket in ``CRIMEMAP_DBT_SERVER``; stopped
    and waited for at the end."""
    folder = tempfile.mkdtemp(prefix="crimemap-dbt-")
    socket_path = str(Path(folder) / "dbt.sock")
    process = subprocess.Popen(
        [sys.executable, "-m", "crimemap.warehouse.dbt_server", socket_path, str(os.getpid())],
        stdin=subprocess.DEVNULL,
    )
    previous = os.environ.get(SERVER_ENV)
    os.environ[SERVER_ENV] = f"{process.pid}:{socket_path}"
    try:
        yield socket_path
    finally:
        if previous is None:
            os.environ.pop(SERVER_ENV, None)
        else:
            os.environ[SERVER_ENV] = previous
        process.terminate()
        process.wait()
        shutil.rmtree(folder, ignore_errors=True)


# --- the client (crimemap-dbt) ------------------------------------------------------------------


def alive(pid: int) -> bool:
    """True while process ``pid`` runs (an exited one its parent has not waited for yet, a
    zombie, is not running)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[0]
    except (OSError, IndexError):  # no /proc (not Linux): it exists
        return True
    return state != "Z"


def connect_to_server(
    pid: int, socket_path: str, wait_seconds: float = READY_SECONDS
) -> socket.socket | None:
    """A connection to the server, waiting while it starts (imports dbt) at most
    ``wait_seconds``; None if it is gone."""
    deadline = time.monotonic() + wait_seconds
    while alive(pid):
        connection = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            connection.connect(socket_path)
            return connection
        except (FileNotFoundError, ConnectionRefusedError):
            connection.close()
            if time.monotonic() > deadline:
                return None
            time.sleep(0.02)
    return None


def request_bytes(args: Sequence[str], env: Mapping[str, str], cwd: str) -> bytes:
    return json.dumps({"args": list(args), "env": dict(env), "cwd": cwd}).encode()


def run_through_server(connection: socket.socket, args: Sequence[str]) -> int:
    """dbt ``args`` run by the server, on this process's stdout and stderr; dbt's exit code."""
    with connection:
        payload = request_bytes(args, os.environ, os.getcwd())
        socket.send_fds(connection, [LENGTH.pack(len(payload))], [1, 2])
        connection.sendall(payload)
        answer = b""
        while len(answer) < EXIT.size:
            chunk = connection.recv(EXIT.size - len(answer))
            if not chunk:
                print("crimemap-dbt: the dbt server ended without an exit code", file=sys.stderr)
                return 2
            answer += chunk
    (code,) = EXIT.unpack(answer)
    if code < 0:
        print(f"crimemap-dbt: dbt was stopped by signal {-code}", file=sys.stderr)
        return 128 - code  # as a shell reports a command a signal ended
    return code


def dbt_executable() -> Path:
    """The ``dbt`` command of this Python environment."""
    return Path(sys.executable).with_name("dbt")


def client_executable() -> Path:
    """The ``crimemap-dbt`` command of this Python environment (this module's client)."""
    return Path(sys.executable).with_name("crimemap-dbt")


def server_address() -> tuple[int, str] | None:
    """The run's server, as ``dbt_server`` announces it in the environment: its process id
    and its socket's path; None outside a run."""
    pid, _, socket_path = os.environ.get(SERVER_ENV, "").partition(":")
    return (int(pid), socket_path) if socket_path else None


def client_main() -> int:
    """``crimemap-dbt ARGS``: dbt ARGS, by the run's dbt server when there is one (and it is
    up), else by ``dbt`` itself."""
    address = server_address()
    connection = connect_to_server(*address) if address else None
    if connection is None:
        os.execv(dbt_executable(), ["dbt", *sys.argv[1:]])
    return run_through_server(connection, sys.argv[1:])


if __name__ == "__main__":
    serve(sys.argv[1], int(sys.argv[2]))
