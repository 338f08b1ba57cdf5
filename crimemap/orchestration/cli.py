"""The ``crimemap`` command: run the pipeline, open the UI, or call dbt with the right env."""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import subprocess
import sys
import time
from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from crimemap.config.paths import DataPaths, export_environment
from crimemap.config.sources import ConfigError
from crimemap.core.files import write_atomic
from crimemap.core.project import DBT_PROJECT_DIR, PROJECT_ROOT
from crimemap.quality.report import DEFAULT_DOCS_PORT
from crimemap.warehouse.salt import SaltError

if TYPE_CHECKING:
    from dagster import DagsterInstance

    from crimemap.config.jurisdiction import JurisdictionConfig


def configure(
    data_dir: str | None, incidents: int | None, seed: int | None, config: str | None = None
) -> DataPaths:
    if config:
        path = Path(config).resolve()
        if not path.is_file():
            raise ConfigError(f"jurisdiction config not found: {config}")
        os.environ["CRIMEMAP_CONFIG"] = str(path)
    if data_dir:
        os.environ["CRIMEMAP_DATA_DIR"] = str(Path(data_dir).resolve())
    if incidents is not None:
        os.environ["CRIMEMAP_SAMPLE_INCIDENTS"] = str(incidents)
    if seed is not None:
        os.environ["CRIMEMAP_SAMPLE_SEED"] = str(seed)
    paths = export_environment()
    prepare_dagster_home(paths)
    return paths


# The first line of the dagster.yaml crimemap writes; a file without it is the user's own.
DAGSTER_YAML_MARKER = "# Written by crimemap, which keeps it current while this line is here."
EVENT_BATCH_SIZE = 1000
# What crimemap wrote before it chose the storage.
DAGSTER_YAML_BEFORE = "telemetry:\n  enabled: false\n"


def dagster_instance_yaml(home: Path) -> str:
    """The instance's settings: no telemetry, and Dagster's SQLite files under ``home`` with
    its event log's connections kept open (crimemap/orchestration/instance_storage.py)."""
    return (
        f"{DAGSTER_YAML_MARKER}\n"
        "telemetry:\n"
        "  enabled: false\n"
        "storage:\n"
        "  custom:\n"
        "    module: crimemap.orchestration.instance_storage\n"
        "    class: OpenConnectionSqliteStorage\n"
        "    config:\n"
        f"      base_dir: {json.dumps(str(home))}\n"  # a JSON string is a YAML string
    )


def prepare_dagster_home(paths: DataPaths) -> None:
    """Runs land in a persistent instance under the data dir, so the UI shows their history.
    Its ``dagster.yaml`` is rewritten when it differs from the current settings (a moved or
    older data directory), unless it is the user's own (``DAGSTER_YAML_MARKER``)."""
    home = paths.dagster_home
    home.mkdir(parents=True, exist_ok=True)
    config = home / "dagster.yaml"
    wanted = dagster_instance_yaml(home.resolve())
    current = config.read_text(encoding="utf-8") if config.exists() else None
    ours = (
        current is None or current == DAGSTER_YAML_BEFORE or current.startswith(DAGSTER_YAML_MARKER)
    )
    if ours and current != wanted:
        # Atomic: `crimemap ui` may be loading the instance from it.
        write_atomic(config, lambda tmp: tmp.write_text(wanted, encoding="utf-8"))
    os.environ["DAGSTER_HOME"] = str(home)
    # A run's planned materializations and checks (hundreds, stored as it starts) go to the
    # storage as one batch, which crimemap's storage writes in one transaction.
    os.environ.setdefault("DAGSTER_EVENT_BATCH_SIZE", str(EVENT_BATCH_SIZE))


def month_range(text: str | None, partition_keys: Sequence[str]) -> tuple[str, str]:
    """Partition keys of ``--months 2025-01:2025-03`` (either end optional), within the range."""
    if not partition_keys:
        raise SystemExit("crimemap: the police sources have no monthly partitions yet")
    first, last = partition_keys[0], partition_keys[-1]
    if not text:
        return first, last
    start, colon, end = text.partition(":")
    if not colon:  # one month: "2025-03"
        end = start
    wanted = (f"{start}-01" if start else first, f"{end}-01" if end else last)
    if wanted[0] > wanted[1]:
        raise SystemExit(f"crimemap: --months {text}: the range ends before it starts")
    for key in wanted:
        if key not in partition_keys:
            raise SystemExit(
                f"crimemap: month {key[:7]} is outside the police partitions "
                f"{first[:7]}..{last[:7]}"
            )
    return wanted


def claim(paths: DataPaths, config: JurisdictionConfig) -> None:
    """Refuse to run a jurisdiction into a data directory that holds another one."""
    from crimemap.config.data_directory import DataDirectoryInUse, claim_data_directory

    try:
        claim_data_directory(paths, config.name, config.path)
    except DataDirectoryInUse as exc:
        raise SystemExit(f"crimemap: {exc}") from exc


