"""A config means exactly what was typed: duplicate keys, YAML 1.1 surprises, non-finite
numbers and names that are not what they look like are refused with their path."""

from __future__ import annotations

import pytest

from scoring.base.yamlsafe import MAX_DEPTH, YamlError, load_yaml
from scoring.imports.mapping import load_mapping
from scoring.imports.read import DataImportError
from scoring.model.config import ConfigError, parse_config

from .conftest import SMALL_CONFIG


def _problem(text: str) -> str:
    with pytest.raises(ConfigError) as info:
        parse_config(text, "c.yaml")
    assert len(info.value.problems) == 1, info.value.problems
    return info.value.problems[0]


def test_a_second_block_with_the_same_key_is_refused_not_merged():
    engagement = "engagement:\n" + "".join(f"  - {{event: e{i}, points: {i}}}\n" for i in range(10))
    text = SMALL_CONFIG.replace("engagement:\n", "engagement_old:\n") + engagement + \
        "engagement:\n  - {event: only_one, points: 1}\n"
    text = text.replace("engagement_old:", "engagement:")  # three `engagement:` blocks in one file
    assert "appears twice" in _problem(text)
    assert "line" in _problem(SMALL_CONFIG + "thresholds: {mql: 1, sql: 2}\n")
    problem = _problem(SMALL_CONFIG.replace("{VP: 10, Student: -5}", "{VP: 10, Student: -5, VP: 3}"))
    assert "'VP' appears twice" in problem


@pytest.mark.parametrize("old, new, path", [
    ("points: 20", "points: .nan", "engagement[0].points"),
    ("cap: 30", "cap: .inf", "engagement[0].cap"),
    ("other: 1", "other: .nan", "fit[0].other"),
    ("missing: 2", "missing: -.inf", "fit[0].missing"),
    ("{VP: 10,", "{VP: .nan,", "fit[0].points.VP"),
    ("{min: 5000, points: 9}", "{min: 5000, points: .inf}", "fit[1].bins[2].points"),
    ("{min: 100, max: 1000, points: 5}", "{min: 100, max: .inf, points: 5}", "fit[1].bins[1].max"),
    ("bands: [10, 20, 30]", "bands: [10, .nan]", "bands[1]"),
    ("thresholds: {mql: 10, sql: 30}", "thresholds: {mql: .nan, sql: 30}", "thresholds.mql"),
    ("evaluation: {scoring_point_days: 7,", "evaluation: {scoring_point_days: .nan,",
     "evaluation.scoring_point_days"),
])
def test_non_finite_numbers_are_refused_with_their_path(old, new, path):
    assert old in SMALL_CONFIG
    problem = _problem(SMALL_CONFIG.replace(old, new, 1))
    assert problem.startswith(f"{path}: ") and ("finite" in problem or "greater" in problem), problem


@pytest.mark.parametrize("word", ["yes", "no", "on", "off", "true", "False"])
def test_a_yaml_boolean_is_not_a_number(word):
    problem = _problem(SMALL_CONFIG.replace("points: 20", f"points: {word}"))
    assert problem.startswith("engagement[0].points: expected a number")


@pytest.mark.parametrize("typed, value", [("010", 8), ("0x10", 16), ("1:30", 90), ("0o7", None)])
def test_yaml_1_1_number_forms_are_refused(typed, value):
    text = SMALL_CONFIG.replace("points: 20", f"points: {typed}")
    try:
        problem = _problem(text)
    except AssertionError:
        raise
    if value is not None:
        assert f"({value})" in problem and "plain decimal" in problem
    else:  # YAML 1.1 has no 0o prefix: it is text, and text is not a number
        assert "engagement[0].points" in problem


def test_keys_are_the_text_typed():
    config = parse_config(SMALL_CONFIG.replace("{VP: 10, Student: -5}", "{Yes: 10, No: -5, 1: 3, 2024-01-01: 2}"))
    assert config.fit[0].points == {"Yes": 10, "No": -5, "1": 3, "2024-01-01": 2}


@pytest.mark.parametrize("field, old", [
    ("source.outcome.table", "outcome: {table: outcomes"),
    ("fit[0].column", "column: seniority"),
])
def test_names_with_a_trailing_newline_are_refused(field, old):
    new = old.replace("outcomes", '"outcomes\\n"') if "outcomes" in old else 'column: "seniority\\n"'
    problem = _problem(SMALL_CONFIG.replace(old, new))
    assert problem.startswith(f"{field}: ") and "not a usable table or column name" in problem


def test_model_and_rule_names_must_be_what_they_look_like():
    assert _problem(SMALL_CONFIG.replace("name: small", 'name: "small\\n"')).startswith("name: ")
    assert _problem(SMALL_CONFIG.replace("name: small", 'name: " small"')).startswith("name: ")
    problem = _problem(SMALL_CONFIG.replace("points: 20, cap: 30", 'points: 20, cap: 30, name: "demo\\t"'))
    assert problem.startswith("engagement[0].name: ")


def test_text_where_yaml_reads_a_boolean_says_to_quote_it():
    problem = _problem(SMALL_CONFIG.replace("missing: 2}", "missing: 2}\n").replace(
        "name: small", "name: small\ndescription: yes"))
    assert problem.startswith("description: expected text, got true; put the value in quotes")


def test_deep_nesting_and_aliases_are_one_message():
    deep = SMALL_CONFIG + "segments: " + "[" * 3000 + "]" * 3000 + "\n"
    assert "nest" in _problem(deep)
    just_over = SMALL_CONFIG + "segments: " + "[" * MAX_DEPTH + "]" * MAX_DEPTH + "\n"
    assert f"more than {MAX_DEPTH} levels" in _problem(just_over)
    aliased = SMALL_CONFIG.replace("thresholds: {mql: 10, sql: 30}", "thresholds: &t {mql: 10, sql: 30}") + \
        "description: *t\n"
    assert "aliases" in _problem(aliased)


def test_load_yaml_reports_lines():
    with pytest.raises(YamlError) as info:
        load_yaml("a: 1\nb:\n  c: 2\n  c: 3\n")
    assert info.value.line == 4
    assert load_yaml("") is None and load_yaml("x: 1_000") == {"x": 1000}


def test_mapping_files_refuse_duplicate_keys(tmp_path):
    path = tmp_path / "map.yaml"
    path.write_text("files:\n  - {file: a.csv, role: leads}\nfiles: []\n")
    with pytest.raises(DataImportError) as info:
        load_mapping(path)
    assert str(info.value).startswith(f"{path}: line 3: key 'files' appears twice")
