"""``crimemap run --timings``: each step's wall, CPU and peak memory, as it ends."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path
from types import SimpleNamespace

from crimemap.orchestration.timings import (
    StepMeter,
    StepTiming,
    json_lines_writer,
    read_timings,
)

ASSETS = frozenset({"crimemap_dbt_models"})


def event(kind: str, step: str | None) -> SimpleNamespace:
    return SimpleNamespace(event_type_value=kind, step_key=step)


def test_a_step_is_timed_from_its_start_to_its_end(tmp_path: Path) -> None:
    now = [10.0]
    path = tmp_path / "timings.jsonl"
    with path.open("w") as out:
        meter = StepMeter(ASSETS, json_lines_writer(out), clock=lambda: now[0])
        meter.handle(event("STEP_START", "crimemap_dbt_models"))
        meter.handle(event("RUN_START", None))  # not a step's: ignored
        busy_until = time.process_time() + 0.2
        while time.process_time() < busy_until:  # CPU the step spends
            pass
        # dbt is a child process: its CPU counts once it has been waited for
        subprocess.run([sys.executable, "-c", "sum(range(3_000_000))"], check=True)
        now[0] = 42.5
        meter.handle(event("STEP_FAILURE", "crimemap_dbt_models"))
        meter.handle(event("STEP_SUCCESS", "marts__mart_suites"))  # never started: no line
    (timing,) = read_timings(path)
    assert (timing.step, timing.stage, timing.outcome) == ("crimemap_dbt_models", "dbt", "failed")
    assert timing.wall_s == 32.5
    assert timing.cpu_s >= 0.2
    assert timing.peak_mb > 0
    assert json.loads(path.read_text())["peak_is_step"] == timing.peak_is_step


def test_a_step_peak_is_its_own_where_the_system_resets_it() -> None:
    # In a fresh process: a long test session's resident memory already sits above any peak a
    # few hundred MB could set, and a reset only brings the mark down to what is resident now.
    script = """
from crimemap.orchestration.timings import own_peak_mb, reset_peak
ballast = bytearray(200 * 1024 * 1024)
for i in range(0, len(ballast), 4096):
    ballast[i] = 1
before = own_peak_mb()
del ballast
print(reset_peak(), before, own_peak_mb())
"""
    out = subprocess.run([sys.executable, "-c", script], check=True, capture_output=True, text=True)
    reset, before, after = out.stdout.split()
    assert reset == "True", "Linux lets a process reset its peak resident memory"
    assert float(before) > 200
    assert float(after) < float(before) - 150


def test_timings_read_back_as_written(tmp_path: Path) -> None:
    timing = StepTiming("published__release", "publish", "finished", 1.5, 2.0, 300.0, True)
    path = tmp_path / "t.jsonl"
    with path.open("w") as out:
        json_lines_writer(out)(timing)
    assert read_timings(path) == [timing]
