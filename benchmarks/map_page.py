"""Benchmark: the community map of the latest release, its size and how long it takes to show.

Builds ``map/index.html`` from the release's published layers (timed), then opens it from
``file://`` in headless Chromium with the network cut, ``--repeat`` times, and times each load
until the first view has drawn. Run ``make run`` first. Usage:

    python -m benchmarks.map_page [--data-dir data] [--repeat 3]
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

from crimemap.warehouse.community_map import build_community_map
from crimemap.warehouse.publish import latest_release
from tests.support.browser import offline_page

READY = "document.documentElement.dataset.state === 'ready'"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", default="data")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    release = latest_release(Path(args.data_dir) / "published")
    if release is None:
        raise SystemExit(f"nothing published in {args.data_dir}: run `make run` first")
    started = time.perf_counter()
    built = build_community_map(release)
    build_s = time.perf_counter() - started
    loads = []
    for _ in range(args.repeat):
        with offline_page(built.path.resolve().as_uri(), ready=READY) as (_page, log):
            if log.errors or log.requests:
                raise SystemExit(f"the page failed: {log.errors} {log.requests}")
            assert log.seconds_to_ready is not None
            loads.append(log.seconds_to_ready)
    print(f"release:        {release.name}")
    print(f"page:           {built.path}")
    print(f"size:           {built.bytes / 1e6:.2f} MB ({built.areas} areas, {built.cells} cells, "
          f"{built.months} months)")  # fmt: skip
    print(f"build:          {build_s:.2f} s")
    print(
        f"load to drawn:  median {statistics.median(loads):.2f} s over {len(loads)} loads "
        f"(min {min(loads):.2f}, max {max(loads):.2f}), headless Chromium, software WebGL"
    )


if __name__ == "__main__":
    main()
