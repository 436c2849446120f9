"""DuckDB's spill directory and memory limit: leadcal's own, never next to the user's database."""

from __future__ import annotations

import os
import stat
import tempfile
from pathlib import Path

import pytest

from scoring.data import source as smod
from scoring.data.source import open_source


def _settings(db) -> tuple[str, str]:
    with open_source(db) as source:
        ((temp, memory),) = source.con.execute(
            "SELECT current_setting('temp_directory'), current_setting('memory_limit')").fetchall()
    return temp, memory


def test_temp_directory_is_leadcals_not_next_to_the_database(small_db, monkeypatch):
    monkeypatch.delenv("LEADCAL_TMP", raising=False)
    monkeypatch.delenv("LEADCAL_DUCKDB_MEMORY", raising=False)
    temp, memory = _settings(small_db)
    expected = Path(tempfile.gettempdir()) / f"leadcal-duckdb-{os.getuid()}"
    assert Path(temp) == expected
    assert not Path(temp).is_relative_to(small_db.parent)
    assert stat.S_IMODE(expected.stat().st_mode) == 0o700
    assert memory == "1.4 GiB"  # DuckDB's spelling of the default '1536MB'


def test_environment_overrides(small_db, tmp_path_factory, monkeypatch):
    spill = tmp_path_factory.mktemp("elsewhere") / "spill"
    monkeypatch.setenv("LEADCAL_TMP", str(spill))
    monkeypatch.setenv("LEADCAL_DUCKDB_MEMORY", "300MB")
    temp, memory = _settings(small_db)
    assert Path(temp) == spill
    assert memory == "286.1 MiB"


def test_a_shared_default_directory_is_not_used(tmp_path, monkeypatch):
    """Another user's (or a world-readable) directory at the default path could read spilled rows."""
    monkeypatch.delenv("LEADCAL_TMP", raising=False)
    monkeypatch.setattr(tempfile, "gettempdir", lambda: str(tmp_path))
    monkeypatch.setattr(smod, "_fallback_temp", None)
    shared = tmp_path / f"leadcal-duckdb-{os.getuid()}"
    shared.mkdir(mode=0o777)
    shared.chmod(0o777)
    chosen = smod.temp_directory()
    assert chosen != shared and chosen.parent == tmp_path
    assert stat.S_IMODE(chosen.stat().st_mode) == 0o700
    assert smod.temp_directory() == chosen  # one per process: DuckDB cannot switch once it spilled


@pytest.mark.parametrize("bad", ["lots", "12 parsecs"])
def test_an_unusable_memory_limit_is_reported(small_db, monkeypatch, bad):
    monkeypatch.setenv("LEADCAL_DUCKDB_MEMORY", bad)
    with pytest.raises(smod.SourceError, match="memory limit"):
        open_source(small_db)
