"""The quality report: Great Expectations validation results as static pages that work offline.

GX's own Data Docs pages load Bootstrap, jQuery and Vega from a dozen CDNs (unstyled and empty
without a network) and copy 4 MB of static files into every site. This report is rendered from
the same validation results (the JSON GX writes for each suite) with no script and no network:
one page per suite, one shared stylesheet, and an index with each suite's last result and date.
``crimemap ui`` serves the folder over http, so the links in the checks' metadata open from the
Dagster UI.
"""

from __future__ import annotations

import functools
import html
import http.server
import json
import os
import re
import shutil
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from crimemap.core.files import write_atomic

STYLESHEET = "report.css"
INDEX = "index.html"
# Where links in check metadata point: `crimemap ui` serves the report here (--docs-port).
DOCS_URL_ENV = "CRIMEMAP_DOCS_URL"
DEFAULT_DOCS_PORT = 3001
UNEXPECTED_SHOWN = 20

CSS = """\
body { font: 15px/1.45 system-ui, sans-serif; margin: 2em auto; max-width: 70em; color: #222; }
h1 { font-size: 1.5em; } h1 small { font-weight: normal; color: #555; font-size: 0.7em; }
table { border-collapse: collapse; width: 100%; margin-top: 1em; }
th, td { text-align: left; vertical-align: top; padding: 0.35em 0.6em;
  border-bottom: 1px solid #ddd; }
th { background: #f3f3f3; }
code { font-size: 0.9em; background: #f6f6f6; padding: 0 0.2em; overflow-wrap: anywhere; }
.pass { color: #1a6b1a; font-weight: 600; } .fail { color: #a40000; font-weight: 600; }
.warn { color: #8a5a00; font-weight: 600; }
tr.failed td { background: #fff3f3; }
.summary { color: #444; }
"""


@dataclass(frozen=True)
class SuiteSummary:
    suite: str
    success: bool
    evaluated: int
    failed: int
    blocking_failed: int
    validated_at: str


def summary_of(suite: str, result: Mapping[str, Any]) -> SuiteSummary:
    results = result.get("results", [])
    failed = [r for r in results if not r.get("success")]
    return SuiteSummary(
        suite=suite,
        success=bool(result.get("success")),
        evaluated=len(results),
        failed=len(failed),
        blocking_failed=sum(1 for r in failed if severity_of(r) == "ERROR"),
        validated_at=str((result.get("meta") or {}).get("validation_time", ""))[:19].replace(
            "T", " "
        ),
    )


def severity_of(expectation_result: Mapping[str, Any]) -> str:
    """GX's severity as crimemap's checks name it: critical stops what depends on the data."""
    config = expectation_result.get("expectation_config") or {}
    return "ERROR" if config.get("severity", "critical") == "critical" else "WARN"


def expectation_text(config: Mapping[str, Any]) -> str:
    """``expect_column_values_to_be_between`` on ``age``: "column values to be between"."""
    name = str(config.get("type", ""))
    return name.removeprefix("expect_").replace("_", " ")


def arguments_text(kwargs: Mapping[str, Any]) -> str:
    shown = {k: v for k, v in kwargs.items() if k not in ("batch_id", "result_format")}
    return ", ".join(f"{k}={json.dumps(v, default=str)}" for k, v in shown.items())


def observed_text(expectation_result: Mapping[str, Any]) -> str:
    result = expectation_result.get("result") or {}
    exception = expectation_result.get("exception_info") or {}
    if exception.get("raised_exception"):
        return f"error: {exception.get('exception_message')}"
    if "observed_value" in result:
        return json.dumps(result["observed_value"], default=str)
    if "unexpected_count" in result:
        count = result.get("unexpected_count") or 0
        share = result.get("unexpected_percent") or 0.0
        text = f"{count:,} unexpected of {result.get('element_count', 0):,} ({share:.2f}%)"
        examples = (result.get("partial_unexpected_list") or [])[:UNEXPECTED_SHOWN]
        if examples:
            text += "; e.g. " + ", ".join(json.dumps(e, default=str) for e in examples)
        return text
    return ""


def status_html(success: bool, severity: str) -> str:
    if success:
        return '<span class="pass">passed</span>'
    if severity == "ERROR":
        return '<span class="fail">failed</span>'
    return '<span class="warn">warned</span>'


def overall(summary: SuiteSummary) -> str:
    """A suite fails when a blocking expectation is not met; it only warns otherwise."""
    return "ERROR" if summary.blocking_failed else "WARN"


