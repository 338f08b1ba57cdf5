"""The ``publishing:`` block of a jurisdiction YAML: defaults, and errors that name the key."""

from __future__ import annotations

import pytest

from crimemap.config.publishing import PublishingSettings, publishing_settings
from crimemap.config.sources import ConfigError
from crimemap.warehouse.publish import build_manifest
from crimemap.warehouse.schema_contract import validate_manifest


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


def test_terms_are_the_given_ones_only() -> None:
    where = "city.yml: publishing"
    assert PublishingSettings().terms == {}
    settings = publishing_settings(
        {"licence": " CC-BY-4.0 ", "contact": "data@city.example"}, where
    )
    assert settings.terms == {"licence": "CC-BY-4.0", "contact": "data@city.example"}
    with pytest.raises(ConfigError, match=r"publishing\.attribution: a text"):
        publishing_settings({"attribution": ""}, where)


def test_owners_are_emails_or_teams() -> None:
    where = "city.yml: publishing"
    owners = ["team:data-engineering", "ann@city.example"]
    assert publishing_settings({"owners": owners}, where).owners == tuple(owners)
    for bad in (["data engineering"], ["team:"], "team:x", [5]):
        with pytest.raises(ConfigError, match=r"publishing\.owners"):
            publishing_settings({"owners": bad}, where)


def test_a_manifest_carries_the_terms() -> None:
    manifest = build_manifest(
        "20260101T000000Z-abcdef",
        [],
        schema_version="1.0.0",
        privacy_rules=["k"],
        code_version="crimemap 0.1.0",
        extra={
            "jurisdiction": "Town",
            "privacy": {},
            "source_freshness": [],
            "terms": {"licence": "CC-BY-4.0"},
        },
    )
    problems = validate_manifest(manifest)
    assert not [p for p in problems if "terms" in p]
    manifest["terms"] = {"licence": "CC-BY-4.0", "price": "free"}
    assert any("price" in p for p in validate_manifest(manifest))
