"""The edges of `leadcal import`: files that are not what they seem, a killed import, a
bad model name, and CSVs that DuckDB itself reads."""

from __future__ import annotations

import multiprocessing as mp
import os

import duckdb
import pytest

from scoring.base.crash import CRASH_ENV, CRASH_EXIT
from scoring.cli import main
from scoring.imports.importer import _hold, _release, clean_stale_imports, run_import
from scoring.registry.store import tree_digest

LEADS = "Lead ID,Created,Title,Won?\n1,2024-01-01,VP,Yes\n2,2024-01-02,Analyst,No\n3,2024-01-03,VP,No\n"


def _run(capsys, *argv):
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def test_a_header_only_csv_is_one_message(tmp_path, capsys):
    path = tmp_path / "empty.csv"
    path.write_text("Lead ID,Created,Won?\n")
    code, out, err = _run(capsys, "import", path, "--db", tmp_path / "x.duckdb")
    assert code == 1 and err.strip() == f"error: {path}: the file has a header but no data rows"
    assert list(tmp_path.iterdir()) == [path]


def test_a_fifo_is_refused_without_blocking(tmp_path):
    fifo = tmp_path / "leads.csv"
    os.mkfifo(fifo)

    def child():
        os._exit(main(["import", str(fifo), "--db", str(tmp_path / "x.duckdb")]))

    proc = mp.get_context("fork").Process(target=child)
    proc.start()
    proc.join(60)
    if proc.exitcode is None:  # it blocked on the pipe
        proc.kill()
        proc.join()
        pytest.fail("importing a FIFO blocked")
    assert proc.exitcode == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == ["leads.csv"]


def test_a_csv_with_line_breaks_inside_quotes_imports(tmp_path, capsys):
    path = tmp_path / "notes.csv"
    path.write_text('Lead ID,Created,Note,Won?\n1,2024-01-01,"first line\nsecond line",Yes\n'
                    '2,2024-01-02,plain,No\n3,2024-01-03,"a, b",No\n')
    expected = duckdb.sql(f"SELECT * FROM read_csv('{path}', all_varchar = true)").fetchall()
    assert expected[0][2] == "first line\nsecond line"  # DuckDB reads it
    db = tmp_path / "x.duckdb"
    code, out, err = _run(capsys, "import", path, "--db", db)
    assert code == 0, err
    con = duckdb.connect(str(db), read_only=True)
    rows = con.execute("SELECT lead_id, note, converted FROM leads ORDER BY lead_id").fetchall()
    con.close()
    assert rows == [("1", "first line\nsecond line", True), ("2", "plain", False), ("3", "a, b", False)]


@pytest.mark.parametrize("model", ["../x", "a b", "m\n", ".hidden"])
def test_a_bad_model_name_is_refused_before_anything_is_written(tmp_path, capsys, model):
    csv = tmp_path / "leads.csv"
    csv.write_text(LEADS)
    store = tmp_path / "store"
    code, out, err = _run(capsys, "import", csv, "--db", tmp_path / "x.duckdb", "--model", model, "--save-model",
                          "--store", store)
    assert code == 1 and "model name" in err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["leads.csv"]


@pytest.mark.parametrize("step", ["import:copied", "import:built"])
def test_a_killed_import_leaves_the_target_and_its_copy_is_cleaned_up(tmp_path, capsys, step):
    csv = tmp_path / "leads.csv"
    csv.write_text(LEADS)
    db = tmp_path / "x.duckdb"
    assert _run(capsys, "import", csv, "--db", db)[0] == 0
    before = tree_digest(tmp_path)
    csv.write_text(LEADS + "4,2024-01-04,CEO,Yes\n")

    def child():
        os.environ[CRASH_ENV] = step
        os._exit(main(["import", str(csv), "--db", str(db)]))

    for _ in range(3):  # killed imports never pile up copies: each removes the dead one before it
        proc = mp.get_context("fork").Process(target=child)
        proc.start()
        proc.join(120)
        assert proc.exitcode == CRASH_EXIT
    left = [p for p in tmp_path.iterdir() if ".import-" in p.name]
    assert len([p for p in left if p.name.endswith(".tmp")]) == 1  # only the last one's
    after = tree_digest(tmp_path)
    assert {k: v for k, v in after.items() if ".import-" not in k and k != "leads.csv"} == \
        {k: v for k, v in before.items() if k != "leads.csv"}  # the target untouched
    assert _run(capsys, "import", csv, "--db", db)[0] == 0  # the next import cleans up and succeeds
    assert not [p for p in tmp_path.iterdir() if ".import-" in p.name]
    con = duckdb.connect(str(db), read_only=True)
    assert con.execute("SELECT count(*) FROM leads").fetchone()[0] == 4
    con.close()


def test_cleanup_never_removes_the_copy_of_a_running_import(tmp_path):
    db = tmp_path / "x.duckdb"
    running = tmp_path / ".x.duckdb.import-aaaaaaaaaaaa.tmp"
    dead = tmp_path / ".x.duckdb.import-bbbbbbbbbbbb.tmp"
    running.write_bytes(b"building")
    dead.write_bytes(b"left by a killed import")
    fd = _hold(running)
    try:
        assert clean_stale_imports(db) == [dead]
        assert running.exists() and not dead.exists()
    finally:
        _release(fd, running)
    assert clean_stale_imports(db) == [running]