def sources_line(config: JurisdictionConfig) -> str:
    """Which sources the run reads, by mode: absent and sample sources are named."""
    by_mode: dict[str, list[str]] = {}
    for source, mode in config.source_modes.items():
        by_mode.setdefault(mode, []).append(source)
    parts = [f"{mode}: {', '.join(names)}" for mode, names in sorted(by_mode.items())]
    return "sources by mode (none = absent) - " + "; ".join(parts)


def command_run(args: argparse.Namespace) -> int:
    paths = configure(args.data_dir, args.incidents, args.seed, args.config)
    started = time.perf_counter()
    print(f"crimemap: data directory {paths.root}", flush=True)
    from crimemap.config.runtime import current_config

    config = current_config()
    claim(paths, config)
    from crimemap.core.run_lock import DataDirectoryBusy, data_directory_lock

    try:
        with data_directory_lock(
            paths.root,
            command="crimemap run",
            wait_seconds=args.wait,
            on_wait=lambda message: print(f"crimemap: {message}", flush=True),
        ):
            return run_locked(args, paths, config, started)
    except DataDirectoryBusy as exc:
        print(f"crimemap: {exc}", file=sys.stderr)
        return BUSY_EXIT


def clear_interrupted_work(paths: DataPaths, instance: DagsterInstance) -> None:
    """What a killed run left: scratch files, and runs still marked as started. Only while
    holding the data directory's run lock (nothing else is writing)."""
    from crimemap.core.files import sweep_leftovers
    from crimemap.orchestration.runs import fail_dead_runs

    # The pipeline's own working folders only: releases clear their leftovers when the next
    # one is published, the inbox is the users', Dagster's home is Dagster's.
    work = (paths.sources, paths.raw, paths.quarantine, paths.conformed, paths.quality, paths.state)
    removed = [path for folder in work for path in sweep_leftovers(folder)]
    if removed:
        print(f"crimemap: removed {len(removed)} leftover(s) of an interrupted run", flush=True)
    for run_id in fail_dead_runs(instance):
        print(f"crimemap: run {run_id} had lost its process: marked failed", flush=True)


def run_locked(
    args: argparse.Namespace, paths: DataPaths, config: JurisdictionConfig, started: float
) -> int:
    from dagster import DagsterInstance

    from crimemap.config.runtime import dbt_vars
    from crimemap.warehouse.dbt_parse import early_parse
    from crimemap.warehouse.dbt_server import dbt_server

    # Started now, to run beside the landing: a dbt process that imports dbt once for the
    # run's dbt commands (crimemap/warehouse/dbt_server.py), and dbt's parse, which needs no
    # data (warehouse/dbt_parse.py). One Dagster instance for the whole command.
    with (
        dbt_server(),
        early_parse(paths, dbt_vars(config)),
        DagsterInstance.get() as instance,
    ):
        return run_in_instance(args, paths, config, started, instance)


def run_in_instance(
    args: argparse.Namespace,
    paths: DataPaths,
    config: JurisdictionConfig,
    started: float,
    instance: DagsterInstance,
) -> int:
    clear_interrupted_work(paths, instance)
    print("crimemap: loading definitions (dbt manifest, assets, checks)...", flush=True)

    from dagster._core.storage.tags import (
        ASSET_PARTITION_RANGE_END_TAG,
        ASSET_PARTITION_RANGE_START_TAG,
    )

    from crimemap.orchestration.console import StageProgress, progress_logger
    from crimemap.orchestration.definitions import build_definitions
    from crimemap.orchestration.defs.police.assets import police_partitions
    from crimemap.orchestration.defs.police.schedules import PIPELINE_JOB
    from crimemap.orchestration.runs import RUN_PID_TAG

    defs = build_definitions(config, paths)

    first, last = month_range(args.months, police_partitions(config).get_partition_keys())
    print(
        f"crimemap: {config.name}: {len(config.police)} police source(s), months "
        f"{first[:7]}..{last[:7]}",
        flush=True,
    )
    print(f"crimemap: {sources_line(config)}", flush=True)
    job = defs.resolve_job_def(PIPELINE_JOB.name)
    # One run: the monthly police assets take the whole range in one step (single-run
    # backfill), everything downstream runs once over all months.
    tags = {
        ASSET_PARTITION_RANGE_START_TAG: first,
        ASSET_PARTITION_RANGE_END_TAG: last,
        RUN_PID_TAG: str(os.getpid()),
    }
    log_path = paths.root / "logs" / f"run-{time.strftime('%Y%m%dT%H%M%SZ', time.gmtime())}.log"
    if not args.verbose:
        print(f"crimemap: the run's full log: {log_path} (--verbose shows it here)", flush=True)
    steps = asset_steps(defs)
    with (
        run_output(log_path, verbose=args.verbose) as terminal,
        step_timings(args.timings, steps) as followers,
    ):
        progress = StageProgress(
            job.graph.node_names(),
            steps,
            write=lambda line: print(f"crimemap: {line}", file=terminal, flush=True),
        )
        job = job.with_logger_defs(
            {**job.loggers, "progress": progress_logger(progress.handle, *followers)}
        )
        run_config = {
            "loggers": {"console": {"config": {"log_level": args.log_level}}, "progress": {}}
        }
        result = job.execute_in_process(
            instance=instance, run_config=run_config, raise_on_error=False, tags=tags
        )
    elapsed = time.perf_counter() - started
    # A city without a survey layout takes no survey files: no survey line either.
    absent = (*config.absent_sources, *(() if config.surveys.declared else ("surveys",)))
    for line in acceptance_lines(result.get_asset_check_evaluations(), absent):
        print(f"crimemap: {line}", flush=True)
    evaluations = result.get_asset_check_evaluations()
    failed_checks = [e for e in evaluations if not e.passed and e.severity.value == "ERROR"]
    warned = sum(1 for e in evaluations if not e.passed and e.severity.value != "ERROR")
    print(
        f"crimemap: checks: {sum(1 for e in evaluations if e.passed)} passed, {warned} warned, "
        f"{len(failed_checks)} failed",
        flush=True,
    )
    for evaluation in failed_checks:
        print(
            f"crimemap: check {evaluation.check_name} on {evaluation.asset_key.to_user_string()} "
            f"failed: {evaluation.description}",
            file=sys.stderr,
        )
    if not result.success:
        failed = [event.step_key for event in result.get_step_failure_events()]
        print(f"crimemap: run FAILED after {elapsed:.1f}s; failed steps: {failed}", file=sys.stderr)
        print(f"crimemap: inspect it with `crimemap ui --data-dir {paths.root}`", file=sys.stderr)
        if not args.verbose:
            print(f"crimemap: the run's full log: {log_path}", file=sys.stderr)
        return 1
    if not published_new_release(result):
        print("crimemap: nothing changed since the current release: no new release published")
    print_outputs(paths, elapsed)
    if not args.verbose:
        print(f"  run log:        {log_path}")
    return 0


