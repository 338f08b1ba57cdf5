"""The offline quality report, rendered from real Great Expectations validation results."""

from __future__ import annotations

import json
import socket
import urllib.request
from pathlib import Path

import pandas as pd

from crimemap.quality import suites as S
from crimemap.quality.report import (
    docs_url,
    serve_report,
    summary_of,
    write_index,
)


def validated(tmp_path: Path, name: str, ages: list[object]) -> Path:
    """Run a real GX suite over ``ages`` and write its page; the validation result's path."""
    spec = S.SuiteSpec(
        name=name,
        expectations=(
            S.ExpectationSpec("ExpectColumnValuesToNotBeNull", {"column": "age"}, "ERROR"),
            S.ExpectationSpec(
                "ExpectColumnValuesToBeBetween",
                {"column": "age", "min_value": 0, "max_value": 120},
                "WARN",
            ),
        ),
    )
    outcome = S.run_suite(
        spec,
        pd.DataFrame({"age": ages}),
        results_dir=tmp_path / "validations",
        data_docs_dir=tmp_path / "docs",
    )
    assert outcome.validation_path is not None
    return outcome.validation_path


def test_a_suite_page_shows_each_expectation_and_what_was_observed(tmp_path: Path) -> None:
    validated(tmp_path, "people_raw", [30, 200, 250, 40])
    page = (tmp_path / "docs" / "people_raw.html").read_text()
    assert "column values to be between" in page and "column values to not be null" in page
    assert "2 unexpected of 4 (50.00%); e.g. 200, 250" in page
    assert '<span class="warn">warned</span>' in page  # only the WARN expectation failed
    assert "://" not in page and '<link rel="stylesheet" href="report.css">' in page


def test_the_index_lists_every_suite_failing_first_with_its_date(tmp_path: Path) -> None:
    validated(tmp_path, "a_good", [1, 2])
    result = validated(tmp_path, "z_bad", [None, 2])
    index = write_index(tmp_path / "docs", tmp_path / "validations").read_text()
    assert index.index("z_bad.html") < index.index("a_good.html")
    summary = summary_of("z_bad", json.loads(result.read_text()))
    assert (summary.success, summary.failed, summary.blocking_failed) == (False, 1, 1)
    assert summary.validated_at in index and len(summary.validated_at) == 19


def test_an_old_gx_site_of_the_suite_is_replaced(tmp_path: Path) -> None:
    old = tmp_path / "docs" / "people_raw" / "static"
    old.mkdir(parents=True)
    (old / "bootstrap.css").write_text("x")
    validated(tmp_path, "people_raw", [1])
    assert not (tmp_path / "docs" / "people_raw").exists()


def test_the_report_is_served_over_http_where_the_links_point(tmp_path: Path, monkeypatch) -> None:
    validated(tmp_path, "people_raw", [1])
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    monkeypatch.setenv("CRIMEMAP_DOCS_URL", f"http://127.0.0.1:{port}/")
    server = serve_report(tmp_path / "docs", "127.0.0.1", port)
    try:
        with urllib.request.urlopen(docs_url("people_raw"), timeout=10) as response:
            assert response.status == 200
            assert "people_raw" in response.read().decode()
    finally:
        server.shutdown()
        server.server_close()
