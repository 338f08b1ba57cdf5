"""The community map of the shared run's release, opened from ``file://`` in headless Chromium
with the network cut: it draws every area and the month's hot spots, shows a legend, reading
notes and a table, says "suppressed" where the release has no count, logs no error and asks
for nothing over the network. The screenshots stay in the run's data directory."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest

from crimemap.warehouse.community_map import MAP_DIR, MAP_FILE
from tests.integration.conftest import PipelineRun
from tests.support.browser import distinct_colours, offline_page

pytestmark = pytest.mark.integration

READY = "document.documentElement.dataset.state === 'ready'"
SIZE_BUDGET_BYTES = 10_000_000


def query(sql: str) -> list[tuple]:
    with duckdb.connect() as con:
        return con.execute(sql).fetchall()


def layer(release: Path, name: str) -> str:
    return f"read_parquet('{release / name}.parquet')"


def rendered_ids(page, layer: str) -> set[str]:
    return set(
        page.evaluate(
            "layer => window.crimemap.map.queryRenderedFeatures({layers: [layer]})"
            ".map(f => f.properties.id)",
            layer,
        )
    )


def test_the_release_map_draws_offline_in_chromium(pipeline_run: PipelineRun) -> None:
    check_map(pipeline_run.release_dir, pipeline_run.data_dir / "screenshots")


def check_map(release: Path, shots: Path) -> None:
    page_path = release / MAP_DIR / MAP_FILE
    assert page_path.is_file()
    assert page_path.stat().st_size <= SIZE_BUDGET_BYTES
    shots.mkdir(exist_ok=True)
    areas, hotspots, rates = (layer(release, n) for n in ("areas", "hotspots", "area_month_rates"))
    area_ids = {row[0] for row in query(f"SELECT area_id FROM {areas}")}
    last_month, hot_cells = query(
        f"SELECT strftime(max(month), '%Y-%m'), count(*) FILTER (WHERE confidence_bin > 0 "
        f"AND month = (SELECT max(month) FROM {hotspots})) FROM {hotspots}"
    )[0]
    assert hot_cells > 0  # the sample city plants hot spots

    with offline_page(page_path.as_uri(), ready=READY) as (page, log):
        # Crime rates: every area drawn and coloured, a legend, a reading note.
        page.screenshot(path=shots / "map-rates.png")
        assert rendered_ids(page, "areas-fill") == area_ids
        assert page.locator("#legend .row").count() >= 7
        assert "per 1,000 residents" in page.locator("#reading").inner_text()
        assert "licence CC-BY-4.0" in page.locator("#credits").inner_text()  # the YAML's terms
        assert distinct_colours(shots / "map-rates.png") > 20

        # The table is the same data as text, suppressed counts said so.
        page.click("#table-toggle")
        table = page.locator("#table table")
        assert table.locator("tbody tr").count() == len(area_ids)
        (suppressed,) = query(
            f"SELECT count(*) FROM {rates} WHERE category = 'all' AND "
            f"strftime(month, '%Y-%m') = '{last_month}' AND count_suppressed"
        )[0]
        assert table.locator("td", has_text="suppressed").count() == 2 * suppressed
        page.click("#table-toggle")  # the table shares the window with the map: put it away

        # Hot spots of the last month: exactly the release's hot cells are coloured.
        page.evaluate("window.crimemap.show('hotspots')")
        page.wait_for_function(READY)
        page.screenshot(path=shots / "map-hotspots.png")
        coloured = page.evaluate(
            "() => window.crimemap.map.queryRenderedFeatures({layers: ['cells-fill']})"
            ".filter(f => f.state.colour && f.state.colour.startsWith('#')"
            " && ['#fddbc7', '#ef8a62', '#b2182b'].includes(f.state.colour))"
            ".map(f => f.properties.id)"
        )
        assert len(set(coloured)) == hot_cells

        page.evaluate("window.crimemap.show('priority')")
        page.wait_for_function(READY)
        page.screenshot(path=shots / "map-priority.png")
        assert "Need index" in page.locator("#legend").inner_text()

    assert log.errors == []
    assert log.requests == []