@contextmanager
def step_timings(path: str | None, steps: set[str]) -> Iterator[list[Callable[[Any], None]]]:
    """With ``--timings FILE``: a follower of the run's events that writes each step's wall,
    CPU and peak memory to FILE (``crimemap.orchestration.timings``)."""
    if path is None:
        yield []
        return
    from crimemap.orchestration.timings import StepMeter, json_lines_writer

    Path(path).parent.mkdir(parents=True, exist_ok=True)
    with Path(path).open("w", encoding="utf-8") as out:
        yield [StepMeter(steps, json_lines_writer(out)).handle]


def published_new_release(result: Any) -> bool:
    """Whether the run's release asset published a new release (False: the content was the
    current release's)."""
    for event in result.get_asset_materialization_events():
        materialization = event.event_specific_data.materialization
        if materialization.asset_key.path == ["published", "release"]:
            published = materialization.metadata.get("published")
            return published is None or bool(published.value)
    return False


def asset_steps(defs: Any) -> set[str]:
    """The steps that materialize assets (every other step runs checks)."""
    from dagster import AssetsDefinition

    return {a.node_def.name for a in defs.assets if isinstance(a, AssetsDefinition) and a.keys}


@contextmanager
def run_output(log_path: Path, *, verbose: bool) -> Iterator[TextIO]:
    """Where a run's logs go: its log file (the terminal gets the stage lines), or with
    ``--verbose`` the terminal itself."""
    from crimemap.orchestration.console import output_to

    if verbose:
        yield sys.stdout
        return
    with output_to(log_path) as terminal:
        yield terminal


def acceptance_lines(evaluations: Sequence[Any], absent: Collection[str]) -> list[str]:
    """Rows accepted and quarantined per source, from the splits' acceptance checks (the sources
    the jurisdiction does not have are said to be absent already)."""
    lines = []
    for evaluation in evaluations:
        if not evaluation.check_name.endswith("_accepted_share"):
            continue
        source = evaluation.check_name.removesuffix("_accepted_share")
        if source in absent:
            continue
        values = {k: v.value for k, v in evaluation.metadata.items()}
        lines.append(
            f"{source}: {values['accepted_rows']:,} of {values['raw_rows']:,} rows accepted, "
            f"{values['quarantined_rows']:,} quarantined"
        )
    return sorted(lines)


def print_outputs(paths: DataPaths, elapsed: float) -> None:
    from crimemap.warehouse.publish import latest_release, read_manifest

    release = latest_release(paths.published)
    print(f"crimemap: run succeeded in {elapsed:.1f}s")
    print(f"  release:        {release}")
    if release is not None:
        layers = read_manifest(release)["layers"]
        rows = sum(layer["rows"] for layer in layers)
        print(f"  layers:         {len(layers)} published, {rows:,} rows")
    print(f"  latest pointer: {paths.published / 'LATEST'}")
    print(f"  warehouse:      {paths.warehouse}")
    print(f"  serving db:     {paths.serving}  (open read-only from BI tools)")
    if release is not None and (release / "map" / "index.html").is_file():
        print(f"  map:            {release / 'map' / 'index.html'}  (open it in a browser)")
    print(f"  quality report: {paths.quality / 'data_docs' / 'index.html'}")
    print(f"  quarantine:     {paths.quarantine}")


