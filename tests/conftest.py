"""Tests never touch the developer's ./data: every session gets its own data directory."""

from __future__ import annotations

import os
import tempfile

os.environ["CRIMEMAP_DATA_DIR"] = tempfile.mkdtemp(prefix="crimemap-test-data-")
os.environ.pop("DAGSTER_HOME", None)
