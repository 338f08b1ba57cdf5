"""What ``crimemap run`` shows on the terminal: the stages of the run, not its logs.

The run's every log line (Dagster's events, dbt's output) goes to a file in the data directory;
the terminal gets one line when a stage starts and one when it ends, with its counts and time:

    crimemap: sources   ... 7 steps
    crimemap: sources   done: 7 steps, 145,211 rows landed (14.2 s)

A stage is a family of steps: the raw assets land (sources), the splits and the source checks
judge (quality), dbt builds (dbt), the mart suites check what it built (marts), the release
asset publishes (publish).
"""

from __future__ import annotations

import logging
import os
import sys
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

import dagster as dg

from crimemap.orchestration.defs.transform.last_build import REPLAYED


def stage_of(step_key: str, asset_steps: frozenset[str]) -> str:
    """The stage of a step; ``asset_steps`` are the steps that materialize assets (the others
    run checks)."""
    if step_key.startswith("published__"):
        return "publish"
    if step_key.startswith("marts__"):
        return "marts"
    if step_key in asset_steps and "dbt" in step_key:
        return "dbt"
    if step_key in asset_steps and step_key.startswith(("raw__", "conformed__")):
        return "sources"  # landings, and reference tables read straight from configuration
    return "quality"


@dataclass
class StageState:
    total: int
    started_at: float | None = None
    finished: int = 0
    failed: int = 0
    skipped: int = 0  # not run: something upstream failed
    rows: int = 0
    replayed: int = 0  # outputs that stand for an earlier build of the same inputs
    checks: dict[str, int] = field(default_factory=lambda: {"passed": 0, "warned": 0, "failed": 0})

    @property
    def done(self) -> bool:
        return self.finished + self.failed + self.skipped >= self.total


ROW_VERBS = {"sources": "rows landed", "quality": "rows accepted", "dbt": "rows built",
             "publish": "rows published"}  # fmt: skip
STEP_OUTCOMES = {"STEP_SUCCESS": "finished", "STEP_FAILURE": "failed", "STEP_SKIPPED": "skipped"}
# The assets whose rows a stage line counts: landed, then accepted (not quarantined) rows.
COUNTED_ROWS = {"sources": "raw", "quality": "conformed", "publish": "published"}


