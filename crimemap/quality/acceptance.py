"""How much of a load was accepted: a source whose rows are mostly quarantined is not fine.

A police export whose dates come in a format its layout does not declare quarantines every row
as ``date_unparseable``; the split still balances, so without this judgement the run would
publish as if nothing happened. Below ``error_below`` accepted the load stops its source
(ERROR); below ``warn_below`` it warns. The message names the dominant reason, what its rule
says and a rejected value, which is usually the whole diagnosis.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from crimemap.quality.rules import ReasonExample, SplitResult


@dataclass(frozen=True)
class LoadAcceptance:
    """The counts of one load of a source (every month of a police load together)."""

    source: str
    raw_rows: int
    accepted_rows: int
    by_reason: Mapping[str, int]
    examples: Mapping[str, ReasonExample]

    @property
    def quarantined_rows(self) -> int:
        return self.raw_rows - self.accepted_rows

    @property
    def share(self) -> float:
        return self.accepted_rows / self.raw_rows if self.raw_rows else 1.0


@dataclass(frozen=True)
class AcceptanceVerdict:
    severity: str | None  # None: passed; else "WARN" or "ERROR"
    message: str

    @property
    def passed(self) -> bool:
        return self.severity is None


def load_acceptance(source: str, results: Iterable[SplitResult]) -> LoadAcceptance:
    """The splits of one load (a police load splits month by month) as one load."""
    return combined(
        source,
        (
            LoadAcceptance(source, r.raw_rows, r.clean_rows, r.by_reason, r.examples)
            for r in results
        ),
    )


def combined(source: str, loads: Iterable[LoadAcceptance]) -> LoadAcceptance:
    """Several loads' counts as one; each reason keeps its first example."""
    raw = accepted = 0
    by_reason: dict[str, int] = {}
    examples: dict[str, ReasonExample] = {}
    for load in loads:
        raw += load.raw_rows
        accepted += load.accepted_rows
        for code, n in load.by_reason.items():
            by_reason[code] = by_reason.get(code, 0) + n
        for code, example in load.examples.items():
            examples.setdefault(code, example)
    return LoadAcceptance(source, raw, accepted, by_reason, examples)


def dominant_reason(load: LoadAcceptance) -> str | None:
    """The reason most rows were quarantined for (the first in code order on a tie)."""
    if not load.by_reason:
        return None
    return max(load.by_reason, key=lambda code: load.by_reason[code])


def judge_acceptance(
    load: LoadAcceptance, *, error_below: float, warn_below: float
) -> AcceptanceVerdict:
    counts = f"{load.accepted_rows:,} of {load.raw_rows:,} rows accepted ({load.share:.1%})"
    if load.raw_rows == 0:
        return AcceptanceVerdict(None, f"{load.source}: no rows in this load")
    if load.share >= warn_below:
        return AcceptanceVerdict(None, f"{load.source}: {counts}")
    severity = "ERROR" if load.share < error_below else "WARN"
    limit = error_below if severity == "ERROR" else warn_below
    reason = dominant_reason(load)
    hint = ""
    if reason is not None:
        example = load.examples.get(reason)
        why = f" ({example.text})" if example is not None else ""
        hint = f"; mostly {reason}: {load.by_reason[reason]:,} rows{why}"
    return AcceptanceVerdict(severity, f"{load.source}: only {counts}, below {limit:.0%}{hint}")


def judge_loads(
    source: str, loads: Sequence[LoadAcceptance], *, error_below: float, warn_below: float
) -> AcceptanceVerdict:
    """Loads of one source judged each on its own (a survey's waves: a broken new wave is not
    hidden by good old ones): the worst verdict, naming every load below a threshold."""
    if len(loads) == 1:
        return judge_acceptance(loads[0], error_below=error_below, warn_below=warn_below)
    verdicts = [
        judge_acceptance(load, error_below=error_below, warn_below=warn_below) for load in loads
    ]
    failing = [v for v in verdicts if not v.passed]
    if not failing:
        total = combined(source, loads)
        return AcceptanceVerdict(
            None,
            f"{source}: {total.accepted_rows:,} of {total.raw_rows:,} rows accepted in "
            f"{len(loads)} files",
        )
    severity = "ERROR" if any(v.severity == "ERROR" for v in failing) else "WARN"
    return AcceptanceVerdict(severity, "; ".join(v.message for v in failing))