def command_ui(args: argparse.Namespace) -> int:
    paths = configure(args.data_dir, args.incidents, args.seed, args.config)
    from crimemap.config.runtime import current_config

    claim(paths, current_config())
    from dagster import DagsterInstance

    from crimemap.orchestration.runs import fail_dead_runs

    with DagsterInstance.get() as instance:
        for run_id in fail_dead_runs(instance):
            print(f"crimemap: run {run_id} had lost its process: marked failed", flush=True)
    serve_quality_report(paths, args.host, args.docs_port)
    dagster = Path(sys.executable).with_name("dagster")
    cmd = [
        str(dagster),
        "dev",
        "-w",
        str(write_workspace(paths)),
        "-h",
        args.host,
        "-p",
        str(args.port),
    ]
    return run_process_group(cmd)


def serve_quality_report(paths: DataPaths, host: str, port: int) -> None:
    """Serve the quality report where the checks' ``data_docs`` links point."""
    from crimemap.quality.report import serve_report

    try:
        serve_report(paths.quality / "data_docs", host, port)
    except OSError as exc:
        print(
            f"crimemap: the quality report is not served: port {port} ({exc.strerror}); "
            "choose another with --docs-port and set CRIMEMAP_DOCS_URL for the next run",
            file=sys.stderr,
        )
        return
    print(f"crimemap: quality report at http://{host}:{port}/", flush=True)


def write_workspace(paths: DataPaths) -> Path:
    """The UI's workspace: one code location, named ``crimemap``."""
    workspace = paths.dagster_home / "workspace.yaml"
    workspace.write_text(
        "load_from:\n"
        "  - python_module:\n"
        "      module_name: crimemap.orchestration.definitions\n"
        "      location_name: crimemap\n"
        f"      working_directory: {json.dumps(str(PROJECT_ROOT))}\n",
        encoding="utf-8",
    )
    return workspace


