"""Row-count bounds against earlier loads: a portal that goes dark shows up as a collapse.

Every landing records its row counts in ``state/volumes/<source>.json``: per month for a monthly
source (the months the load covered), one ``all`` total otherwise. The newest load is judged
against a *baseline*, per scope (month or ``all``): the rows of the latest earlier load of the
same feed that covered that scope and was itself within bounds. A drop of more than ``max_drop``
(a share of the baseline) in any scope fails.

Rules, each for a reason:

- A load that failed never becomes a baseline, so a portal that stays dark keeps failing instead
  of passing on the next run. An operator who knows the drop is real accepts that load
  (``crimemap quality --accept-volume SOURCE``); it then becomes the baseline.
- A change of feed (another export file, URL or sample size) starts afresh: a deliberate change
  of source is not a collapse.
- Scopes whose baseline has fewer than ``min_baseline_rows`` rows are not judged: a month of 8
  incidents falling to 3 is noise, not an outage.
- Growth is never an error here (row-count ceilings belong to the suites).
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

DEFAULT_MAX_DROP = 0.5
DEFAULT_MIN_BASELINE_ROWS = 50
WHOLE_LOAD = "all"
HISTORY_LIMIT = 100


@dataclass(frozen=True)
class LoadVolume:
    """Rows of one load, per scope (``YYYY-MM`` month or ``all``)."""

    load_id: str
    feed: str
    rows: Mapping[str, int]
    accepted: bool = False

    def to_json(self) -> dict[str, Any]:
        return {
            "load_id": self.load_id,
            "feed": self.feed,
            "rows": dict(self.rows),
            "accepted": self.accepted,
        }

    @classmethod
    def from_json(cls, value: Mapping[str, Any]) -> LoadVolume:
        return cls(
            load_id=str(value["load_id"]),
            feed=str(value["feed"]),
            rows={str(k): int(v) for k, v in value["rows"].items()},
            accepted=bool(value.get("accepted", False)),
        )


@dataclass(frozen=True)
class VolumeDrop:
    scope: str
    baseline_rows: int
    rows: int
    baseline_load_id: str

    @property
    def share(self) -> float:
        """The share of the baseline that went missing (0 = unchanged, 1 = nothing left)."""
        return 1 - self.rows / self.baseline_rows


@dataclass(frozen=True)
class VolumeVerdict:
    source: str
    load_id: str | None
    max_drop: float
    judged_scopes: int
    drops: tuple[VolumeDrop, ...] = field(default=())

    @property
    def passed(self) -> bool:
        return not self.drops

    @property
    def message(self) -> str:
        if self.load_id is None:
            return f"{self.source}: no load recorded yet"
        if not self.judged_scopes:
            return f"{self.source}: first load of this feed, nothing to compare with"
        if self.passed:
            return (
                f"{self.source}: row counts within {self.max_drop:.0%} of the baseline in "
                f"{self.judged_scopes} scope(s)"
            )
        worst = sorted(self.drops, key=lambda d: -d.share)
        listed = "; ".join(
            f"{d.scope}: {d.rows:,} rows vs {d.baseline_rows:,} before (-{d.share:.0%})"
            for d in worst[:5]
        )
        more = f" and {len(worst) - 5} more" if len(worst) > 5 else ""
        return (
            f"{self.source}: volume collapsed by more than {self.max_drop:.0%} — {listed}{more}. "
            "If the source really shrank, accept this load: "
            f"crimemap quality --accept-volume {self.source}"
        )


def _drops(
    load: LoadVolume,
    baseline: Mapping[str, tuple[str, int]],
    max_drop: float,
    min_baseline_rows: int,
) -> tuple[int, list[VolumeDrop]]:
    judged, drops = 0, []
    for scope, rows in load.rows.items():
        if scope not in baseline:
            continue
        baseline_load, baseline_rows = baseline[scope]
        if baseline_rows < min_baseline_rows:
            continue
        judged += 1
        if rows < baseline_rows * (1 - max_drop):
            drops.append(VolumeDrop(scope, baseline_rows, rows, baseline_load))
    return judged, drops


def judge_latest(
    source: str,
    history: Sequence[LoadVolume],
    *,
    max_drop: float = DEFAULT_MAX_DROP,
    min_baseline_rows: int = DEFAULT_MIN_BASELINE_ROWS,
) -> VolumeVerdict:
    """Judge the newest load of ``history`` (oldest first) against its baseline."""
    if not 0 < max_drop < 1:
        raise ValueError(f"max_drop must be between 0 and 1, got {max_drop}")
    if not history:
        return VolumeVerdict(source, None, max_drop, 0)
    *earlier, latest = history
    baseline: dict[str, tuple[str, int]] = {}
    for load in earlier:
        if load.feed != latest.feed:
            baseline = {}
            continue
        _, drops = _drops(load, baseline, max_drop, min_baseline_rows)
        if load.accepted or not drops:
            baseline.update({scope: (load.load_id, rows) for scope, rows in load.rows.items()})
    judged, drops = _drops(latest, baseline, max_drop, min_baseline_rows)
    if latest.accepted:
        drops = []
    return VolumeVerdict(source, latest.load_id, max_drop, judged, tuple(drops))


# --- the history file --------------------------------------------------------------------------


def history_path(state_dir: Path, source: str) -> Path:
    return Path(state_dir) / "volumes" / f"{source}.json"


def read_history(path: Path) -> list[LoadVolume]:
    """The recorded loads, oldest first; none when the file does not exist yet."""
    if not path.exists():
        return []
    try:
        payload = json.loads(path.read_text())
        return [LoadVolume.from_json(item) for item in payload["loads"]]
    except (ValueError, KeyError, TypeError) as exc:
        raise ValueError(f"{path}: not a volume history ({exc})") from exc


def _write_history(path: Path, source: str, loads: Sequence[LoadVolume]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    payload = {"source": source, "loads": [load.to_json() for load in loads[-HISTORY_LIMIT:]]}
    try:
        tmp.write_text(json.dumps(payload, indent=2) + "\n")
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def record_load(path: Path, source: str, load: LoadVolume) -> list[LoadVolume]:
    """Append ``load`` (replacing an earlier record of the same load id: a retried step)."""
    loads = [item for item in read_history(path) if item.load_id != load.load_id]
    loads.append(load)
    _write_history(path, source, loads)
    return loads


def accept_latest(path: Path, source: str) -> LoadVolume:
    """Mark the newest load accepted, so it becomes the baseline despite its drop."""
    loads = read_history(path)
    if not loads:
        raise ValueError(f"{source}: no load recorded in {path}")
    loads[-1] = replace(loads[-1], accepted=True)
    _write_history(path, source, loads)
    return loads[-1]


def feed_identity(kind: str, settings: Mapping[str, Any]) -> str:
    """A stable text naming what a feed reads (its kind and settings, sorted)."""
    return f"{kind}:{json.dumps(settings, sort_keys=True, default=str)}"
