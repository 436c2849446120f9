"""benchmarks/linear.py keeps working: its generated inputs are valid and it times them."""

from __future__ import annotations

from benchmarks.linear import config_text, time_import, time_validate, wide_csv
from scoring.model.config import parse_config


def test_generated_inputs_are_valid_and_timed(tmp_path):
    config = parse_config(config_text(20))
    assert (len(config.fit), len(config.engagement)) == (10, 10)
    header = wide_csv(tmp_path / "w.csv", 12, rows=5).read_text().splitlines()
    assert len(header) == 6 and len(header[0].split(",")) == 12
    assert time_validate(tmp_path, 50) > 0 and time_import(tmp_path, 12) > 0