def run_process_group(cmd: Sequence[str]) -> int:
    """Run ``cmd`` in its own process group and pass SIGTERM and SIGINT on to the whole group,
    so stopping ``crimemap ui`` stops the webserver, the daemon and the code server too."""
    import signal

    process = subprocess.Popen(list(cmd), cwd=PROJECT_ROOT, start_new_session=True)

    def forward(signum: int, _frame: object) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signum)

    previous = {sig: signal.signal(sig, forward) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        return process.wait()
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


# dbt commands that read project vars: they get the jurisdiction's, as a run does.
DBT_COMMANDS_WITH_VARS = frozenset(
    {"build", "run", "test", "compile", "show", "seed", "ls", "list", "docs", "snapshot"}
)


def dbt_command(dbt_args: Sequence[str], jurisdiction_vars: Mapping[str, Any]) -> list[str]:
    """The dbt arguments with the project dirs, and the jurisdiction's vars unless given."""
    dirs = ["--project-dir", str(DBT_PROJECT_DIR), "--profiles-dir", str(DBT_PROJECT_DIR)]
    extra: list[str] = []
    if dbt_args[0] in DBT_COMMANDS_WITH_VARS and "--vars" not in dbt_args:
        extra = ["--vars", json.dumps(dict(jurisdiction_vars))]
    return [*dbt_args, *extra, *dirs]


def command_dbt(args: argparse.Namespace) -> int:
    from crimemap.config.runtime import current_config, dbt_vars
    from crimemap.warehouse.dbt_server import dbt_executable
    from crimemap.warehouse.memory import dbt_memory_limit

    paths = configure(args.data_dir, None, None, args.config)
    if not args.dbt_args:
        print("usage: crimemap dbt -- <dbt command> [options], e.g. crimemap dbt -- test")
        return 2
    dbt = dbt_executable()
    config = current_config()
    variables = dbt_vars(config)
    dbt_args = list(args.dbt_args)
    with dbt_memory_limit(paths.conformed / "police"):
        if dbt_args[0] not in ("build", "run"):
            command = [str(dbt), *dbt_command(dbt_args, variables)]
            return subprocess.call(command, cwd=DBT_PROJECT_DIR)
        return _dbt_build(paths, config, variables, dbt, dbt_args)


def _dbt_build(
    paths: DataPaths,
    config: JurisdictionConfig,
    variables: dict[str, Any],
    dbt: Path,
    dbt_args: list[str],
) -> int:
    """``crimemap dbt -- build|run``: incremental unless the incident tables' inputs changed."""
    from crimemap.warehouse import incremental

    record = incremental.record_path(paths)
    digest = incremental.incident_inputs_digest(paths, variables, DBT_PROJECT_DIR, config)
    if "--full-refresh" not in dbt_args and incremental.needs_full_refresh(record, digest):
        print(
            "crimemap: boundaries, crosswalks, settings or models changed since the last build: "
            "the incident tables are rebuilt whole (--full-refresh)"
        )
        dbt_args.append("--full-refresh")
    # Like a pipeline run, only a build of every model with the jurisdiction's vars records
    # what the incident tables were built from; anything else leaves the next one full.
    record.unlink(missing_ok=True)
    status = subprocess.call([str(dbt), *dbt_command(dbt_args, variables)], cwd=DBT_PROJECT_DIR)
    if status == 0 and not narrows_the_build(dbt_args):
        record.parent.mkdir(parents=True, exist_ok=True)
        record.write_text(digest + "\n", encoding="utf-8")
    return status


# dbt options after which a build may leave an incident table out or build it from other vars.
NARROWING_OPTIONS = ("-s", "--select", "-m", "--models", "--selector", "--exclude", "--vars")


def narrows_the_build(dbt_args: Sequence[str]) -> bool:
    return any(arg.split("=")[0] in NARROWING_OPTIONS for arg in dbt_args)


def command_new_salt(args: argparse.Namespace) -> int:
    """Start a new publication salt: every published id changes with the next release."""
    from crimemap.warehouse.salt import new_salt

    paths = configure(args.data_dir, None, None)
    path = new_salt(paths.root)
    print(f"crimemap: new publication salt in {path}; published ids change with the next release")
    return 0


def command_quality(args: argparse.Namespace) -> int:
    """Print the scorecard of the latest release; or accept a source's collapsed volume."""
    from crimemap.core.dates import parse_since
    from crimemap.quality.scorecard import RENDERERS, SCORECARD_LAYER, read_scorecard
    from crimemap.quality.volume import accept_latest, history_path
    from crimemap.warehouse.publish import latest_release

    paths = configure(args.data_dir, None, None)
    if args.accept_volume:
        path = history_path(paths.state, args.accept_volume)
        try:
            load = accept_latest(path, args.accept_volume)
        except ValueError as exc:
            raise SystemExit(f"crimemap: {exc}") from exc
        load_rows = sum(load.rows.values())
        print(f"crimemap: {args.accept_volume}: load {load.load_id} ({load_rows:,} rows) accepted")
        print("  it is the baseline of the next volume check; re-run `crimemap run` to go on")
        return 0
    release = latest_release(paths.published)
    if release is None:
        raise SystemExit(f"crimemap: no release under {paths.published} yet; run `crimemap run`")
    since = None
    if args.since:
        try:
            since = parse_since(args.since)
        except ValueError as exc:
            raise SystemExit(f"crimemap: {exc}") from None
    try:
        rows = read_scorecard(
            release / f"{SCORECARD_LAYER}.parquet", sources=args.source or (), since=since
        )
    except (FileNotFoundError, ValueError) as exc:
        raise SystemExit(f"crimemap: {exc}") from exc
    sys.stdout.write(RENDERERS[args.format](rows))
    if args.format == "table":
        print(f"\nrelease {release.name}; Data Docs: {paths.quality / 'data_docs' / 'index.html'}")
    return 0


def command_export(args: argparse.Namespace) -> int:
    """Write a filtered copy of the latest release, with its own manifest, to a new directory."""
    from crimemap.warehouse.export import (
        ExportError,
        export_release,
        parse_bbox,
        parse_layer_names,
        parse_since,
    )

    paths = configure(args.data_dir, None, None)
    try:
        result = export_release(
            paths.published,
            Path(args.to),
            layers=parse_layer_names(args.layers) if args.layers is not None else None,
            bbox=parse_bbox(args.bbox) if args.bbox is not None else None,
            since=parse_since(args.since) if args.since is not None else None,
            log=lambda message: print(f"crimemap: {message}", flush=True),
        )
    except (ExportError, OSError) as exc:
        raise SystemExit(f"crimemap: export failed: {exc}") from exc
    print(
        f"crimemap: exported {len(result.layers)} layer(s) of release {result.from_release}: "
        f"{result.rows:,} rows, {result.bytes:,} bytes"
    )
    print(f"  export:   {result.path}")
    print(f"  manifest: {result.path / 'manifest.json'}")
    return 0


def command_status(args: argparse.Namespace) -> int:
    """The last run, the current release, each source's freshness and the failing checks."""
    from dagster import DagsterEventType, DagsterInstance

    from crimemap.warehouse.publish import latest_release, read_manifest

    paths = configure(args.data_dir, None, None)
    print(f"crimemap: status of {paths.root}")
    with DagsterInstance.get() as instance:
        runs = instance.get_runs(limit=1)
        if not runs:
            print("  last run:        none yet (`crimemap run`)")
            evaluations: list[Any] = []
        else:
            run = runs[0]
            stats = instance.get_run_stats(run.run_id)
            when = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(stats.start_time or 0))
            took = (stats.end_time or time.time()) - (stats.start_time or time.time())
            print(f"  last run:        {run.status.value} {when} ({took:.0f} s), id {run.run_id}")
            evaluations = [
                record.get_dagster_event().event_specific_data
                for record in instance.all_logs(
                    run.run_id, of_type=DagsterEventType.ASSET_CHECK_EVALUATION
                )
            ]
    release = latest_release(paths.published)
    if release is None:
        print("  current release: none yet")
    else:
        manifest = read_manifest(release)
        print(f"  current release: {release.name}, {len(manifest['layers'])} layers, created "
              f"{manifest['created_at']}")  # fmt: skip
        if (release / "map" / "index.html").is_file():
            print(f"  map:             {release / 'map' / 'index.html'}")
        print("  sources (latest event, last load, rows in the warehouse):")
        for source in manifest["source_freshness"]:
            print(f"    {source['source']:<20} {source['latest'] or '-':<11} "
                  f"{(source['loaded_at'] or '-')[:16]:<17} {source['rows']:>12,}")  # fmt: skip
    failed = [e for e in evaluations if not e.passed]
    passed = len(evaluations) - len(failed)
    print(f"  checks (last run): {passed} passed, {len(failed)} not passed")
    for evaluation in failed:
        print(
            f"    {evaluation.severity.value} {evaluation.check_name} on "
            f"{evaluation.asset_key.to_user_string()}: {evaluation.description}"
        )
    return 0


