"""A dbt process that has imported dbt once, and runs each dbt command in a fork of itself.

Every dbt command starts by importing dbt, its DuckDB adapter and their libraries: about 2.5 s
of one core before dbt reads a file, paid by the early parse and again by the build, in every
run. ``crimemap run`` starts this server as the run begins, beside the landing; the
``crimemap-dbt`` command (``dbt_client``), which the pipeline's dbt resource runs instead of
``dbt``, hands it its arguments, environment, working folder and its own stdout and stderr.
The server forks, and the fork runs the command exactly as the ``dbt`` command does (the same
click entry point, the same exit codes), writing to the client's stdout and stderr: dagster-dbt
reads dbt's JSON log lines as it would from ``dbt`` itself. The client exits with the fork's
exit code. Without a server (a run launched from the UI), ``crimemap-dbt`` runs ``dbt``.

Protocol, over a Unix socket: the client sends 8 bytes (the request's length) with its stdout
and stderr descriptors attached, then the request as JSON ``{"args", "env", "cwd"}``; the fork
answers with its exit code as 4 bytes, once dbt is done.
"""

from __future__ import annotations

import atexit
import importlib
import json
import os
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import time
import traceback
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

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


def serve_one(connection: socket.socket) -> None:
    """In the fork: take the client's request and descriptors, run dbt, answer its exit code."""
    request, (stdout, stderr) = receive_request(connection)
    os.dup2(stdout, 1)
    os.dup2(stderr, 2)
    os.close(stdout)
    os.close(stderr)
    os.chdir(request["cwd"])
    os.environ.clear()
    os.environ.update(request["env"])
    try:
        code = run_dbt(request["args"])
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
    connection.sendall(EXIT.pack(code))


def serve(socket_path: str, parent: int) -> None:
    """Import dbt, then fork for each connection until terminated, or until the ``parent``
    process (the run) is gone."""
    for module in PRELOAD:
        importlib.import_module(module)
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(socket_path)
    listener.listen()
    listener.settimeout(PARENT_CHECK_SECONDS)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    children: set[int] = set()
    try:
        while True:
            try:
                connection, _ = listener.accept()
            except TimeoutError:
                if os.getppid() != parent:  # the run was killed: nobody will stop the server
                    return
                continue
            connection.settimeout(None)
            pid = os.fork()
            if pid == 0:
                # A dbt stopped by SIGTERM is killed, as dbt would be; never a clean exit.
                signal.signal(signal.SIGTERM, signal.SIG_DFL)
                listener.close()
                code = 0
                try:
                    serve_one(connection)
                except BaseException:
                    traceback.print_exc()  # on the client's stderr once it has been received
                    code = 70
                # What a dbt process does as it exits (release dbt's semaphores, flush logs),
                # without unwinding into this loop.
                atexit._run_exitfuncs()
                os._exit(code)
            connection.close()
            children.add(pid)
            children -= reaped(children)
    finally:
        # A command still running when the run ends was abandoned (the run was interrupted).
        # Waited for, the forks' CPU time counts as this server's children's, and the run's.
        for pid in children - reaped(children):
            os.kill(pid, signal.SIGTERM)
            os.waitpid(pid, 0)


def reaped(children: set[int]) -> set[int]:
    done = set()
    for pid in children:
        if os.waitpid(pid, os.WNOHANG)[0] == pid:
            done.add(pid)
    return done


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
        Path(socket_path).unlink(missing_ok=True)
        os.rmdir(folder)


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
                print("crimemap-dbt: dbt's process ended without an exit code", file=sys.stderr)
                return 2
            answer += chunk
    (code,) = EXIT.unpack(answer)
    return code


def dbt_executable() -> Path:
    """The ``dbt`` command of this Python environment."""
    return Path(sys.executable).with_name("dbt")


def client_executable() -> Path:
    """The ``crimemap-dbt`` command of this Python environment (this module's client)."""
    return Path(sys.executable).with_name("crimemap-dbt")


def client_main() -> int:
    """``crimemap-dbt ARGS``: dbt ARGS, by the run's dbt server when there is one (and it is
    up), else by ``dbt`` itself."""
    server = os.environ.get(SERVER_ENV, "")
    pid, _, socket_path = server.partition(":")
    connection = connect_to_server(int(pid), socket_path) if socket_path else None
    if connection is None:
        os.execv(dbt_executable(), ["dbt", *sys.argv[1:]])
    return run_through_server(connection, sys.argv[1:])


if __name__ == "__main__":
    serve(sys.argv[1], int(sys.argv[2]))
