"""QGIS styles (``.qml``) for the main layers of a release, in the community map's colours.

Each release carries ``styles/<layer>.qml``; in QGIS, *Layer Properties > Symbology > Style >
Load Style* applies it to the layer opened from the release. Only layers whose classes do not
depend on the data get a style: the need index by percentile, the Gi* confidence bins, and the
facilities by type.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from xml.sax.saxutils import quoteattr

from crimemap.core.files import write_atomic
from crimemap.ingestion.facilities import FACILITY_TYPES
from crimemap.warehouse.community_map import load_palettes
from crimemap.warehouse.previews import rgb

STYLES_DIR = "styles"
QGIS_VERSION = "3.34"


@dataclass(frozen=True)
class StyleClass:
    label: str
    colour: str  # "#rrggbb"
    value: str | None = None  # a category's value
    lower: float | None = None  # a range's bounds
    upper: float | None = None


@dataclass(frozen=True)
class LayerStyle:
    layer: str
    attribute: str
    geometry: str  # "fill" (polygons) or "marker" (points)
    classes: tuple[StyleClass, ...]
    graduated: bool = False


def layer_styles() -> list[LayerStyle]:
    palettes = load_palettes()
    sequential, bins, labels = palettes["sequential"], palettes["bins"], palettes["bin_labels"]
    step = 100 / len(sequential)
    percentiles = tuple(
        StyleClass(
            f"{round(i * step)}-{round((i + 1) * step)}th percentile of need",
            colour,
            lower=round(i * step, 4),
            upper=round((i + 1) * step, 4),
        )
        for i, colour in enumerate(sequential)
    )
    confidence = tuple(
        StyleClass(labels[b], bins[b], value=b) for b in ("3", "2", "1", "0", "-1", "-2", "-3")
    )
    categorical = palettes["categorical"]
    facility_types = tuple(
        StyleClass(kind.replace("_", " "), categorical[i % len(categorical)], value=kind)
        for i, kind in enumerate(FACILITY_TYPES)
    )
    return [
        LayerStyle("priority_areas", "need_percentile", "fill", percentiles, graduated=True),
        LayerStyle("hotspots", "confidence_bin", "fill", confidence),
        LayerStyle("facilities", "facility_type", "marker", facility_types),
    ]


def symbol_xml(index: int, style: LayerStyle, colour: str) -> str:
    rgba = ",".join(str(channel) for channel in rgb(colour)) + ",255"
    if style.geometry == "fill":
        layer = (
            '<layer class="SimpleFill" enabled="1" locked="0" pass="0"><Option type="Map">'
            f'<Option name="color" type="QString" value="{rgba}"/>'
            '<Option name="outline_color" type="QString" value="255,255,255,255"/>'
            '<Option name="outline_width" type="QString" value="0.2"/>'
            '<Option name="style" type="QString" value="solid"/></Option></layer>'
        )
    else:
        layer = (
            '<layer class="SimpleMarker" enabled="1" locked="0" pass="0"><Option type="Map">'
            f'<Option name="color" type="QString" value="{rgba}"/>'
            '<Option name="name" type="QString" value="circle"/>'
            '<Option name="outline_color" type="QString" value="255,255,255,255"/>'
            '<Option name="size" type="QString" value="3"/></Option></layer>'
        )
    return (
        f'<symbol type="{style.geometry}" name="{index}" alpha="1" clip_to_extent="1" '
        f'force_rhr="0">{layer}</symbol>'
    )


def qml(style: LayerStyle) -> str:
    """The style as QGIS writes a .qml: a graduated or categorized renderer on one attribute."""
    if style.graduated:
        kind, items = "graduatedSymbol", "ranges"
        entries = [
            f'<range lower="{c.lower}" upper="{c.upper}" symbol="{i}" label={quoteattr(c.label)} '
            'render="true"/>'
            for i, c in enumerate(style.classes)
        ]
    else:
        kind, items = "categorizedSymbol", "categories"
        entries = [
            f'<category value={quoteattr(str(c.value))} symbol="{i}" '
            f'label={quoteattr(c.label)} render="true"/>'
            for i, c in enumerate(style.classes)
        ]
    symbols = [symbol_xml(i, style, c.colour) for i, c in enumerate(style.classes)]
    method = ' graduatedMethod="GraduatedColor"' if style.graduated else ""
    return (
        "<!DOCTYPE qgis PUBLIC 'http://mrcc.com/qgis.dtd' 'SYSTEM'>\n"
        f'<qgis version="{QGIS_VERSION}" styleCategories="Symbology">\n'
        f'<renderer-v2 type="{kind}" attr={quoteattr(style.attribute)}{method} '
        'symbollevels="0" enableorderby="0" forceraster="0">\n'
        f"<{items}>{''.join(entries)}</{items}>\n"
        f"<symbols>{''.join(symbols)}</symbols>\n"
        "</renderer-v2>\n</qgis>\n"
    )


def write_qgis_styles(release_dir: Path, layers: Sequence[str]) -> list[Path]:
    """``styles/<layer>.qml`` for each styled layer the release has."""
    written = []
    for style in layer_styles():
        if style.layer in layers:
            path = Path(release_dir) / STYLES_DIR / f"{style.layer}.qml"
            path.parent.mkdir(parents=True, exist_ok=True)
            write = functools.partial(Path.write_text, data=qml(style), encoding="utf-8")
            write_atomic(path, write)
            written.append(path)
    return written