def command_map(args: argparse.Namespace) -> int:
    """Draw the community map of a release (the latest by default) from its published layers."""
    from crimemap.warehouse.community_map import MAP_DIR, MAP_FILE, build_community_map
    from crimemap.warehouse.publish import RELEASES_DIR, latest_release

    paths = configure(args.data_dir, None, None)
    if args.release:
        release = paths.published / RELEASES_DIR / args.release
        if not (release / "manifest.json").is_file():
            raise SystemExit(f"crimemap: no release {args.release} in {release.parent}")
    else:
        found = latest_release(paths.published)
        if found is None:
            raise SystemExit(f"crimemap: nothing published yet in {paths.published}")
        release = found
    built = build_community_map(release, Path(args.to) if args.to else None)
    print(
        f"crimemap: map of release {release.name}: {built.areas} areas, {built.cells} grid "
        f"cells, {built.months} months, {built.bytes / 1e6:.1f} MB"
    )
    print(f"  map: {built.path}  (open it in a browser; it works offline)")
    if not args.to:
        print(f"  (in the release: {MAP_DIR}/{MAP_FILE})")
    return 0


def command_schema(args: argparse.Namespace) -> int:
    """Compare the layers' schemas, as the current code publishes them, with the committed
    contract (the last published schema); ``--write`` records them with the version semver asks
    for."""
    import tempfile

    from crimemap.config.runtime import current_config
    from crimemap.core.duckdb_spatial import connect
    from crimemap.orchestration.defs.publish.assets import privacy_rules, release_layers
    from crimemap.warehouse.layers import PUBLISHED_SCHEMA_PATH
    from crimemap.warehouse.publish import publish_release
    from crimemap.warehouse.schema_contract import (
        contract_json,
        load_contract,
        next_contract,
        schema_of_manifest,
    )

    paths = configure(args.data_dir, None, None, args.config)
    if not paths.warehouse.exists():
        raise SystemExit(f"crimemap: no warehouse at {paths.warehouse}; run `crimemap run` first")
    contract_path = Path(args.contract) if args.contract else PUBLISHED_SCHEMA_PATH
    version, contract = load_contract(contract_path)
    config = current_config()
    layers = release_layers(config, paths, privacy_rules(config))
    print("crimemap: writing the layers to a scratch release to read their schema...", flush=True)
    with tempfile.TemporaryDirectory(prefix="crimemap-schema-") as scratch:
        with connect(paths.warehouse, read_only=True) as con:
            release = publish_release(con, layers, Path(scratch), schema_version=version)
        current = schema_of_manifest(release.manifest)
    new_version, schemas, changes = next_contract(version, contract, current)
    if not changes:
        print(f"crimemap: the layers match the published schema {version}")
        return 0
    for change in changes:
        print(f"  {change}")
    print(f"crimemap: schema_version {version} -> {new_version}")
    if not args.write:
        print("  run `crimemap schema --write` to record it in the contract")
        return 1
    contract_path.write_text(contract_json(new_version, schemas), encoding="utf-8")
    print(f"crimemap: wrote {contract_path} ({new_version})")
    return 0