def test_errors_never_name_the_working_copy(tmp_path, monkeypatch):
    csv = tmp_path / "leads.csv"
    csv.write_text(LEADS)
    db = tmp_path / "x.duckdb"
    import scoring.imports.importer as importer

    def fail(con, path, config, now):
        raise duckdb.IOException(f'Could not read file "{path}": broken')

    monkeypatch.setattr(importer, "_try_config", fail)
    with pytest.raises(importer.DataImportError) as info:
        run_import([csv], db)
    assert ".import-" not in str(info.value) and str(db) in str(info.value)


def test_many_categorical_columns_read_in_one_query_give_the_same_features(tmp_path, monkeypatch):
    """The UNPIVOT reads of dictionaries and first appearances (wide tables) equal the per-column reads."""
    import numpy as np

    import scoring.data.extract as extract
    from scoring.data.source import open_source
    from scoring.model.config import config_from_dict

    db = tmp_path / "wide.duckdb"
    con = duckdb.connect(str(db))
    n_cols = extract.MANY_COLUMNS + 4
    cols = ", ".join(f"c{i} VARCHAR" for i in range(n_cols))
    con.execute(f"CREATE TABLE leads (lead_id INTEGER, created_at TIMESTAMP, converted_at TIMESTAMP, {cols})")
    rng = np.random.default_rng(3)
    words = ["VP", " vp", "Select", "", None, "N/A", "Manager", "CEO", "manager "]
    rows = [(i, f"2024-01-{1 + i % 28:02d}", f"2024-03-{1 + i % 28:02d}" if i % 3 == 0 else None,
             *[words[k] for k in rng.integers(0, len(words), n_cols)]) for i in range(300)]
    con.executemany(f"INSERT INTO leads VALUES ({', '.join('?' * (n_cols + 3))})", rows)
    con.close()
    config = config_from_dict({
        "source": {"outcome": {}},
        "fit": [{"type": "categorical", "column": f"c{i}", "points": {"vp": 1}} for i in range(n_cols)],
        "thresholds": {"mql": 1, "sql": 2}, "bands": [1]})
    with open_source(db) as source:
        batched = extract.extract_features(source, config)
    monkeypatch.setattr(extract, "MANY_COLUMNS", 10_000)  # the per-column reads
    with open_source(db) as source:
        single = extract.extract_features(source, config)
    assert batched.categorical.keys() == single.categorical.keys()
    for c in single.categorical:
        np.testing.assert_array_equal(batched.categorical[c].codes, single.categorical[c].codes)
        assert list(batched.categorical[c].categories) == list(single.categorical[c].categories)


def test_a_wide_file_imports_the_same_in_slices(tmp_path, monkeypatch):
    """A leads table built in slices of columns (wide files) equals one built in one query."""
    import scoring.imports.importer as importer

    header = ["Lead ID", "Created", "Won?"] + [f"Field {i}" for i in range(40)]
    rows = [[str(r), f"2024-01-{1 + r % 28:02d}", "Yes" if r % 3 == 0 else "No"] +
            [str((r * 7 + i) % 11) if i % 2 else f"v{(r + i) % 5}" for i in range(40)] for r in range(60)]
    csv = tmp_path / "wide.csv"
    csv.write_text("\n".join(",".join(r) for r in [header] + rows) + "\n")
    assert len(header) > importer.WIDE_SLICE
    run_import([csv], tmp_path / "sliced.duckdb")
    monkeypatch.setattr(importer, "WIDE_SLICE", 10_000)
    run_import([csv], tmp_path / "whole.duckdb")
    tables = []
    for name in ("sliced", "whole"):
        con = duckdb.connect(str(tmp_path / f"{name}.duckdb"), read_only=True)
        tables.append((con.execute("DESCRIBE leads").fetchall(), con.execute("SELECT * FROM leads").fetchall()))
        con.close()
    assert tables[0] == tables[1] and len(tables[0][1]) == 60 and len(tables[0][0]) == 43


def test_starter_values_and_bins_of_many_columns_equal_the_per_column_ones():
    from scoring.imports.starter import category_values, category_values_of, quantile_bins, quantile_bins_of

    con = duckdb.connect()
    con.execute("CREATE TABLE t (a VARCHAR, b VARCHAR, e VARCHAR, x DOUBLE, y BIGINT, z DOUBLE)")
    con.executemany("INSERT INTO t VALUES (?, ?, ?, ?, ?, ?)", [
        ("VP", " vp", None, 1.5, 10, None), ("vp ", "", None, 2.5, 20, None), ("CEO", "Manager", None, None, 30, None),
        (" ", "manager", None, 1e6, None, None), ("Director", "Manager", None, -3.0, 40, None)])
    assert category_values_of(con, "t", ["a", "b", "e"]) == {c: category_values(con, "t", c) for c in ("a", "b", "e")}
    assert quantile_bins_of(con, "t", ["x", "y", "z"]) == {c: quantile_bins(con, "t", c) for c in ("x", "y", "z")}
    assert category_values_of(con, "t", []) == {} and quantile_bins_of(con, "t", []) == {}
