"""The dbt marts as their model YAML declares them: the one place a mart's columns are listed.

Each mart's ``_<folder>__models.yml`` lists its columns in order, with their types (an enforced
dbt contract) and descriptions. The mart suites, the published layers' column documentation and
the tests read them from here instead of repeating them. The YAML is read directly rather than
through dbt's manifest: the declaration is the same, and reading it needs no ``dbt parse``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import yaml

from crimemap.core.project import DBT_PROJECT_DIR

MARTS_DIR = DBT_PROJECT_DIR / "models" / "marts"
# Marts in this folder report on the pipeline itself (coverage, the scorecard): no contract
# suite, they describe the data rather than promise anything about it.
DIAGNOSTIC_FOLDER = "quality"


@dataclass(frozen=True)
class MartColumn:
    name: str
    data_type: str | None
    description: str


@dataclass(frozen=True)
class Publication:
    """How a mart is published (``config.meta.publish`` in its YAML).

    ``layer`` names the release's layer (a dimension loses its ``dim_`` and takes the plural:
    ``dim_area`` -> ``areas``; a fact table is named for what it counts: ``fct_incidents`` ->
    ``incidents``; any other mart keeps its name). ``as_built``: published as the mart is, with
    no privacy treatment (statistics over many areas), described by ``description``; every
    other published mart has a layer function in ``crimemap.warehouse.layers``.
    """

    layer: str
    as_built: bool = False
    description: str | None = None
    time_column: str | None = None


@dataclass(frozen=True)
class DeclaredMart:
    name: str
    folder: str  # the sub-folder of models/marts
    columns: tuple[MartColumn, ...]
    publication: Publication | None = None
    # Expectations beyond the contract (``config.meta.suite``) for a mart without a suite of
    # its own in crimemap.quality.mart_suites: key, not_null, non_negative, shares.
    suite: Mapping[str, tuple[str, ...]] = field(default_factory=dict)

    @property
    def column_names(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns)

    @property
    def diagnostic(self) -> bool:
        return self.folder == DIAGNOSTIC_FOLDER


def one_line(text: str) -> str:
    """Folded or literal YAML text as a single stripped line."""
    return " ".join(text.split())


def _column(entry: Mapping[str, Any]) -> MartColumn:
    data_type = entry.get("data_type")
    return MartColumn(
        name=str(entry["name"]),
        data_type=str(data_type) if data_type else None,
        description=one_line(str(entry.get("description") or "")),
    )


def _publication(model: Mapping[str, Any]) -> Publication | None:
    config = model.get("config") or {}
    entry = (config.get("meta") or {}).get("publish") if isinstance(config, Mapping) else None
    if not entry:
        return None
    if not isinstance(entry, Mapping) or not entry.get("layer"):
        raise ValueError(f"{model['name']}: meta.publish needs a layer name, got {entry!r}")
    as_built = bool(entry.get("as_built", False))
    description = entry.get("description")
    if as_built and not description:
        raise ValueError(f"{model['name']}: a mart published as built needs a description")
    return Publication(
        layer=str(entry["layer"]),
        as_built=as_built,
        description=one_line(str(description)) if description else None,
        time_column=entry.get("time_column"),
    )


SUITE_KEYS = ("key", "not_null", "non_negative", "shares")


def _suite(model: Mapping[str, Any], columns: tuple[MartColumn, ...]) -> dict[str, tuple[str, ...]]:
    config = model.get("config") or {}
    entry = (config.get("meta") or {}).get("suite") if isinstance(config, Mapping) else None
    if not entry:
        return {}
    name = model["name"]
    if not isinstance(entry, Mapping) or set(entry) - set(SUITE_KEYS):
        raise ValueError(f"{name}: meta.suite takes {', '.join(SUITE_KEYS)}, got {entry!r}")
    declared = {c.name for c in columns}
    suite = {key: tuple(str(c) for c in entry[key] or ()) for key in entry}
    unknown = sorted({c for cs in suite.values() for c in cs} - declared)
    if unknown:
        raise ValueError(f"{name}: meta.suite names undeclared columns {unknown}")
    return suite


def read_marts(documents: Iterable[tuple[str, Any]]) -> dict[str, DeclaredMart]:
    """Mart name -> declaration, from (folder, parsed property document) pairs. Entries that
    are not models, and columns without a name, are left out."""
    marts: dict[str, DeclaredMart] = {}
    for folder, document in documents:
        if not isinstance(document, Mapping):
            continue
        for model in document.get("models") or []:
            if not isinstance(model, Mapping) or not model.get("name"):
                continue
            columns = tuple(
                _column(c)
                for c in model.get("columns") or []
                if isinstance(c, Mapping) and c.get("name")
            )
            marts[str(model["name"])] = DeclaredMart(
                str(model["name"]), folder, columns, _publication(model), _suite(model, columns)
            )
    return marts


def declared_marts(marts_dir: Path = MARTS_DIR) -> Mapping[str, DeclaredMart]:
    """Every mart declared in a model YAML under ``marts_dir``, by name."""
    return _declared_marts(marts_dir.resolve())


@cache
def _declared_marts(marts_dir: Path) -> Mapping[str, DeclaredMart]:
    # libyaml's loader: the pure-Python one takes about half a second for these files.
    paths = sorted(marts_dir.rglob("*.yml"))
    return read_marts(
        (
            path.parent.relative_to(marts_dir).as_posix(),
            yaml.load(path.read_text(), Loader=yaml.CSafeLoader),
        )
        for path in paths
    )


def mart_columns(mart: str) -> tuple[str, ...]:
    """The columns of ``mart``, in the order its model declares (and builds) them."""
    try:
        return declared_marts()[mart].column_names
    except KeyError:
        raise KeyError(f"no mart {mart!r} is declared under {MARTS_DIR}") from None


def contracted_marts() -> tuple[str, ...]:
    """The marts with a contract suite: every mart but the diagnostic ones, in name order."""
    return tuple(sorted(name for name, m in declared_marts().items() if not m.diagnostic))


def published_marts() -> tuple[DeclaredMart, ...]:
    """The marts a release publishes (those with ``meta.publish``), in name order."""
    return tuple(m for _, m in sorted(declared_marts().items()) if m.publication is not None)
