"""Where a run's time and memory go: one JSON line per step (``crimemap run --timings FILE``).

Each line holds the step, its stage (as the terminal's stage lines group them), and what the
step cost: wall seconds, CPU seconds of this process and of the processes it waited for (the
mart suites' workers), and its peak resident memory. The run's dbt commands run in forks of its
dbt server (``crimemap.warehouse.dbt_server``), which records each command's CPU time and peak
as it ends: they count in the step during which they end (the build in the dbt step; the early
parse, and the server's own start, in whichever step is running then). The peak is the step's
own where Linux lets a process reset its high-water mark (``/proc/self/clear_refs``), else the
run's peak so far (``peak_is_step`` says which). The lines are what ``benchmarks.pipeline``
adds up per stage; whatever a run spends outside its steps (imports, planning, events between
steps) is the rest of its wall time.
"""

from __future__ import annotations

import json
import resource
import time
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, TextIO

from crimemap.orchestration.console import STEP_OUTCOMES, stage_of
from crimemap.warehouse.dbt_server import read_usage, server_address

CLEAR_REFS = Path("/proc/self/clear_refs")
STATUS = Path("/proc/self/status")


@dataclass(frozen=True)
class StepTiming:
    step: str
    stage: str
    outcome: str
    wall_s: float
    cpu_s: float
    peak_mb: float
    peak_is_step: bool


def dbt_server_usage() -> dict[str, float]:
    """What the run's dbt server (``crimemap.warehouse.dbt_server``) and the dbt commands it
    finished used so far. The server is this process's child, but it is waited for only when
    the run ends; its commands are its own children, not this process's."""
    address = server_address()
    return read_usage(address[1]) if address else {}


def cpu_seconds() -> float:
    """User + system seconds of this process, of its children that it has waited for, and of
    the run's dbt server and its finished commands."""
    own = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    waited = own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime
    return waited + dbt_server_usage().get("cpu_s", 0.0)


def children_peak_mb() -> float:
    """The largest peak of a child process so far: a waited child's, or a dbt command's."""
    waited = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024  # kB on Linux
    return max(waited, dbt_server_usage().get("peak_mb", 0.0))


def reset_peak() -> bool:
    """Reset this process's peak resident memory (Linux: write 5 to clear_refs); False where
    the system does not allow it."""
    try:
        CLEAR_REFS.write_text("5")
    except OSError:
        return False
    return True


def own_peak_mb() -> float:
    """This process's peak resident memory (VmHWM) since start or the last reset."""
    try:
        for line in STATUS.read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


class StepMeter:
    """Follows a run's step events and hands ``write`` a ``StepTiming`` as each step ends."""

    def __init__(
        self,
        asset_steps: Iterable[str],
        write: Callable[[StepTiming], None],
        clock: Callable[[], float] = time.perf_counter,
    ) -> None:
        self.asset_steps = frozenset(asset_steps)
        self.write = write
        self.clock = clock
        self.started: dict[str, tuple[float, float, float, bool]] = {}

    def handle(self, event: Any) -> None:
        kind = event.event_type_value
        step = event.step_key
        if step is None:
            return
        if kind == "STEP_START":
            reset = reset_peak()
            self.started[step] = (self.clock(), cpu_seconds(), children_peak_mb(), reset)
        elif kind in STEP_OUTCOMES and step in self.started:
            wall_at, cpu_at, children_at, reset = self.started.pop(step)
            children = children_peak_mb()
            # A child that set a new peak during the step (dbt) is the step's child.
            peak = max(own_peak_mb(), children if children > children_at else 0.0)
            self.write(
                StepTiming(
                    step=step,
                    stage=stage_of(step, self.asset_steps),
                    outcome=STEP_OUTCOMES[kind],
                    wall_s=round(self.clock() - wall_at, 3),
                    cpu_s=round(cpu_seconds() - cpu_at, 3),
                    peak_mb=round(peak, 1),
                    peak_is_step=reset,
                )
            )


def json_lines_writer(out: TextIO) -> Callable[[StepTiming], None]:
    def write(timing: StepTiming) -> None:
        out.write(json.dumps(asdict(timing)) + "\n")
        out.flush()

    return write


def read_timings(path: Path) -> list[StepTiming]:
    return [
        StepTiming(**json.loads(line))
        for line in path.read_text(encoding="utf-8").splitlines()
        if line.strip()
    ]