def command_lineage(args: argparse.Namespace) -> int:
    """Compare the recorded column lineage of the dbt models with their SQL; ``--write``
    derives it again from the last run's compiled SQL and warehouse."""
    from dagster_dbt import DagsterDbtTranslatorSettings
    from dagster_dbt.core.dbt_cli_event import (
        EventHistoryMetadata,
        _build_column_lineage_metadata,
    )

    from crimemap.config.runtime import current_config
    from crimemap.core.duckdb_spatial import connect
    from crimemap.orchestration.defs.transform.assets import CrimemapDbtTranslator
    from crimemap.warehouse import column_lineage as lineage

    recorded = lineage.load_lineage()
    stale = lineage.stale_models(recorded)
    if not args.write:
        if not stale:
            print(f"crimemap: the column lineage of {len(recorded)} models is current")
            return 0
        print(f"crimemap: column lineage is stale for: {', '.join(stale)}")
        print("  run `crimemap run`, then `crimemap lineage --write` to derive it again")
        return 1
    paths = configure(args.data_dir, None, None, args.config)
    target = paths.dbt_target
    if not paths.warehouse.exists() or not (target / "manifest.json").exists():
        raise SystemExit(f"crimemap: no built warehouse in {paths.root}; run `crimemap run` first")
    manifest = json.loads((target / "manifest.json").read_text(encoding="utf-8"))
    translator = CrimemapDbtTranslator(
        current_config(), DagsterDbtTranslatorSettings(enable_asset_checks=True)
    )
    lineage.quiet_sqlglot()
    print("crimemap: deriving column lineage from the compiled SQL (about 30 s)...", flush=True)
    with connect(paths.warehouse, read_only=True) as con:
        derived = lineage.derive_lineage(
            manifest, con, target, _build_column_lineage_metadata, EventHistoryMetadata, translator
        )
    lineage.LINEAGE_PATH.write_text(lineage.lineage_json(derived), encoding="utf-8")
    traced = sum(1 for entry in derived.values() if entry["columns"] is not None)
    print(f"crimemap: wrote {lineage.LINEAGE_PATH.name}: {traced} of {len(derived)} models traced")
    for name, entry in sorted(derived.items()):
        if entry["columns"] is None:
            print(f"  {name}: not traced ({entry['reason']})")
    return 0


CONFIG_ERROR_EXIT = 2  # a jurisdiction file that cannot be used (as argparse does for bad flags)
BUSY_EXIT = 75  # another run holds the data directory: try again later (sysexits EX_TEMPFAIL)
DEBUG_HELP = "show the traceback of a configuration error instead of its one-line message"