def suite_page(suite: str, result: Mapping[str, Any]) -> str:
    """One suite's last validation: every expectation, its arguments and what was observed."""
    summary = summary_of(suite, result)
    rows = []
    for expectation in sorted(result.get("results", []), key=lambda r: bool(r.get("success"))):
        config = expectation.get("expectation_config") or {}
        severity = severity_of(expectation)
        success = bool(expectation.get("success"))
        rows.append(
            f'<tr class="{"" if success else "failed"}">'
            f"<td>{status_html(success, severity)}</td><td>{severity}</td>"
            f"<td>{html.escape(expectation_text(config))}</td>"
            f"<td><code>{html.escape(arguments_text(config.get('kwargs') or {}))}</code></td>"
            f"<td>{html.escape(observed_text(expectation))}</td></tr>"
        )
    body = (
        f"<h1>{html.escape(suite)} <small>{status_html(summary.success, overall(summary))}"
        "</small></h1>"
        f'<p class="summary">Validated {html.escape(summary.validated_at)} UTC: '
        f"{summary.evaluated} expectations, {summary.failed} not met "
        f'({summary.blocking_failed} blocking). <a href="{INDEX}">All suites</a></p>'
        "<table><tr><th>result</th><th>severity</th><th>expectation</th><th>arguments</th>"
        f"<th>observed</th></tr>{''.join(rows)}</table>"
    )
    return page(f"{suite}: data quality", body)


def index_page(summaries: Sequence[SuiteSummary]) -> str:
    """Every suite's last result and date; failing suites first."""
    ordered = sorted(summaries, key=lambda s: (s.success, s.suite))
    rows = "".join(
        f'<tr class="{"" if s.success else "failed"}">'
        f"<td>{status_html(s.success, overall(s))}</td>"
        f'<td><a href="{html.escape(s.suite)}.html">{html.escape(s.suite)}</a></td>'
        f"<td>{s.evaluated}</td><td>{s.failed}</td><td>{html.escape(s.validated_at)}</td></tr>"
        for s in ordered
    )
    failing = sum(1 for s in summaries if not s.success)
    body = (
        "<h1>crimemap data quality</h1>"
        f'<p class="summary">{len(summaries)} suites, {failing} with expectations not met. '
        "Each suite's last validation (Great Expectations).</p>"
        "<table><tr><th>result</th><th>suite</th><th>expectations</th><th>not met</th>"
        f"<th>validated (UTC)</th></tr>{rows}</table>"
    )
    return page("crimemap data quality", body)


def page(title: str, body: str) -> str:
    return (
        '<!doctype html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>{html.escape(title)}</title>"
        f'<link rel="stylesheet" href="{STYLESHEET}"></head><body>{body}</body></html>\n'
    )


_SUITE_NAME = re.compile(r"^[A-Za-z0-9_]+$")


def write_suite_page(report_dir: Path, suite: str, result: Mapping[str, Any]) -> Path:
    """Write one suite's page (and the shared stylesheet); drop the suite's old GX site."""
    if not _SUITE_NAME.match(suite):
        raise ValueError(f"suite name {suite!r}: letters, digits and _ only")
    report_dir.mkdir(parents=True, exist_ok=True)
    stylesheet = report_dir / STYLESHEET
    if not stylesheet.exists() or stylesheet.read_text(encoding="utf-8") != CSS:
        write_text(stylesheet, CSS)
    old_site = report_dir / suite
    if (old_site / "static").is_dir():
        shutil.rmtree(old_site, ignore_errors=True)
    return write_text(report_dir / f"{suite}.html", suite_page(suite, result))


def write_index(report_dir: Path, results_dir: Path) -> Path:
    """The index of every suite whose validation result is in ``results_dir``."""
    summaries = [
        summary_of(path.stem, json.loads(path.read_text(encoding="utf-8")))
        for path in sorted(results_dir.glob("*.json"))
        if _SUITE_NAME.match(path.stem) and (report_dir / f"{path.stem}.html").exists()
    ]
    report_dir.mkdir(parents=True, exist_ok=True)
    return write_text(report_dir / INDEX, index_page(summaries))


def write_text(target: Path, text: str) -> Path:
    write_atomic(target, lambda tmp: tmp.write_text(text, encoding="utf-8"))
    return target


def docs_url(suite: str) -> str:
    """Where the Dagster UI links a suite's page: ``crimemap ui`` serves the report there."""
    base = os.environ.get(DOCS_URL_ENV) or f"http://127.0.0.1:{DEFAULT_DOCS_PORT}"
    return f"{base.rstrip('/')}/{suite}.html"


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


def serve_report(report_dir: Path, host: str, port: int) -> http.server.ThreadingHTTPServer:
    """Serve the report folder over http from a daemon thread (read-only: GET and HEAD)."""
    report_dir.mkdir(parents=True, exist_ok=True)
    handler = functools.partial(_QuietHandler, directory=str(report_dir))
    server = http.server.ThreadingHTTPServer((host, port), handler)
    threading.Thread(target=server.serve_forever, name="quality-report", daemon=True).start()
    return server
