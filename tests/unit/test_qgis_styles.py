"""QGIS styles: well-formed QML, on columns the published layers have, in the map's colours."""

from __future__ import annotations

import itertools
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from crimemap.warehouse.community_map import load_palettes
from crimemap.warehouse.layers import PUBLISHED_SCHEMA_PATH
from crimemap.warehouse.qgis_styles import layer_styles, qml, write_qgis_styles
from crimemap.warehouse.schema_contract import load_contract


def parsed(style) -> ET.Element:
    # QGIS writes a DOCTYPE line; ElementTree reads the document after it.
    return ET.fromstring(qml(style).split("\n", 1)[1])


@pytest.mark.parametrize("style", layer_styles(), ids=lambda s: s.layer)
def test_each_style_is_qml_on_a_published_column(style) -> None:
    _, contract = load_contract(PUBLISHED_SCHEMA_PATH)
    columns = dict(contract[style.layer].columns)
    renderer = parsed(style).find("renderer-v2")
    assert renderer is not None and renderer.get("attr") in columns
    symbols = renderer.findall("symbols/symbol")
    classes = renderer.findall("ranges/range") + renderer.findall("categories/category")
    assert len(symbols) == len(classes) == len(style.classes) > 1
    assert {c.get("symbol") for c in classes} == {s.get("name") for s in symbols}


def test_the_need_index_ranges_cover_every_percentile_in_the_maps_colours() -> None:
    (style,) = [s for s in layer_styles() if s.layer == "priority_areas"]
    ranges = parsed(style).findall("renderer-v2/ranges/range")
    bounds = [(float(r.get("lower")), float(r.get("upper"))) for r in ranges]
    assert bounds[0][0] == 0 and bounds[-1][1] == 100
    assert all(a[1] == b[0] for a, b in itertools.pairwise(bounds))
    colours = [c.colour for c in style.classes]
    assert colours == load_palettes()["sequential"]


def test_hotspot_bins_are_labelled_as_on_the_map(tmp_path: Path) -> None:
    (style,) = [s for s in layer_styles() if s.layer == "hotspots"]
    categories = parsed(style).findall("renderer-v2/categories/category")
    labels = load_palettes()["bin_labels"]
    assert {c.get("value"): c.get("label") for c in categories} == labels


def test_styles_are_written_for_the_layers_a_release_has(tmp_path: Path) -> None:
    written = write_qgis_styles(tmp_path, ["hotspots", "areas"])
    assert written == [tmp_path / "styles" / "hotspots.qml"]
    assert written[0].read_text().startswith("<!DOCTYPE qgis")
