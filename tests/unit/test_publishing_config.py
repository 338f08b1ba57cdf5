"""The ``publishing:`` block of a jurisdiction YAML: defaults, and errors that name the key."""

from __future__ import annotations

import pytest

from crimemap.config.publishing import PublishingSettings, publishing_settings
from crimemap.config.sources import ConfigError


def test_defaults_when_absent() -> None:
    assert publishing_settings(None, "city.yml: publishing") == PublishingSettings()


def test_every_key_is_read() -> None:
    settings = publishing_settings(
        {
            "keep_releases": 2,
            "privacy": {
                "min_cell_count": 10,
                "point_generalization": "hundred_block",
                "point_cell_m": 500,
            },
        },
        "city.yml: publishing",
    )
    assert settings == PublishingSettings(2, 10, "hundred_block", 500.0)


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        ({"keep_releases": 0}, "publishing.keep_releases: expected a whole number of at least 1"),
        ({"privacy": {"min_cell_count": 1}}, "publishing.privacy.min_cell_count"),
        ({"privacy": {"point_generalization": "exact"}}, "publishing.privacy.point_generalization"),
        ({"privacy": {"point_cell_m": -5}}, "publishing.privacy.point_cell_m"),
        ({"privacy": {"k": 5}}, "publishing.privacy: unknown keys ['k']"),
        ({"keep": 5}, "publishing: unknown keys ['keep']"),
    ],
)
def test_errors_name_the_key(entry: dict, message: str) -> None:
    with pytest.raises(ConfigError, match=message.replace("[", r"\[").replace("]", r"\]")):
        publishing_settings(entry, "city.yml: publishing")