class VersionAction(argparse.Action):
    """``--version``: the package version and git commit, asked of git only when wanted."""

    def __call__(self, parser: argparse.ArgumentParser, *_args: Any, **_kwargs: Any) -> None:
        from crimemap.warehouse.code_version import code_version

        print(code_version())
        parser.exit()


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="crimemap", description=__doc__)
    parser.add_argument(
        "--version", action=VersionAction, nargs=0, help="print the code version and exit"
    )
    parser.add_argument("--debug", action="store_true", help=DEBUG_HELP)
    sub = parser.add_subparsers(dest="command", required=True)

    def common(p: argparse.ArgumentParser) -> None:
        # SUPPRESS: an unset sub-command flag must not undo `crimemap --debug run`.
        p.add_argument("--debug", action="store_true", default=argparse.SUPPRESS, help=DEBUG_HELP)
        p.add_argument(
            "--data-dir", help="runtime data directory (default: $CRIMEMAP_DATA_DIR or ./data)"
        )
        p.add_argument("--incidents", type=int, help="sample city: number of police incidents")
        p.add_argument("--seed", type=int, help="sample city: random seed")
        p.add_argument(
            "--config",
            help="jurisdiction YAML (default: $CRIMEMAP_CONFIG or the sample city, "
            "config/jurisdictions/sample_city.yml)",
        )

    run = sub.add_parser("run", help="materialize every asset in-process and publish a release")
    common(run)
    run.add_argument(
        "--months",
        help="police months to (re)load, e.g. 2025-03 or 2025-01:2025-06 (default: all); "
        "the marts are rebuilt from every month landed so far",
    )
    run.add_argument("--log-level", default="INFO", choices=["DEBUG", "INFO", "WARNING", "ERROR"])
    run.add_argument(
        "--verbose",
        action="store_true",
        help="stream the run's full log (Dagster events, dbt output) here instead of the stage "
        "lines; by default it goes to <data dir>/logs/run-<time>.log",
    )
    run.add_argument(
        "--timings",
        metavar="FILE",
        help="write each step's wall time, CPU time and peak memory to FILE (JSON lines): "
        "where a run's time goes",
    )
    run.add_argument(
        "--wait",
        type=float,
        default=0.0,
        metavar="SECONDS",
        help="when another run holds the data directory, wait this long for it (default: exit "
        f"at once with code {BUSY_EXIT})",
    )
    run.set_defaults(func=command_run)

    ui = sub.add_parser("ui", help="start the Dagster UI on the crimemap definitions")
    common(ui)
    ui.add_argument("--host", default="127.0.0.1")
    ui.add_argument("--port", type=int, default=3000)
    ui.add_argument(
        "--docs-port",
        type=int,
        default=DEFAULT_DOCS_PORT,
        help="serve the quality report (the checks' data_docs links) on this port "
        f"(default {DEFAULT_DOCS_PORT}; runs link to $CRIMEMAP_DOCS_URL when set)",
    )
    ui.set_defaults(func=command_ui)

    quality = sub.add_parser(
        "quality", help="print the data-quality scorecard of the latest release"
    )
    quality.add_argument("--data-dir")
    quality.add_argument("--source", action="append", help="only this source (repeatable)")
    quality.add_argument(
        "--since",
        metavar="YYYY-MM[-DD]",
        help="only months from this one on (undated rows are kept)",
    )
    quality.add_argument("--format", choices=["table", "csv", "json"], default="table")
    quality.add_argument(
        "--accept-volume",
        metavar="SOURCE",
        help="accept SOURCE's latest load after its volume check failed (the drop is real)",
    )
    quality.set_defaults(func=command_quality)

    salt = sub.add_parser(
        "new-salt",
        help="replace the data directory's publication salt (published ids change)",
    )
    salt.add_argument("--data-dir")
    salt.set_defaults(func=command_new_salt)

    dbt = sub.add_parser(
        "dbt", help="run dbt on the crimemap project, e.g. `crimemap dbt -- docs generate`"
    )
    dbt.add_argument("--data-dir")
    dbt.add_argument("--config", help="jurisdiction YAML whose settings dbt gets as --vars")
    dbt.add_argument("dbt_args", nargs=argparse.REMAINDER)
    dbt.set_defaults(func=command_dbt)

    export = sub.add_parser(
        "export",
        help="write a subset of the latest release (layers, bbox, start date) to a new directory",
        description="Copy layers of the latest release, optionally cut to a lon/lat box and a "
        "start date, to DIR with its own manifest.json (same layout and formats as a release). "
        "DIR must not exist or be empty.",
    )
    export.add_argument("--data-dir")
    export.add_argument("--layers", help="comma-separated layer names (default: all layers)")
    export.add_argument(
        "--bbox",
        metavar="XMIN,YMIN,XMAX,YMAX",
        help="keep rows of spatial layers whose geometry intersects this lon/lat box (rows "
        "without geometry are left out; tables are copied whole); write --bbox=-87.7,... "
        "when XMIN is negative",
    )
    export.add_argument(
        "--since",
        metavar="YYYY-MM[-DD]",
        help="keep rows of layers with a time column on or after this date (rows without a "
        "date are left out; layers without a time column are copied whole)",
    )
    export.add_argument("--to", required=True, metavar="DIR", help="new or empty directory")
    export.set_defaults(func=command_export)

    status = sub.add_parser(
        "status",
        help="the last run, the current release, each source's freshness, failing checks",
    )
    status.add_argument("--data-dir")
    status.set_defaults(func=command_status)

    map_ = sub.add_parser(
        "map",
        help="draw the community map (one offline HTML page) of a release",
        description="Build map/index.html of a release (default: the latest) from its published "
        "layers: one self-contained page that works offline, with no network request.",
    )
    map_.add_argument("--data-dir")
    map_.add_argument("--release", metavar="ID", help="release id (default: the latest)")
    map_.add_argument(
        "--to", metavar="FILE", help="write the page here (default: the release's map/index.html)"
    )
    map_.set_defaults(func=command_map)

    schema = sub.add_parser(
        "schema",
        help="compare the published layers' schema with the committed contract",
        description="Write the layers to a scratch release from the current warehouse, compare "
        "their schema with crimemap/warehouse/published_schema.json and print the changes and the "
        "schema_version semver asks for (exit 1 when they differ).",
    )
    schema.add_argument("--data-dir")
    schema.add_argument("--config", help="jurisdiction YAML (default: the sample city)")
    schema.add_argument(
        "--contract", help="contract file (default: crimemap/warehouse/published_schema.json)"
    )
    schema.add_argument(
        "--write", action="store_true", help="record the schema and its new version"
    )
    schema.set_defaults(func=command_schema)

    lineage = sub.add_parser(
        "lineage",
        help="check (or --write) the dbt models' recorded column lineage",
        description="Column lineage is derived from the compiled SQL once and recorded in "
        "dbt_project/column_lineage.json; runs attach it to each model whose SQL is unchanged.",
    )
    lineage.add_argument("--data-dir")
    lineage.add_argument("--config", help="jurisdiction YAML (default: the sample city)")
    lineage.add_argument(
        "--write", action="store_true", help="derive it from the last run and record it"
    )
    lineage.set_defaults(func=command_lineage)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if getattr(args, "dbt_args", None) and args.dbt_args[0] == "--":
        args.dbt_args = args.dbt_args[1:]
    try:
        return args.func(args)
    except ConfigError as exc:  # a jurisdiction file that cannot be used: one line, no trace
        if args.debug:
            raise
        print(f"crimemap: {exc}", file=sys.stderr)
        return CONFIG_ERROR_EXIT
    except SaltError as exc:
        if args.debug:
            raise
        print(f"crimemap: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