class StageProgress:
    """Follows a run's step events and says when each stage starts and ends."""

    def __init__(
        self,
        step_keys: Iterable[str],
        asset_steps: Iterable[str],
        write: Callable[[str], None],
        clock: Callable[[], float] = time.perf_counter,
    ) -> None:
        self.stages: dict[str, StageState] = {}
        self.step_stage: dict[str, str] = {}
        self.asset_steps = frozenset(asset_steps)
        for key in step_keys:
            stage = stage_of(key, self.asset_steps)
            self.step_stage[key] = stage
            self.stages.setdefault(stage, StageState(total=0)).total += 1
        self.write = write
        self.clock = clock

    def _stage(self, step_key: str | None) -> tuple[str, StageState] | None:
        if step_key is None:
            return None
        stage = self.step_stage.get(step_key) or stage_of(step_key, self.asset_steps)
        state = self.stages.setdefault(stage, StageState(total=1))
        return stage, state

    def step_started(self, step_key: str | None) -> None:
        found = self._stage(step_key)
        if found is None:
            return
        stage, state = found
        if state.started_at is None:
            state.started_at = self.clock()
            self.write(f"{stage:<8} ... {state.total} step(s)")

    def step_ended(self, step_key: str | None, outcome: str) -> None:
        """``outcome``: ``finished``, ``failed`` or ``skipped``."""
        found = self._stage(step_key)
        if found is None:
            return
        stage, state = found
        setattr(state, outcome, getattr(state, outcome) + 1)
        if state.done:
            self.write(self.summary(stage, state))

    def rows(self, step_key: str | None, asset_root: str, count: int) -> None:
        found = self._stage(step_key)
        if found is not None and COUNTED_ROWS.get(found[0]) == asset_root:
            found[1].rows += count

    def check(self, step_key: str | None, outcome: str) -> None:
        found = self._stage(step_key)
        if found is not None:
            found[1].checks[outcome] += 1

    def summary(self, stage: str, state: StageState) -> str:
        now = self.clock()
        elapsed = now - (now if state.started_at is None else state.started_at)
        parts = [f"{state.finished} step(s)"]
        if state.failed:
            parts.append(f"{state.failed} FAILED")
        if state.skipped:
            parts.append(f"{state.skipped} not run")
        if state.rows:
            parts.append(f"{state.rows:,} {ROW_VERBS.get(stage, 'rows')}")
        if state.replayed:
            parts.append(f"{state.replayed} model(s) as an earlier build left them, not rebuilt")
        checks = sum(state.checks.values())
        if checks:
            parts.append(
                f"checks {state.checks['passed']} passed, {state.checks['warned']} warned, "
                f"{state.checks['failed']} failed"
            )
        return f"{stage:<8} done: {', '.join(parts)} ({elapsed:.1f} s)"

    def handle(self, event: Any) -> None:
        """One Dagster event of the run."""
        kind = event.event_type_value
        if kind == "STEP_START":
            self.step_started(event.step_key)
        elif kind in STEP_OUTCOMES:
            self.step_ended(event.step_key, STEP_OUTCOMES[kind])
        elif kind == "ASSET_MATERIALIZATION":
            metadata = event.event_specific_data.materialization.metadata
            count = metadata.get("dagster/row_count")
            if count is not None and isinstance(count.value, int):
                self.rows(event.step_key, event.asset_key.path[0], count.value)
            if REPLAYED in metadata and (found := self._stage(event.step_key)):
                found[1].replayed += 1
        elif kind == "ASSET_CHECK_EVALUATION":
            evaluation = event.event_specific_data
            outcome = (
                "passed"
                if evaluation.passed
                else "failed"
                if evaluation.severity == dg.AssetCheckSeverity.ERROR
                else "warned"
            )
            self.check(event.step_key, outcome)


class _EventHandler(logging.Handler):
    def __init__(self, followers: Sequence[Callable[[Any], None]]) -> None:
        super().__init__(level=logging.DEBUG)
        self.followers = followers

    def emit(self, record: logging.LogRecord) -> None:
        meta = getattr(record, "dagster_meta", None) or {}
        event = meta.get("dagster_event")
        if event is not None:
            for follow in self.followers:
                follow(event)


def progress_logger(*followers: Callable[[Any], None]) -> dg.LoggerDefinition:
    """A Dagster logger that hands each of a run's events to every follower (the stage lines'
    ``StageProgress.handle``, the step timings' ``StepMeter.handle``)."""

    def _make(_init_context: Any) -> logging.Logger:
        logger = logging.Logger("crimemap.progress", level=logging.DEBUG)
        logger.addHandler(_EventHandler(followers))
        return logger

    return dg.LoggerDefinition(_make, description="crimemap's stage lines on the terminal")


@contextmanager
def output_to(log_path: Path) -> Iterator[TextIO]:
    """Send everything this process and its children write (Dagster's log lines, dbt's output)
    to ``log_path``; yield the terminal, for the stage lines."""
    log_path.parent.mkdir(parents=True, exist_ok=True)
    sys.stdout.flush()
    sys.stderr.flush()
    saved = os.dup(1), os.dup(2)
    terminal = os.fdopen(os.dup(1), "w", buffering=1)
    with log_path.open("ab") as log:
        os.dup2(log.fileno(), 1)
        os.dup2(log.fileno(), 2)
        try:
            yield terminal
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
            os.dup2(saved[0], 1)
            os.dup2(saved[1], 2)
            for fd in saved:
                os.close(fd)
            terminal.close()
