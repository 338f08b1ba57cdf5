"""A jurisdiction file that cannot be used: one line naming the file and what is wrong, exit 2;
``--debug`` shows the traceback instead."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration

CONFIG_ERROR_EXIT = 2


def crimemap(*args: str, data_dir: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "crimemap.orchestration.cli", *args, "--data-dir", str(data_dir)],
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param(None, "crimemap: jurisdiction config not found: {path}", id="missing-file"),
        pytest.param(
            "name: !!python/object:os.system x\n",
            "crimemap: city.yml: not valid YAML at line 1, column 7: could not determine a "
            "constructor for the tag 'tag:yaml.org,2002:python/object:os.system'",
            id="yaml-tag",
        ),
        pytest.param(
            "name: [unclosed\n",
            "crimemap: city.yml: not valid YAML at line 2, column 1: expected ',' or ']', but "
            "got '<stream end>'",
            id="yaml-syntax",
        ),
        pytest.param(
            "name: Springfield\ntimezone: Mars/Olympus\nprojected_crs: EPSG:26916\n"
            "police: [{name: spd, layout: seattle_spd, mode: sample}]\n"
            "boundaries: {mode: sample}\n",
            "crimemap: city.yml: timezone 'Mars/Olympus' is not an IANA zone",
            id="bad-value",
        ),
    ],
)
def test_a_config_error_is_one_line_and_exit_2(
    tmp_path: Path, text: str | None, expected: str
) -> None:
    path = tmp_path / "city.yml"
    if text is not None:
        path.write_text(text)

    completed = crimemap("run", "--config", str(path), data_dir=tmp_path / "data")

    assert completed.returncode == CONFIG_ERROR_EXIT
    errors = completed.stderr.strip().splitlines()
    assert errors == [expected.format(path=path)]
    assert "Traceback" not in completed.stdout + completed.stderr


def test_debug_shows_the_traceback(tmp_path: Path) -> None:
    path = tmp_path / "city.yml"
    path.write_text("name: [unclosed\n")

    completed = crimemap("run", "--debug", "--config", str(path), data_dir=tmp_path / "data")

    assert completed.returncode == 1
    assert "Traceback (most recent call last)" in completed.stderr
    assert completed.stderr.rstrip().endswith(
        "ConfigError: city.yml: not valid YAML at line 2, column 1: expected ',' or ']', but "
        "got '<stream end>'"
    )
