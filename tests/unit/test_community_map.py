"""The community map page: everything inlined, nothing fetched, and data that cannot escape its
script element. (Drawn in a real browser: tests/integration/test_community_map.py.)"""

from __future__ import annotations

import hashlib
import json
import re

from crimemap.warehouse.community_map import ASSETS, DATA_MARKER, INLINED, render_page, script_json

HOSTILE = "</script><script>alert(1)</script><!-- & \u2028"


def page_for(title: str) -> str:
    return render_page({"title": title, "note": HOSTILE, "numbers": [1.5, None]})


def test_data_cannot_close_its_script_element() -> None:
    text = script_json({"name": HOSTILE})
    assert not set("<>&\u2028") & set(text)
    assert json.loads(text) == {"name": HOSTILE}


def test_the_page_inlines_the_library_its_script_style_and_data() -> None:
    page = page_for("Smallville")
    for marker, name in INLINED:
        assert marker not in page
        assert (ASSETS / name).is_file()
    assert DATA_MARKER not in page
    (data,) = re.findall(
        r'<script id="crimemap-data" type="application/json">(.*?)</script>', page, re.S
    )
    assert json.loads(data)["note"] == HOSTILE
    assert "maplibregl" in page and "window.crimemap" in page


def test_the_page_asks_for_nothing_over_the_network() -> None:
    # The page's own template, script and style name no address at all (the library's links,
    # e.g. its logo's, are never followed: the browser test logs every request).
    for name in ("index.html", "map.js", "map.css"):
        own = (ASSETS / name).read_text(encoding="utf-8")
        assert not re.search(r"https?:|//[a-z]|\burl\(|\bsrc=", own), name
    assert "default-src 'none'" in page_for("Smallville")  # the page's policy forbids fetches


def test_the_title_is_text_not_markup() -> None:
    page = page_for("<b>Town</b> & Co")
    assert "<title>&lt;b&gt;Town&lt;/b&gt; &amp; Co: crime and services map</title>" in page


def test_the_vendored_library_is_the_release_its_readme_names() -> None:
    readme = (ASSETS / "README.md").read_text(encoding="utf-8")
    for name in ("maplibre-gl.js", "maplibre-gl.css"):
        (recorded,) = re.findall(rf"\| {re.escape(name)} \| ([0-9a-f]{{64}}) \|", readme)
        assert hashlib.sha256((ASSETS / name).read_bytes()).hexdigest() == recorded, name
    assert "5.24.1" in (ASSETS / "maplibre-gl.js").read_text(encoding="utf-8")[:300]
    assert (ASSETS / "maplibre-gl.LICENSE.txt").read_text(encoding="utf-8").startswith("Copyright")
