"""Config validation: every mistake named by its YAML path, all at once; exact round trip."""

from __future__ import annotations

import copy

import pytest
import yaml

from scoring.model.config import (
    ConfigError,
    config_from_dict,
    config_to_dict,
    dump_config,
    load_config,
    parse_config,
    save_config,
)

from .conftest import DEFAULT_CONFIG, SMALL_CONFIG


def _problems(data) -> list[str]:
    with pytest.raises(ConfigError) as info:
        config_from_dict(data, "bad.yaml")
    return info.value.problems


def test_default_config_loads_and_round_trips_exactly():
    config = load_config(DEFAULT_CONFIG)
    original = yaml.safe_load(DEFAULT_CONFIG.read_text())
    assert config_to_dict(config) == original
    text = dump_config(config)
    again = parse_config(text)
    assert again == config
    assert dump_config(again) == text


def test_small_config_round_trips_with_every_rule_kind():
    data = yaml.safe_load(SMALL_CONFIG)
    data["decay"] = {"kind": "linear", "lifespan_days": 60}
    data["engagement"].append({"column": "company_size", "points": 0.01, "name": "size units"})
    data["engagement"].append({"event": "webinar", "points": 3, "decay": {"kind": "window", "days": 14}})
    data["segments"] = [
        {"name": "big", "filter": {"column": "company_size", "min": 1000},
         "thresholds": {"mql": 20, "sql": 40}},
        {"name": "students", "filter": {"column": "seniority", "values": ["Student"]}, "fit": []},
    ]
    config = config_from_dict(data)
    assert config_to_dict(config) == data
    assert parse_config(dump_config(config)) == config


def test_unknown_keys_are_errors_with_their_path():
    data = yaml.safe_load(SMALL_CONFIG)
    data["engagement"][1]["pointz"] = 3
    data["tresholds"] = {"mql": 1}
    problems = _problems(data)
    assert "engagement[1].pointz: unknown key (check the spelling; unknown keys are not allowed)" in problems
    assert any(p.startswith("tresholds: unknown key") for p in problems)


def test_all_errors_reported_at_once_with_yaml_paths():
    data = yaml.safe_load(SMALL_CONFIG)
    data["engagement"][1]["points"] = "lots"
    data["engagement"][0]["decay"] = {"kind": "exponential", "half_life_days": -3}
    data["thresholds"] = {"mql": 50, "sql": 30}
    data["bands"] = [10, 30, 20]
    data["fit"][1]["bins"][2]["min"] = 500  # overlaps bin 1 (100..1000)
    data["fit"][0]["type"] = "category"
    data["decay"] = {"kind": "sometimes"}
    problems = _problems(data)
    paths = [p.split(":")[0] for p in problems]
    assert paths == [
        "decay.kind",
        "fit[0].type",
        "fit[1].bins",
        "engagement[0].decay.half_life_days",
        "engagement[1].points",
        "thresholds",
        "bands",
    ]
    assert "mql (50) must be below sql (30)" in problems[5]
    assert "strictly increasing" in problems[6]


def test_engagement_rule_needs_exactly_one_source():
    data = yaml.safe_load(SMALL_CONFIG)
    data["engagement"][0]["column"] = "company_size"
    data["engagement"][1].pop("event")
    problems = _problems(data)
    assert [p.split(":")[0] for p in problems] == ["engagement[0]", "engagement[1]"]
    assert all("exactly one of 'event'" in p for p in problems)


def test_duplicate_category_values_and_bad_identifiers():
    data = yaml.safe_load(SMALL_CONFIG)
    data["fit"][0]["points"] = {"VP": 10, " vp": 3}
    data["source"]["leads"] = {"table": "leads; DROP TABLE leads"}
    problems = _problems(data)
    assert any(p.startswith("fit[0].points:") and "same after ignoring case" in p for p in problems)
    assert any(p.startswith("source.leads.table:") and "not a usable table or column name" in p
               for p in problems)


def test_required_keys_and_bad_shapes():
    assert _problems({"bands": [1]}) == ["thresholds: required, but missing"]
    with pytest.raises(ConfigError) as info:
        parse_config("- just\n- a list\n", "list.yaml")
    assert info.value.problems == ["(top level): expected a mapping of keys to values"]


def test_yaml_syntax_error_names_line():
    with pytest.raises(ConfigError) as info:
        parse_config("thresholds: {mql: 1, sql: 2\nbands: [1]\n", "broken.yaml")
    assert str(info.value).startswith("broken.yaml:")
    assert info.value.problems[0].startswith("line ")


def test_missing_file(tmp_path):
    with pytest.raises(ConfigError) as info:
        load_config(tmp_path / "nope.yaml")
    assert info.value.problems == ["file not found"]


def test_save_never_overwrites_and_round_trips(tmp_path):
    config = parse_config(SMALL_CONFIG)
    path = save_config(config, tmp_path / "a.yaml")
    assert load_config(path) == config
    before = path.read_bytes()
    other = config_from_dict({**copy.deepcopy(config_to_dict(config)), "name": "other"})
    with pytest.raises(FileExistsError):
        save_config(other, path)
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["a.yaml"]  # no temp file left behind
