"""Semver of the published schema: change classification, version checks, the contract file."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from crimemap.warehouse.schema_contract import (
    LayerSchema,
    Partitioning,
    SchemaChange,
    bump,
    check_version,
    classify_changes,
    contract_json,
    load_contract,
    next_contract,
    parse_version,
    required_bump,
    schema_of_manifest,
)

HIVE = Partitioning("hive", ("year", "month"))
INCIDENTS = LayerSchema(
    (
        ("offense_id", "VARCHAR"),
        ("occurred_date", "DATE"),
        ("geometry", "GEOMETRY('OGC:CRS84')"),
        ("year", "INTEGER"),
        ("month", "INTEGER"),
    ),
    spatial=True,
    partitioning=HIVE,
)
RATES = LayerSchema((("area_id", "VARCHAR"), ("incident_count", "BIGINT")))
BASE = {"incidents": INCIDENTS, "area_rates": RATES}


def with_layer(name: str, **changes: object) -> dict[str, LayerSchema]:
    layer = BASE[name]
    fields = {
        "columns": layer.columns,
        "spatial": layer.spatial,
        "partitioning": layer.partitioning,
    }
    return BASE | {name: LayerSchema(**(fields | changes))}


def without_column(name: str, column: str) -> dict[str, LayerSchema]:
    return with_layer(name, columns=[c for c in BASE[name].columns if c[0] != column])


# --------------------------------------------------------------------------- classify_changes


def test_identical_schemas_have_no_changes() -> None:
    assert classify_changes(BASE, dict(BASE)) == []
    assert required_bump([]) is None


def test_column_order_is_not_a_change() -> None:
    assert classify_changes(BASE, with_layer("area_rates", columns=RATES.columns[::-1])) == []


def test_removed_column_is_major() -> None:
    changes = classify_changes(BASE, without_column("incidents", "occurred_date"))
    assert changes == [SchemaChange("major", "incidents", "occurred_date", "column removed")]
    assert required_bump(changes) == "major"
    assert str(changes[0]) == "incidents.occurred_date: column removed (breaking)"


@pytest.mark.parametrize(
    ("old_type", "new_type"),
    [("BIGINT", "DOUBLE"), ("INTEGER", "BIGINT"), ("BIGINT", "VARCHAR")],
)
def test_any_type_change_is_major_even_widening(old_type: str, new_type: str) -> None:
    old = with_layer("area_rates", columns=[("area_id", "VARCHAR"), ("incident_count", old_type)])
    new = with_layer("area_rates", columns=[("area_id", "VARCHAR"), ("incident_count", new_type)])
    assert classify_changes(old, new) == [
        SchemaChange(
            "major", "area_rates", "incident_count", f"type changed from {old_type} to {new_type}"
        )
    ]


def test_crs_change_shows_as_a_geometry_type_change() -> None:
    columns = [(n, "GEOMETRY('EPSG:4326')" if n == "geometry" else t) for n, t in INCIDENTS.columns]
    [change] = classify_changes(BASE, with_layer("incidents", columns=columns))
    assert (change.kind, change.column) == ("major", "geometry")


def test_removed_layer_is_major_and_added_layer_minor() -> None:
    removed = classify_changes(BASE, {"incidents": INCIDENTS})
    assert removed == [SchemaChange("major", "area_rates", None, "layer removed")]
    assert str(removed[0]) == "area_rates: layer removed (breaking)"
    added = classify_changes(BASE, BASE | {"hotspots": RATES})
    assert added == [SchemaChange("minor", "hotspots", None, "layer added")]
    assert required_bump(added) == "minor"


def test_added_column_is_minor() -> None:
    new = with_layer("area_rates", columns=[*RATES.columns, ("rate_per_1000", "DOUBLE")])
    assert classify_changes(BASE, new) == [
        SchemaChange("minor", "area_rates", "rate_per_1000", "column added as DOUBLE")
    ]


def test_layer_becoming_non_spatial_is_major_and_spatial_minor() -> None:
    table = with_layer("incidents", spatial=False)
    assert classify_changes(BASE, table) == [
        SchemaChange("major", "incidents", None, "layer is no longer spatial")
    ]
    assert classify_changes(table, BASE) == [
        SchemaChange("minor", "incidents", None, "layer became spatial")
    ]


@pytest.mark.parametrize(
    ("old", "new", "what"),
    [
        (HIVE, None, "partitioning changed from hive (year, month) to none"),
        (None, HIVE, "partitioning changed from none to hive (year, month)"),
        (HIVE, Partitioning("hive", ("year",)), "from hive (year, month) to hive (year)"),
    ],
)
def test_partitioning_change_is_major(
    old: Partitioning | None, new: Partitioning | None, what: str
) -> None:
    [change] = classify_changes(
        with_layer("incidents", partitioning=old), with_layer("incidents", partitioning=new)
    )
    assert (change.kind, change.layer, change.column) == ("major", "incidents", None)
    assert what in change.what


def test_mixed_changes_need_major_and_are_listed_by_layer() -> None:
    new = without_column("incidents", "occurred_date") | {"hotspots": RATES}
    changes = classify_changes(BASE, new)
    assert [(c.layer, c.kind) for c in changes] == [
        ("hotspots", "minor"),
        ("incidents", "major"),
    ]
    assert required_bump(changes) == "major"


def test_duplicate_columns_are_rejected() -> None:
    with pytest.raises(ValueError, match=r"duplicate column names \['a'\]"):
        LayerSchema((("a", "INTEGER"), ("a", "VARCHAR")))


# --------------------------------------------------------------------------- versions


def test_parse_and_bump() -> None:
    assert parse_version("1.2.3") == (1, 2, 3)
    assert str(parse_version("10.0.22")) == "10.0.22"
    assert bump("1.4.2", "major") == "2.0.0"
    assert bump("1.4.2", "minor") == "1.5.0"
    assert bump("1.4.2", "patch") == "1.4.3"
    with pytest.raises(ValueError, match="'huge'"):
        bump("1.4.2", "huge")  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "text", ["1.0", "1.0.0.0", "v1.0.0", "1.0.0-rc.1", "01.0.0", "1.02.0", "", " 1.0.0", "1.a.0"]
)
def test_parse_version_rejects_and_names_the_text(text: str) -> None:
    with pytest.raises(ValueError, match=r"MAJOR\.MINOR\.PATCH") as info:
        parse_version(text)
    assert repr(text) in str(info.value)


def test_check_version_accepts_the_semver_steps() -> None:
    breaking = without_column("incidents", "occurred_date")
    additive = BASE | {"hotspots": RATES}
    assert check_version("1.4.0", BASE, "2.0.0", breaking) == []
    assert check_version("1.4.2", BASE, "1.5.0", additive) == []
    assert check_version("1.4.2", BASE, "2.0.0", additive) == []
    assert check_version("1.4.2", BASE, "1.4.2", BASE) == []
    assert check_version("1.4.2", BASE, "1.4.3", BASE) == []
    # A bigger step than the schema needs: a change of meaning the schema cannot show.
    assert check_version("1.4.2", BASE, "2.0.0", BASE) == []


def test_breaking_change_without_major_bump_names_layer_and_column() -> None:
    new = without_column("incidents", "occurred_date")
    assert check_version("1.4.0", BASE, "1.5.0", new) == [
        "incidents.occurred_date: column removed (breaking) but schema_version 1.4.0 -> 1.5.0"
        " keeps the major version; a breaking change needs 2.0.0"
    ]
    assert check_version("1.4.0", BASE, "1.4.0", new) == [
        "incidents.occurred_date: column removed (breaking) but schema_version stays 1.4.0;"
        " a breaking change needs 2.0.0"
    ]


@pytest.mark.parametrize(
    ("new", "where"),
    [
        (lambda: {"incidents": INCIDENTS}, "area_rates: layer removed"),
        (lambda: with_layer("incidents", spatial=False), "incidents: layer is no longer spatial"),
        (lambda: with_layer("incidents", partitioning=None), "incidents: partitioning changed"),
        (
            lambda: with_layer("area_rates", columns=[("area_id", "INTEGER"), RATES.columns[1]]),
            "area_rates.area_id: type changed from VARCHAR to INTEGER",
        ),
    ],
)
def test_each_breaking_rule_needs_major(new, where: str) -> None:
    [problem] = check_version("0.3.1", BASE, "0.3.2", new())
    assert problem.startswith(where)
    assert "(breaking)" in problem and "needs 1.0.0" in problem


def test_additive_change_with_patch_or_same_version_is_a_problem() -> None:
    new = with_layer("area_rates", columns=[*RATES.columns, ("rate", "DOUBLE")])
    assert check_version("1.4.2", BASE, "1.4.3", new) == [
        "area_rates.rate: column added as DOUBLE (additive) but schema_version 1.4.2 -> 1.4.3"
        " keeps the minor version; an additive change needs 1.5.0 (or 2.0.0)"
    ]
    [problem] = check_version("1.4.2", BASE, "1.4.2", BASE | {"hotspots": RATES})
    assert problem.startswith("hotspots: layer added (additive) but schema_version stays 1.4.2")


def test_breaking_and_additive_with_a_minor_bump_reports_only_the_breaking_one() -> None:
    new = without_column("incidents", "occurred_date") | {"hotspots": RATES}
    problems = check_version("1.4.0", BASE, "1.5.0", new)
    assert len(problems) == 1 and problems[0].startswith("incidents.occurred_date")


def test_version_going_backwards_is_always_a_problem() -> None:
    assert check_version("1.4.0", BASE, "1.3.9", BASE) == [
        "schema_version 1.4.0 -> 1.3.9 goes backwards"
    ]
    assert check_version("2.0.0", BASE, "1.9.0", without_column("incidents", "year")) == [
        "schema_version 2.0.0 -> 1.9.0 goes backwards"
    ]


@pytest.mark.parametrize("new_version", ["1.6.0", "3.0.0", "1.4.2", "2.1.0", "1.5.1"])
def test_skipping_versions_is_a_problem(new_version: str) -> None:
    [problem] = check_version("1.4.0", BASE, new_version, without_column("incidents", "year"))
    assert problem == (
        f"schema_version 1.4.0 -> {new_version} skips versions;"
        " the next is one of 1.4.1, 1.5.0, 2.0.0"
    )


def test_check_version_reports_unparseable_versions() -> None:
    [problem] = check_version("1.0", BASE, "1.0.0", BASE)
    assert "'1.0'" in problem and "MAJOR.MINOR.PATCH" in problem


# --------------------------------------------------------------------------- manifests, contract


def manifest_layer(name: str, schema: LayerSchema) -> dict[str, object]:
    partitioning = schema.partitioning
    return {
        "name": name,
        "spatial": schema.spatial,
        "partitioning": None
        if partitioning is None
        else {"flavor": partitioning.flavor, "columns": list(partitioning.columns)},
        "columns": [{"name": n, "type": t, "description": "x"} for n, t in schema.columns],
    }


def test_schema_of_manifest() -> None:
    manifest = {"layers": [manifest_layer(n, s) for n, s in BASE.items()]}
    assert schema_of_manifest(manifest) == BASE


def test_schema_of_manifest_without_partitioning_key_is_unpartitioned() -> None:
    layer = manifest_layer("area_rates", RATES)
    del layer["partitioning"]
    assert schema_of_manifest({"layers": [layer]}) == {"area_rates": RATES}


def test_schema_of_manifest_names_the_bad_field() -> None:
    layer = manifest_layer("area_rates", RATES)
    layer["columns"][1] = {"name": "incident_count"}
    with pytest.raises(ValueError) as info:
        schema_of_manifest({"layers": [layer]})
    assert str(info.value) == (
        "manifest.layers[0] (area_rates).columns[1]: expected an object with name and type"
    )
    layer["columns"][1] = {"name": "area_id", "type": "BIGINT"}
    with pytest.raises(ValueError, match=r"\(area_rates\)\.columns: duplicate column names"):
        schema_of_manifest({"layers": [layer]})
    twice = {"layers": [manifest_layer("a", RATES), manifest_layer("a", RATES)]}
    with pytest.raises(ValueError, match=r"layers\[1\]\.name: duplicate layer 'a'"):
        schema_of_manifest(twice)


def test_contract_round_trip(tmp_path: Path) -> None:
    text = contract_json("1.2.0", BASE)
    assert text.endswith("}\n")
    document = json.loads(text)
    assert list(document["layers"]) == ["area_rates", "incidents"]  # sorted
    assert [c["name"] for c in document["layers"]["incidents"]["columns"]] == [
        "offense_id",
        "occurred_date",
        "geometry",
        "year",
        "month",
    ]
    assert document["layers"]["incidents"]["partitioning"] == {
        "flavor": "hive",
        "columns": ["year", "month"],
    }
    path = tmp_path / "published_schema.json"
    path.write_text(text, encoding="utf-8")
    assert load_contract(path) == ("1.2.0", BASE)
    # Stable: the same schemas in another order give the same bytes.
    assert contract_json("1.2.0", dict(reversed(BASE.items()))) == text


def test_contract_json_puts_one_column_per_line(tmp_path: Path) -> None:
    text = contract_json("1.0.0", BASE)
    assert '        {"name": "occurred_date", "type": "DATE"},\n' in text
    assert '      "partitioning": {"flavor": "hive", "columns": ["year", "month"]},\n' in text
    # A table with no columns and an empty contract still round-trip.
    empty = {"t": LayerSchema(())}
    for schemas in (empty, {}):
        path = tmp_path / "contract.json"
        path.write_text(contract_json("0.1.0", schemas), encoding="utf-8")
        assert load_contract(path) == ("0.1.0", schemas)


def test_contract_json_rejects_a_bad_version() -> None:
    with pytest.raises(ValueError, match=r"'1\.2'"):
        contract_json("1.2", BASE)


@pytest.mark.parametrize(
    ("document", "message"),
    [
        ({"schema_version": "1.0", "layers": {}}, "schema_version: .*'1.0'"),
        ({"schema_version": "1.0.0"}, "exactly schema_version and layers"),
        (
            {"schema_version": "1.0.0", "layers": {"a": [{"name": "x", "type": "INTEGER"}]}},
            "layers.a: expected an object with spatial, partitioning, columns",
        ),
        (
            {
                "schema_version": "1.0.0",
                "layers": {"a": {"spatial": "yes", "partitioning": None, "columns": []}},
            },
            "layers.a.spatial: expected true or false",
        ),
    ],
)
def test_load_contract_names_file_and_field(tmp_path: Path, document: dict, message: str) -> None:
    path = tmp_path / "published_schema.json"
    path.write_text(json.dumps(document), encoding="utf-8")
    with pytest.raises(ValueError, match=message) as info:
        load_contract(path)
    assert str(path) in str(info.value)


def test_next_contract_bumps_to_the_lowest_allowed_version() -> None:
    assert next_contract("1.4.2", BASE, BASE) == ("1.4.2", BASE, [])
    version, schemas, changes = next_contract("1.4.2", BASE, BASE | {"hotspots": RATES})
    assert (version, schemas["hotspots"], [c.kind for c in changes]) == ("1.5.0", RATES, ["minor"])
    version, schemas, changes = next_contract(
        "1.4.2", BASE, without_column("incidents", "occurred_date")
    )
    assert version == "2.0.0" and "occurred_date" not in schemas["incidents"].types()
    # What next_contract proposes always satisfies check_version.
    assert check_version("1.4.2", BASE, version, schemas) == []
