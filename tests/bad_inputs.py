"""The bad-input catalogue: configs, databases, CSV/Parquet files, store states and
command lines a tester would throw at leadcal to break the README's promises.

Every case runs in its own copy of a small world (``build_world``: a database, a config,
a store with an approved and a draft version, a CSV export) and states the exit code and
a piece of the one-line message it must give. ``tests/test_bad_inputs.py`` runs them all
and checks, besides, that no traceback appears and that no file but the case's intended
output changed (SHA-256 of every file before and after).
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import duckdb

from .conftest import DAY, SMALL_CONFIG, T0, make_db

LEADS_CSV = ("Lead ID,Created,Title,Company Size,Won?\n1,2024-01-01,VP,10,Yes\n2,2024-01-02,Analyst,20,No\n"
             "3,2024-01-03,VP,30,No\n4,2024-01-04,Manager,40,Yes\n")


@dataclass(frozen=True)
class Case:
    """One hostile input: the command, what it must exit with, and a piece of its message."""

    id: str
    argv: tuple[str, ...]
    code: int
    message: str
    setup: Callable[[Path], None] | None = None
    output: tuple[str, ...] = ()
    """The files the command is meant to write (exit 0 cases); every other file must stay as it was."""


# ------------------------------------------------------------------ the world every case starts from


def build_world(folder: Path) -> None:
    """small.duckdb, c.yaml, leads.csv and store/ (m@1 approved, m@2 draft)."""
    from scoring.cli import main

    folder.mkdir(parents=True, exist_ok=True)
    leads = [(1, T0, "VP", 500, "business"), (2, T0 + DAY, "Student", 10, "free"), (3, T0 + 2 * DAY, "Select", None, "x"),
             (4, T0 + 3 * DAY, " vp ", 2000, "x"), (5, T0 + 4 * DAY, "Manager", 5000, "x"),
             (6, T0 + 152 * DAY, None, 99, "x")]
    events = [(1, "demo_request", T0 + 6 * DAY), (2, "email_open", T0 + 3 * DAY), (4, "demo_request", T0 + 4 * DAY)]
    outcomes = [(1, T0 + 20 * DAY, 1000.0), (4, T0 + 5 * DAY, 10.0)]
    make_db(folder / "small.duckdb", leads, events, outcomes)
    (folder / "c.yaml").write_text(SMALL_CONFIG)
    (folder / "leads.csv").write_text(LEADS_CSV)
    store = str(folder / "store")
    for argv in (["configs", "save", "m", "--file", str(folder / "c.yaml"), "--store", store, "--author", "ann"],
                 ["configs", "save", "m", "--file", str(folder / "c.yaml"), "--store", store, "--author", "bo"],
                 ["configs", "approve", "m@1", "--signoff", "Sam:sales", "--signoff", "Mia:marketing", "--rationale",
                  "ok", "--db", str(folder / "small.duckdb"), "--store", store]):
        assert main(argv) == 0, argv


# ------------------------------------------------------------------ helpers for setups


def _write(name: str, content: str | bytes) -> Callable[[Path], None]:
    def setup(d: Path) -> None:
        path = d / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content if isinstance(content, bytes) else content.encode("utf-8"))
    return setup


def _all(*setups: Callable[[Path], None]) -> Callable[[Path], None]:
    def setup(d: Path) -> None:
        for s in setups:
            s(d)
    return setup


def _replace(name: str, content: str) -> Callable[[Path], None]:
    """Overwrite a (read-only) store file by hand."""
    def setup(d: Path) -> None:
        os.chmod(d / name, 0o644)
        (d / name).write_text(content)
    return setup


def _edit(name: str, old: str, new: str) -> Callable[[Path], None]:
    """Edit a file in place (store files are read-only: made writable first)."""
    def setup(d: Path) -> None:
        path = d / name
        os.chmod(path, 0o644)
        text = path.read_text()
        assert old in text, (name, old)
        path.write_text(text.replace(old, new, 1))
    return setup


def _db(name: str, *sql: str) -> Callable[[Path], None]:
    """A copy of small.duckdb changed by some SQL."""
    def setup(d: Path) -> None:
        shutil.copy(d / "small.duckdb", d / name)
        con = duckdb.connect(str(d / name))
        for statement in sql:
            con.execute(statement)
        con.close()
    return setup


def _fifo(name: str) -> Callable[[Path], None]:
    return lambda d: os.mkfifo(d / name)


def _mkdir(name: str) -> Callable[[Path], None]:
    return lambda d: (d / name).mkdir(parents=True)


def _parquet(name: str, columns: dict) -> Callable[[Path], None]:
    def setup(d: Path) -> None:
        import pyarrow as pa
        import pyarrow.parquet as pq

        pq.write_table(pa.table(columns), d / name)
    return setup


def _swap_audit_for_a_folder(d: Path) -> None:
    (d / "store" / "audit.jsonl").rename(d / "store" / "audit.kept")
    (d / "store" / "audit.jsonl").mkdir()


# ------------------------------------------------------------------ configs


def _config(old: str, new: str) -> str:
    assert old in SMALL_CONFIG, old
    return SMALL_CONFIG.replace(old, new, 1)


CONFIG_EDITS = [  # (id, old, new, expected message piece)
    ("nan-points", "points: 20", "points: .nan", "engagement[0].points: must be a finite number"),
    ("inf-cap", "cap: 30", "cap: .inf", "engagement[0].cap: must be a finite number"),
    ("neg-inf-bin", "{min: 5000, points: 9}", "{min: -.inf, points: 9}", "fit[1].bins[2].min: must be a finite"),
    ("nan-other", "other: 1", "other: .nan", "fit[0].other: must be a finite number"),
    ("inf-missing", "missing: 2", "missing: .inf", "fit[0].missing: must be a finite number"),
    ("nan-value-points", "{VP: 10,", "{VP: .nan,", "fit[0].points.VP: must be a finite number"),
    ("nan-band", "bands: [10, 20, 30]", "bands: [10, .nan, 30]", "bands[1]: must be a finite number"),
    ("inf-threshold", "thresholds: {mql: 10, sql: 30}", "thresholds: {mql: 10, sql: .inf}", "thresholds.sql: must be"),
    ("text-inf", "points: 20", "points: '1e400'", "engagement[0].points: must be a finite number"),
    ("text-nan", "points: 20", "points: 'nan'", "engagement[0].points: must be a finite number"),
    ("yes-points", "points: 20", "points: yes", "engagement[0].points: expected a number, got true"),
    ("on-cap", "cap: 30", "cap: on", "engagement[0].cap: expected a number, got true"),
    ("no-other", "other: 1", "other: no", "fit[0].other: expected a number, got false"),
    ("true-threshold", "thresholds: {mql: 10, sql: 30}", "thresholds: {mql: true, sql: 30}", "thresholds.mql: expected"),
    ("octal", "points: 20", "points: 010", "'010' is read by YAML as a number in another base"),
    ("hex", "points: 20", "points: 0x1F", "'0x1F' is read by YAML as a number in another base"),
    ("sexagesimal", "points: 20", "points: 1:30", "'1:30' is read by YAML as"),
    ("dup-thresholds", "bands: [10, 20, 30]", "bands: [10, 20, 30]\nthresholds: {mql: 1, sql: 2}",
     "key 'thresholds' appears twice"),
    ("dup-engagement", "thresholds:", "engagement:\n  - {event: x, points: 1}\nthresholds:", "key 'engagement' appears twice"),
    ("dup-value", "{VP: 10, Student: -5}", "{VP: 10, Student: -5, VP: 1}", "key 'VP' appears twice"),
    ("dup-rule-key", "points: 20, cap: 30", "points: 20, cap: 30, points: 5", "key 'points' appears twice"),
    ("anchor-alias", "thresholds: {mql: 10, sql: 30}", "thresholds: &t {mql: 10, sql: 30}\ncaps: *t",
     "anchors and aliases"),
    ("table-newline", "outcome: {table: outcomes", 'outcome: {table: "outcomes\\n"',
     "source.outcome.table: 'outcomes\\n' is not a usable table or column name"),
    ("column-newline", "column: seniority", 'column: "seniority\\n"', "fit[0].column: 'seniority\\n' is not a usable"),
    ("column-quote", "column: seniority", "column: 'sen\"iority'", "fit[0].column: 'sen\"iority' is not a usable"),
    ("column-injection", "column: seniority", "column: 'x; DROP TABLE leads'", "fit[0].column: 'x; DROP TABLE leads'"),
    ("name-newline", "name: small", 'name: "small\\n"', "name: 'small\\n': a name is one line"),
    ("name-spaces", "name: small", "name: ' small'", "name: ' small': a name is one line"),
    ("rule-name-tab", "points: 20, cap: 30", 'points: 20, cap: 30, name: "demo\\t"', "engagement[0].name:"),
    ("long-name", "name: small", "name: " + "x" * 200, "name: String should have at most 128 characters"),
    ("unknown-key", "points: 20, cap: 30", "points: 20, capp: 30", "engagement[0].capp: unknown key"),
    ("unknown-top-key", "bands:", "threshold: {mql: 1}\nbands:", "threshold: unknown key"),
    ("mql-over-sql", "thresholds: {mql: 10, sql: 30}", "thresholds: {mql: 40, sql: 30}", "mql (40) must be below sql"),
    ("bands-unsorted", "bands: [10, 20, 30]", "bands: [30, 20]", "bands: band cut points must be strictly increasing"),
    ("bands-empty", "bands: [10, 20, 30]", "bands: []", "bands: List should have at least 1 item"),
    ("bins-overlap", "{min: 100, max: 1000, points: 5}", "{min: 50, max: 1000, points: 5}", "fit[1].bins: bins 0 and 1"),
    ("bin-min-over-max", "{min: 100, max: 1000, points: 5}", "{min: 1000, max: 100, points: 5}",
     "fit[1].bins[1]: min (1000) must be below max (100)"),
    ("event-and-column", "{event: demo_request, points: 20, cap: 30}",
     "{event: demo_request, column: x, points: 20, cap: 30}", "engagement[0]: give exactly one of"),
    ("neither-event-nor-column", "{event: demo_request, points: 20, cap: 30}", "{points: 20, cap: 30}",
     "engagement[0]: give exactly one of"),
    ("decay-kind", "evaluation:", "decay: {kind: sometimes}\nevaluation:", "decay.kind: 'sometimes' is not one of"),
    ("decay-zero", "evaluation:", "decay: {kind: exponential, half_life_days: 0}\nevaluation:",
     "decay.half_life_days: Input should be greater than 0"),
    ("decay-huge", "evaluation:", "decay: {kind: window, days: 5000}\nevaluation:", "decay.days: Input should be less"),
    ("cap-negative", "cap: 30", "cap: -5", "engagement[0].cap: Input should be greater than 0"),
    ("caps-reversed", "bands:", "caps: {total: {min: 100, max: 0}}\nbands:", "caps.total: min (100) is above max (0)"),
    ("window-zero", "outcome_window_days: 30", "outcome_window_days: 0", "evaluation.outcome_window_days: Input should"),
    ("scoring-point-negative", "scoring_point_days: 7", "scoring_point_days: -1", "evaluation.scoring_point_days:"),
    ("points-text", "points: 20", "points: lots", "engagement[0].points: Input should be a valid number"),
    ("points-list", "points: 20", "points: [1, 2]", "engagement[0].points: Input should be a valid number"),
    ("event-empty", "event: demo_request", "event: ''", "engagement[0].event: event types must be non-empty"),
    ("event-twice", "[email_open, EMAIL_CLICK]", "[email_open, email_open]", "engagement[1].event: an event type is"),
    ("column-rule-decay", "{event: demo_request, points: 20, cap: 30}",
     "{column: company_size, points: 1, decay: {kind: none}}", "engagement[0]: an activity column has no timestamps"),
    ("stale-open-without-states", "outcome: {table: outcomes, deal_value: deal_value}",
     "outcome: {table: outcomes, deal_value: deal_value, open_lost_after_days: 90}",
     "source.outcome: open_lost_after_days needs 'converted'"),
    ("no-created-with-events", "source:\n", "source:\n  leads: {created_at: null}\n", "source: events need leads.created_at"),
    ("same-value-twice", "{VP: 10, Student: -5}", "{VP: 10, ' vp': 3}", "fit[0].points: values 'VP' and ' vp'"),
    ("fit-column-twice", "    bins: [", "    column2: x\n    bins: [", "fit[1].column2: unknown key"),
    ("duplicate-rule-names", "{event: [email_open, EMAIL_CLICK], points: 1}",
     "{event: [email_open, EMAIL_CLICK], points: 1, name: demo_request}", "rule names must be unique"),
    ("segment-no-filter", "bands: [10, 20, 30]", "bands: [10, 20, 30]\nsegments: [{name: big}]", "segments[0].filter:"),
    ("segment-empty-values", "bands: [10, 20, 30]", "bands: [10, 20, 30]\nsegments: [{name: big, filter: "
     "{column: seniority, values: []}}]", "segments[0].filter: 'values' must list at least one value"),
    ("segment-names-twice", "bands: [10, 20, 30]", "bands: [10, 20, 30]\nsegments: [{name: a, filter: {column: x, "
     "values: [y]}}, {name: a, filter: {column: x, values: [z]}}]", "segments: segment names must be unique"),
    ("description-bool", "name: small", "name: small\ndescription: yes", "description: expected text, got true"),
    ("missing-marker-number", "source:\n", "source:\n  missing_values: [1]\n", "source.missing_values[0]: expected text"),
    ("thresholds-missing", "thresholds: {mql: 10, sql: 30}\n", "", "thresholds: required, but missing"),
    ("bands-missing", "bands: [10, 20, 30]\n", "", "bands: required, but missing"),
    ("bands-not-a-list", "bands: [10, 20, 30]", "bands: 3", "bands: Input should be a valid list"),
]

CONFIG_TEXTS = [  # (id, whole text, expected message piece)
    ("not-yaml", "thresholds: {mql: 1, sql: [", "not valid YAML"),
    ("tab-indent", "thresholds:\n\tmql: 1\n", "not valid YAML"),
    ("empty-file", "", "(top level): expected a mapping"),
    ("top-level-list", "- a\n- b\n", "(top level): expected a mapping"),
    ("top-level-scalar", "just text\n", "(top level): expected a mapping"),
    ("deep-nesting", "thresholds: {mql: 1, sql: 2}\nbands: [1]\nfit: " + "[" * 3000 + "]" * 3000 + "\n", "nest"),
    ("deep-mapping", "thresholds: " + "{a: " * 200 + "1" + "}" * 200 + "\n", "nested more than 64 levels"),
    ("key-is-a-list", "[a, b]: 1\n", "a key must be plain text"),
]


def _config_cases() -> list[Case]:
    out = []
    for i, (cid, old, new, message) in enumerate(CONFIG_EDITS):
        text = _config(old, new)
        command = [("validate", "bad.yaml"), ("report", "--db", "small.duckdb", "--config", "bad.yaml"),
                   ("configs", "save", "m", "--file", "bad.yaml", "--store", "store")][i % 3]
        out.append(Case(f"config-{cid}", command, 1, message, _write("bad.yaml", text)))
    for cid, text, message in CONFIG_TEXTS:
        out.append(Case(f"config-{cid}", ("validate", "bad.yaml"), 1, message, _write("bad.yaml", text)))
    out += [
        Case("config-binary", ("validate", "bad.yaml"), 1, "bad.yaml: cannot read the file",
             _write("bad.yaml", b"\xff\xfe\x00garbage")),
        Case("config-missing-file", ("validate", "nope.yaml"), 1, "nope.yaml: file not found"),
        Case("config-is-a-directory", ("validate", "folder"), 1, "folder: is not a regular file", _mkdir("folder")),
        Case("config-fifo", ("validate", "pipe.yaml"), 1, "pipe.yaml: is not a regular file", _fifo("pipe.yaml")),
        Case("drift-bad-config", ("drift", "--db", "small.duckdb", "--config", "bad.yaml"), 3,
             "thresholds: mql (40) must be below sql (30)",
             _write("bad.yaml", _config("thresholds: {mql: 10, sql: 30}", "thresholds: {mql: 40, sql: 30}"))),
        Case("suggest-bad-config", ("suggest", "--db", "small.duckdb", "--config", "bad.yaml", "--out", "s.yaml"), 1,
             "key 'bands' appears twice", _write("bad.yaml", SMALL_CONFIG + "bands: [1]\n")),
    ]
    return out


# ------------------------------------------------------------------ databases


DB_CASES = [  # (id, sql on a copy of small.duckdb, expected message piece)
    ("no-leads-table", ["DROP TABLE leads"], "table 'leads' (lead id) not found; tables present: events, outcomes"),
    ("no-id-column", ["ALTER TABLE leads RENAME lead_id TO id"], "column 'lead_id' (lead id) not found"),
    ("struct-id", ["CREATE TABLE l2 AS SELECT {'a': lead_id} AS lead_id, * EXCLUDE (lead_id) FROM leads",
                   "DROP TABLE leads", "ALTER TABLE l2 RENAME TO leads"], "is STRUCT(a BIGINT), a nested type"),
    ("list-column", ["CREATE TABLE l2 AS SELECT * REPLACE ([seniority] AS seniority) FROM leads", "DROP TABLE leads",
                     "ALTER TABLE l2 RENAME TO leads"], "'leads.seniority' (fit or segment column) is VARCHAR[]"),
    ("created-as-text", ["ALTER TABLE leads ALTER created_at TYPE VARCHAR"], "is VARCHAR, needs a DATE or TIMESTAMP"),
    ("conversion-as-int", ["ALTER TABLE outcomes ALTER converted_at TYPE INTEGER USING 1"],
     "'outcomes.converted_at' (conversion time) is INTEGER"),
    ("numeric-fit-as-text", ["ALTER TABLE leads ALTER company_size TYPE VARCHAR"], "company_size' (numeric fit"),
    ("no-events-table", ["DROP TABLE events"], "table 'events' (event lead id) not found"),
    ("no-outcomes-table", ["DROP TABLE outcomes"], "table 'outcomes' (outcome lead id) not found"),
    ("all-created-null", ["UPDATE leads SET created_at = NULL", "DELETE FROM events", "DELETE FROM outcomes"],
     "has no leads with a creation time"),
]


def _database_cases() -> list[Case]:
    out = []
    for cid, sql, message in DB_CASES:
        setup = _db("bad.duckdb", *sql)
        out.append(Case(f"db-{cid}-report", ("report", "--db", "bad.duckdb", "--config", "c.yaml"), 1, message, setup))
        out.append(Case(f"db-{cid}-drift", ("drift", "--db", "bad.duckdb", "--config", "c.yaml"), 3, message, setup))
    out += [
        Case("db-missing", ("report", "--db", "nope.duckdb", "--config", "c.yaml"), 1, "database file not found"),
        Case("db-directory", ("report", "--db", "folder", "--config", "c.yaml"), 1, "folder", _mkdir("folder")),
        Case("db-text-file", ("report", "--db", "notes.duckdb", "--config", "c.yaml"), 1, "notes.duckdb",
             _write("notes.duckdb", "this is not a database\n" * 100)),
        Case("db-empty-file", ("report", "--db", "empty.duckdb", "--config", "c.yaml"), 1, "empty.duckdb",
             _write("empty.duckdb", b"")),
        Case("db-truncated", ("report", "--db", "cut.duckdb", "--config", "c.yaml"), 1, "cut.duckdb",
             lambda d: (d / "cut.duckdb").write_bytes((d / "small.duckdb").read_bytes()[:5000])),
        Case("db-csv-as-db", ("report", "--db", "leads.csv", "--config", "c.yaml"), 1, "leads.csv"),
        Case("db-fifo", ("report", "--db", "pipe.duckdb", "--config", "c.yaml"), 1, "pipe.duckdb", _fifo("pipe.duckdb")),
        Case("db-created-null-with-events-drift", ("drift", "--db", "bad.duckdb", "--config", "c.yaml"), 3,
             "no lead could be scored", _db("bad.duckdb", "UPDATE leads SET created_at = NULL")),
        Case("db-empty-leads-drift", ("drift", "--db", "bad.duckdb", "--config", "c.yaml"), 3,
             "no lead could be scored", _db("bad.duckdb", "DELETE FROM leads")),
        Case("db-drift-missing", ("drift", "--db", "nope.duckdb", "--config", "c.yaml"), 3, "database file not found"),
        Case("db-drift-bad-reference", ("drift", "--db", "small.duckdb", "--config", "c.yaml", "--reference",
                                        "2024-13-01:2024-02-01"), 3, "2024-13-01"),
        Case("db-drift-reversed-reference", ("drift", "--db", "small.duckdb", "--config", "c.yaml", "--reference",
                                             "2024-06-01:2024-01-01"), 3, "2024-06-01"),
        Case("db-drift-too-few-leads", ("drift", "--db", "small.duckdb", "--config", "c.yaml"), 3,
             "scored leads; choose a longer or earlier period"),
        Case("db-struct-score", ("score", "--db", "bad.duckdb", "--config", "c.yaml", "--out", "s.csv"), 1,
             "a nested type", DB_SETUPS["struct"]),
        Case("db-suggest-one-class", ("suggest", "--db", "bad.duckdb", "--config", "c.yaml", "--out", "s.yaml"), 1,
             "too few mature conversions to learn from", _db("bad.duckdb", "DELETE FROM outcomes")),
        Case("db-approve-all-created-null", ("configs", "approve", "m@2", "--signoff", "A:sales", "--signoff",
                                             "B:marketing", "--rationale", "x", "--db", "bad.duckdb", "--store", "store"),
             1, "bad.duckdb", _db("bad.duckdb", "UPDATE leads SET created_at = NULL")),
        Case("db-approve-no-mature-lead", ("configs", "approve", "m@2", "--signoff", "A:sales", "--signoff",
                                           "B:marketing", "--rationale", "x", "--db", "bad.duckdb", "--store", "store"),
             1, "no mature lead to judge it on", _db("bad.duckdb", "UPDATE leads SET created_at = TIMESTAMP "
                                                     "'2024-05-30' WHERE lead_id < 6")),
        Case("db-html-export-bad-db", ("configs", "export", "m", "--format", "html", "--db", "nope.duckdb", "--out",
                                       "r.html", "--store", "store"), 1, "database file not found"),
    ]
    return out


DB_SETUPS = {"struct": _db("bad.duckdb", "CREATE TABLE l2 AS SELECT {'a': lead_id} AS lead_id, * EXCLUDE (lead_id) "
                                         "FROM leads", "DROP TABLE leads", "ALTER TABLE l2 RENAME TO leads")}


# ------------------------------------------------------------------ CSV and Parquet files


def _import(*files: str, extra: tuple[str, ...] = ()) -> tuple[str, ...]:
    return ("import", *files, "--db", "new.duckdb", *extra)


IMPORT_CASES = [
    Case("import-missing-file", _import("nope.csv"), 1, "nope.csv: file not found"),
    Case("import-directory", _import("folder"), 1, "folder: is a directory", _mkdir("folder")),
    Case("import-fifo", _import("pipe.csv"), 1, "pipe.csv: is not a regular file", _fifo("pipe.csv")),
    Case("import-empty-file", _import("e.csv"), 1, "e.csv: the file is empty", _write("e.csv", "")),
    Case("import-header-only", _import("h.csv"), 1, "h.csv: the file has a header but no data rows",
         _write("h.csv", "Lead ID,Created,Won?\n")),
    Case("import-binary", _import("b.csv"), 1, "b.csv", _write("b.csv", bytes(range(256)) * 40)),
    Case("import-corrupt-parquet", _import("p.parquet"), 1, "p.parquet: not a readable Parquet file",
         _write("p.parquet", b"PAR1" + b"\x00" * 100 + b"PAR1")),
    Case("import-no-outcome", _import("x.csv"), 1, "x.csv",
         _write("x.csv", "Lead ID,Created,Title\n1,2024-01-01,VP\n2,2024-01-02,CEO\n")),
    Case("import-one-class", _import("x.csv"), 1, "one",
         _write("x.csv", "Lead ID,Created,Won?\n1,2024-01-01,Yes\n2,2024-01-02,Yes\n3,2024-01-03,Yes\n")),
    Case("import-duplicate-ids", _import("x.csv", extra=("--id", "Lead ID")), 1, "Lead ID",
         _write("x.csv", "Lead ID,Created,Won?\n1,2024-01-01,Yes\n1,2024-01-02,No\n2,2024-01-03,No\n")),
    Case("import-same-file-twice", _import("leads.csv", "leads.csv"), 1, "the file is given twice"),
    Case("import-db-is-input", ("import", "leads.csv", "--db", "leads.csv"), 1, "is one of the input files"),
    Case("import-db-is-directory", ("import", "leads.csv", "--db", "folder"), 1, "is a directory",
         _mkdir("folder")),
    Case("import-db-not-duckdb", ("import", "leads.csv", "--db", "notes.txt"), 1, "is not a readable DuckDB database",
         _write("notes.txt", "my notes\n" * 50)),
    Case("import-db-has-wal", ("import", "leads.csv", "--db", "small.duckdb"), 1, "has unsaved changes",
         _write("small.duckdb.wal", b"\x00" * 10)),
    Case("import-db-foreign-table", ("import", "leads.csv", "--db", "small.duckdb"), 1,
         "table 'leads' exists and was not made by leadcal import"),
    Case("import-unknown-outcome-column", _import("leads.csv", extra=("--outcome", "Nope")), 1, "Nope"),
    Case("import-unknown-id-column", _import("leads.csv", extra=("--id", "Nope")), 1, "Nope"),
    Case("import-bad-type-pair", _import("leads.csv", extra=("--type", "Title")), 1, "--type"),
    Case("import-bad-type-kind", _import("leads.csv", extra=("--type", "Title=colour")), 1, "--type"),
    Case("import-bad-role", _import("leads.csv", extra=("--role", "leads.csv=boss")), 1, "--role"),
    Case("import-nothing-given", ("import", "--db", "new.duckdb"), 1, "give the CSV or Parquet files"),
    Case("import-mapping-and-type", _import("leads.csv", extra=("--mapping", "m.yaml", "--type", "Title=text")), 1,
         "with --mapping, edit the mapping file instead", _write("m.yaml", "files: []\n")),
    Case("import-mapping-missing", _import("leads.csv", extra=("--mapping", "nope.yaml")), 1, "mapping file not found"),
    Case("import-mapping-not-yaml", _import("leads.csv", extra=("--mapping", "m.yaml")), 1, "not valid YAML",
         _write("m.yaml", "files: [\n")),
    Case("import-mapping-dup-key", _import("leads.csv", extra=("--mapping", "m.yaml")), 1, "key 'files' appears twice",
         _write("m.yaml", "files: []\nfiles: []\n")),
    Case("import-mapping-deep", _import("leads.csv", extra=("--mapping", "m.yaml")), 1, "nest",
         _write("m.yaml", "files: " + "[" * 2000 + "]" * 2000 + "\n")),
    Case("import-mapping-unknown-column", _import("leads.csv", extra=("--mapping", "m.yaml")), 1, "Nope",
         _write("m.yaml", "files:\n  - {file: leads.csv, role: leads, id: Nope, created_at: Created, "
                          "outcome: {column: Won?}}\n")),
    Case("import-mapping-octal", _import("leads.csv", extra=("--mapping", "m.yaml")), 1, "'010' is read by YAML",
         _write("m.yaml", "files:\n  - {file: leads.csv, role: leads, id: 010}\n")),
    Case("import-starter-exists", _import("leads.csv", extra=("--starter-config", "c.yaml")), 1,
         "--starter-config c.yaml already exists"),
    Case("import-starter-into-store", _import("leads.csv", extra=("--starter-config", "store/s.yaml", "--force")), 1,
         "is inside the config store"),
    Case("import-mapping-over-db", _import("leads.csv", extra=("--save-mapping", "small.duckdb", "--force")), 1,
         "is a DuckDB database"),
    Case("import-model-traversal", _import("leads.csv", extra=("--model", "../x", "--save-model", "--store", "store")), 1,
         "model name '../x'"),
    Case("import-model-space", _import("leads.csv", extra=("--model", "a b", "--save-model", "--store", "store")), 1,
         "model name 'a b'"),
    Case("import-model-newline", _import("leads.csv", extra=("--model", "m\n", "--save-model", "--store", "store")), 1,
         "model name 'm\\n'"),
    Case("import-empty-parquet", _import("p.parquet"), 1, "p.parquet: the file has a header but no data rows",
         _parquet("p.parquet", {"Lead ID": [], "Won?": []})),
    Case("import-unknown-fit-column", _import("leads.csv", extra=("--fit", "Colour")), 1, "Colour"),
    Case("import-latin1-binary-header", _import("l.csv"), 1, "l.csv", _write("l.csv", b"\x00\x01\x02,\xff\n\x00,\x01\n")),
]


# ------------------------------------------------------------------ store states


def _store_cmd(*argv: str) -> tuple[str, ...]:
    return ("configs", *argv, "--store", "store")


APPROVE = ("approve", "m@2", "--signoff", "Sam:sales", "--signoff", "Mia:marketing", "--rationale", "ok", "--db",
           "small.duckdb")

STORE_CASES = [
    Case("store-version-no-meta-show", _store_cmd("show", "m@2"), 1,
         "models/m/v0002.yaml: not a leadcal version: missing 'version'",
         _replace("store/models/m/v0002.yaml", "config: {}\n")),
    Case("store-version-not-yaml-show", _store_cmd("show", "m@2"), 1, "models/m/v0002.yaml: not a leadcal version",
         _all(_edit("store/models/m/v0002.yaml", "store_format", "store_format: [\n"))),
    Case("store-version-broken-list", _store_cmd("list"), 1, "models/m/v0002.yaml: not a leadcal version",
         _edit("store/models/m/v0002.yaml", "version:", "versio:")),
    Case("store-version-wrong-number", _store_cmd("show", "m@2"), 1, "it says it is 'm'@7",
         _edit("store/models/m/v0002.yaml", "version: 2", "version: 7")),
    Case("store-version-invalid-config", _store_cmd("show", "m@2"), 1, "thresholds: mql (10) must be below sql (5)",
         _edit("store/models/m/v0002.yaml", "sql: 30", "sql: 5")),
    Case("store-version-dup-key", _store_cmd("show", "m@2"), 1, "appears twice",
         _edit("store/models/m/v0002.yaml", "store_format: 1", "store_format: 1\nstore_format: 1")),
    Case("store-check-tampered", _store_cmd("check"), 1, "1 problem(s)",
         _edit("store/models/m/v0001.yaml", "mql: 10", "mql: 9")),
    Case("store-check-corrupt-approval", _store_cmd("check"), 1, "1 problem(s)",
         _edit("store/models/m/v0001.approval.json", "{", "[")),
    Case("store-check-lost-audit-line", _store_cmd("check"), 1, "problem(s)",
         lambda d: (d / "store" / "audit.jsonl").write_text("")),
    Case("store-check-half-audit-line", _store_cmd("check"), 1, "1 problem(s)",
         lambda d: open(d / "store" / "audit.jsonl", "a").write('{"action": "sa')),
    Case("store-check-orphan-approval", _store_cmd("check"), 1, "1 problem(s)",
         _write("store/models/m/v0009.approval.json", "{}")),
    Case("store-check-stray-file", _store_cmd("check"), 1, "1 problem(s)", _write("store/models/m/notes.txt", "x")),
    Case("store-check-bad-model-folder", _store_cmd("check"), 1, "1 problem(s)", _mkdir("store/models/bad name")),
    Case("store-check-bad-seed", _store_cmd("check"), 1, "1 problem(s)", _write("store/seed.yaml", "bands: [\n")),
    Case("store-check-bad-settings", _store_cmd("check"), 1, "1 problem(s)",
         _write("store/store.yaml", "required_role: [sales]\n")),
    Case("store-check-missing", ("configs", "check", "--store", "nowhere"), 1, "nowhere: no such store directory"),
    Case("store-approve-tampered", _store_cmd(*APPROVE[:1], "m@1", *APPROVE[2:]), 1,
         "m@1 cannot be approved: models/m/v0001.yaml: changed after it was approved",
         _edit("store/models/m/v0001.yaml", "mql: 10", "mql: 9")),
    Case("store-roles-empty", _store_cmd(*APPROVE), 1, "required_roles: List should have at least 1 item",
         _write("store/store.yaml", "required_roles: []\n")),
    Case("store-roles-misspelt", _store_cmd(*APPROVE), 1, "required_role: unknown key",
         _write("store/store.yaml", "required_role: [sales]\n")),
    Case("store-roles-dup-key", _store_cmd(*APPROVE), 1, "key 'required_roles' appears twice",
         _write("store/store.yaml", "required_roles: [a]\nrequired_roles: [b]\n")),
    Case("store-roles-not-yaml", _store_cmd(*APPROVE), 1, "store.yaml: line", _write("store/store.yaml", "x: [\n")),
    Case("store-roles-list", _store_cmd(*APPROVE), 1, "store.yaml: expected keys and values",
         _write("store/store.yaml", "- sales\n")),
    Case("store-roles-twice", _store_cmd(*APPROVE), 1, "a role is listed twice",
         _write("store/store.yaml", "required_roles: [sales, SALES]\n")),
    Case("store-roles-required-missing", _store_cmd(*APPROVE), 1, "missing sign-off from: legal",
         _write("store/store.yaml", "required_roles: [sales, legal]\n")),
    Case("store-one-person-two-roles", _store_cmd("approve", "m@2", "--signoff", "Ann:sales", "--signoff",
                                                  "ann:marketing", "--rationale", "x", "--db", "small.duckdb"), 1,
         "each required role needs a different person"),
    Case("store-missing-role", _store_cmd("approve", "m@2", "--signoff", "Ann:sales", "--rationale", "x", "--db",
                                          "small.duckdb"), 1, "missing sign-off from: marketing"),
    Case("store-no-rationale", _store_cmd("approve", "m@2", "--signoff", "Ann:sales", "--signoff", "Bo:marketing",
                                          "--rationale", " ", "--db", "small.duckdb"), 1, "rationale is required"),
    Case("store-approve-twice", _store_cmd(*APPROVE[:1], "m@1", *APPROVE[2:]), 1, "m@1 is already approved"),
    Case("store-approve-unknown-version", _store_cmd(*APPROVE[:1], "m@9", *APPROVE[2:]), 1, "has no version 9"),
    Case("store-signoff-without-role", _store_cmd("approve", "m@2", "--signoff", "Ann", "--rationale", "x"), 1,
         "write it as NAME:ROLE"),
    Case("store-signoff-newline", _store_cmd("approve", "m@2", "--signoff", "Ann\nx:sales", "--rationale", "x"), 1,
         "sign-off name: use a single line"),
    Case("store-export-over-version", _store_cmd("export", "m", "--format", "sql", "--out",
                                                 "store/models/m/v0001.yaml"), 1, "is inside the config store"),
    Case("store-export-over-version-forced", _store_cmd("export", "m", "--format", "sql", "--force", "--out",
                                                        "store/models/m/v0001.yaml"), 1, "is inside the config store"),
    Case("store-export-over-audit", _store_cmd("export", "m", "--format", "yaml", "--out", "store/audit.jsonl"), 1,
         "is inside the config store"),
    Case("store-export-over-approval", _store_cmd("export", "m", "--format", "yaml", "--force", "--out",
                                                  "store/models/m/v0001.approval.json"), 1, "is inside the config store"),
    Case("store-export-into-store-folder", _store_cmd("export", "m", "--format", "yaml", "--out", "store/x.yaml"), 1,
         "is inside the config store"),
    Case("store-export-via-symlink", _store_cmd("export", "m", "--format", "yaml", "--force", "--out", "link.yaml"), 1,
         "is inside the config store", lambda d: os.symlink(d / "store" / "models" / "m" / "v0001.yaml", d / "link.yaml")),
    Case("store-export-over-db", _store_cmd("export", "m", "--format", "sql", "--force", "--out", "small.duckdb"), 1,
         "is a DuckDB database"),
    Case("store-export-over-renamed-db", _store_cmd("export", "m", "--format", "sql", "--force", "--out", "data.sql"), 1,
         "is a DuckDB database", lambda d: shutil.copy(d / "small.duckdb", d / "data.sql")),
    Case("store-export-over-file", _store_cmd("export", "m", "--format", "sql", "--out", "c.yaml"), 1,
         "already exists; choose another name (or --force"),
    Case("store-export-to-directory", _store_cmd("export", "m", "--format", "sql", "--force", "--out", "folder"), 1,
         "is not a regular file", _mkdir("folder")),
    Case("store-export-to-fifo", _store_cmd("export", "m", "--format", "sql", "--force", "--out", "pipe.sql"), 1,
         "is not a regular file", _fifo("pipe.sql")),
    Case("store-export-audit-unwritable", _store_cmd("export", "m", "--format", "sql", "--out", "x.sql"), 1,
         "cannot append to the audit trail", _swap_audit_for_a_folder),
    Case("store-save-audit-unwritable", _store_cmd("save", "m", "--file", "c.yaml"), 1,
         "cannot append to the audit trail", _swap_audit_for_a_folder),
    Case("store-export-html-no-db", _store_cmd("export", "m", "--format", "html", "--out", "r.html"), 1,
         "--format html needs --db", lambda d: os.environ.pop("LEADCAL_DB", None)),
    Case("store-export-unknown-model", _store_cmd("export", "nope", "--format", "yaml", "--out", "x.yaml"), 1,
         "no model named 'nope'"),
    Case("store-show-unknown-version", _store_cmd("show", "m@9"), 1, "has no version 9"),
    Case("store-diff-bad-ref", _store_cmd("diff", "m@x", "m@1"), 1, "whole number"),
    Case("store-diff-traversal", _store_cmd("diff", "../m@1", "m@1"), 1, "model name '../m'"),
    Case("store-save-traversal", _store_cmd("save", "../evil", "--file", "c.yaml"), 1, "model name '../evil'"),
    Case("store-save-newline-name", _store_cmd("save", "m\n", "--file", "c.yaml"), 1, "model name 'm\\n'"),
    Case("store-save-dotted-name", _store_cmd("save", "a.b", "--file", "c.yaml"), 1, "model name 'a.b'"),
    Case("store-save-invalid-config", _store_cmd("save", "m", "--file", "bad.yaml"), 1, "mql (40) must be below",
         _write("bad.yaml", _config("thresholds: {mql: 10, sql: 30}", "thresholds: {mql: 40, sql: 30}"))),
    Case("store-save-unknown-parent", _store_cmd("save", "m", "--file", "c.yaml", "--parent", "m@9"), 1,
         "has no version 9"),
    Case("store-save-author-newline", _store_cmd("save", "m", "--file", "c.yaml", "--author", "ann\nx"), 1,
         "author: use a single line"),
    Case("store-is-a-file", ("configs", "save", "m", "--file", "c.yaml", "--store", "c.yaml"), 1, "c.yaml"),
]


# ------------------------------------------------------------------ command lines


CLI_CASES = [
    Case("cli-no-command", (), 2, "the following arguments are required: COMMAND"),
    Case("cli-unknown-command", ("frobnicate",), 2, "invalid choice: 'frobnicate'"),
    Case("cli-configs-no-action", ("configs",), 2, "the following arguments are required: ACTION"),
    Case("cli-export-no-out", ("configs", "export", "m", "--format", "sql"), 2, "--out"),
    Case("cli-export-bad-format", ("configs", "export", "m", "--format", "pdf", "--out", "x"), 2, "invalid choice: 'pdf'"),
    Case("cli-export-bad-dialect", ("configs", "export", "m", "--format", "sql", "--dialect", "oracle", "--out", "x"),
         2, "invalid choice: 'oracle'"),
    Case("cli-show-bad-version", ("configs", "show", "m", "--version", "two"), 2, "invalid int value: 'two'"),
    Case("cli-diff-one-ref", ("configs", "diff", "m@1"), 2, "the following arguments are required: after"),
    Case("cli-approve-no-rationale", ("configs", "approve", "m@2"), 2, "--rationale"),
    Case("cli-score-no-out", ("score", "--db", "small.duckdb"), 2, "--out"),
    Case("cli-report-bad-format", ("report", "--format", "xml"), 2, "invalid choice: 'xml'"),
    Case("cli-validate-two-args", ("validate", "a.yaml", "b.yaml"), 2, "unrecognized arguments: b.yaml"),
    Case("cli-drift-bad-grain", ("drift", "--grain", "day"), 3, "invalid choice: 'day'"),
    Case("cli-drift-unknown-flag", ("drift", "--colour"), 3, "unrecognized arguments: --colour"),
    Case("cli-drift-bad-format", ("drift", "--format", "pdf"), 3, "invalid choice: 'pdf'"),
    Case("cli-suggest-holdout", ("suggest", "--out", "s.yaml", "--holdout", "0.9"), 2, "hold-out share"),
    Case("cli-suggest-holdout-text", ("suggest", "--out", "s.yaml", "--holdout", "half"), 2, "--holdout"),
    Case("cli-demo-leads-text", ("demo", "--leads", "many"), 2, "invalid int value: 'many'"),
    Case("cli-demo-exists", ("demo", "--db", "small.duckdb"), 1, "small.duckdb already exists"),
    Case("cli-import-bad-format", ("import", "leads.csv", "--db", "x.duckdb", "--format", "xml"), 2, "invalid choice"),
    Case("cli-import-no-db", ("import", "leads.csv"), 2, "--db"),
    Case("cli-score-bad-suffix", ("score", "--db", "small.duckdb", "--config", "c.yaml", "--out", "s.txt"), 1,
         "use a .csv or .parquet file name"),
    Case("cli-score-over-db", ("score", "--db", "small.duckdb", "--config", "c.yaml", "--out", "small.duckdb"), 1,
         "--out small.duckdb: use a .csv or .parquet file name"),
    Case("cli-score-over-db-forced", ("score", "--db", "small.duckdb", "--config", "c.yaml", "--force", "--out",
                                      "x.parquet"), 1, "is a DuckDB database",
         lambda d: shutil.copy(d / "small.duckdb", d / "x.parquet")),
    Case("cli-score-over-file", ("score", "--db", "small.duckdb", "--config", "c.yaml", "--out", "o.csv"), 1,
         "--out o.csv already exists", _write("o.csv", "mine")),
    Case("cli-score-into-store", ("score", "--db", "small.duckdb", "--config", "c.yaml", "--out", "store/s.csv"), 1,
         "is inside the config store"),
    Case("cli-score-to-directory", ("score", "--db", "small.duckdb", "--config", "c.yaml", "--force", "--out",
                                    "d.csv"), 1, "is not a regular file", _mkdir("d.csv")),
    Case("cli-suggest-bad-suffix", ("suggest", "--db", "small.duckdb", "--config", "c.yaml", "--out", "s.txt"), 1,
         "use a .yaml or .yml file name"),
    Case("cli-suggest-over-file", ("suggest", "--db", "small.duckdb", "--config", "c.yaml", "--out", "c.yaml"), 1,
         "already exists"),
    Case("cli-suggest-into-store", ("suggest", "--db", "small.duckdb", "--config", "c.yaml", "--out",
                                    "store/s.yaml"), 1, "is inside the config store"),
]


# ------------------------------------------------------------------ `leadcal explain` and `leadcal leads`


def _explain(*argv: str) -> tuple[str, ...]:
    return ("explain", *argv, "--db", "small.duckdb", "--config", "c.yaml")


def _leads(*argv: str) -> tuple[str, ...]:
    return ("leads", "--db", "small.duckdb", "--config", "c.yaml", "--store", "store", "--compare", "m@1", *argv)


_SEGMENTED = _write("seg.yaml", SMALL_CONFIG.replace("source:\n", "source:\n  leads: {segment: email_domain_type}\n"))

LEAD_CASES = [
    Case("explain-unknown-lead", _explain("77"), 1, "lead '77': no scored lead has this id"),
    Case("explain-text-id", _explain("abc"), 1, "lead 'abc': lead ids here are whole numbers"),
    Case("explain-no-creation-time", ("explain", "3", "--db", "bad.duckdb", "--config", "c.yaml"), 1,
         "lead '3' has no creation time, so it is not scored",
         _db("bad.duckdb", "UPDATE leads SET created_at = NULL WHERE lead_id = 3")),
    Case("explain-outside-segment", ("explain", "1", "--db", "small.duckdb", "--config", "seg.yaml", "--segment", "free"),
         1, "lead '1' is outside the segment filter shown", _SEGMENTED),
    Case("explain-unknown-segment", ("explain", "1", "--db", "small.duckdb", "--config", "seg.yaml", "--segment",
                                     "nope"), 1, "--segment nope: no lead has this email_domain_type", _SEGMENTED),
    Case("explain-segment-unmapped", _explain("1", "--segment", "free"), 1, "the config maps no segment column"),
    Case("explain-compare-missing-version", _explain("1", "--store", "store", "--compare", "m@9"), 1, "m"),
    Case("cli-explain-no-id", ("explain",), 2, "LEAD_ID"),
    Case("leads-unknown-band", _leads("--band", "55-65", "--out", "l.csv"), 1,
         "band '55-65': the bands of small are < 10, 10–20, 20–30, >= 30"),
    Case("leads-unknown-tier", _leads("--tier", "hot", "--out", "l.csv"), 1, "tier 'hot': use one of"),
    Case("leads-unknown-cell", _leads("--cell", "Z9", "--out", "l.csv"), 1, "grid cell 'Z9'"),
    Case("leads-two-selections", _leads("--band", "10-20", "--tier", "mql", "--out", "l.csv"), 1,
         "give one of --band, --tier, --moved or --cell"),
    Case("leads-no-selection", _leads("--out", "l.csv"), 1, "give one of --band"),
    Case("leads-bad-suffix", _leads("--tier", "mql", "--out", "l.txt"), 1, "use a .csv or .parquet file name"),
    Case("leads-over-db", _leads("--tier", "mql", "--force", "--out", "small.duckdb"), 1, "small.duckdb"),
    Case("leads-into-store", _leads("--tier", "mql", "--out", "store/l.csv"), 1, "store"),
    Case("leads-bad-sort", _leads("--tier", "mql", "--sort", "colour", "--out", "l.csv"), 1, "sort 'colour'"),
]


# ------------------------------------------------------------------ hostile but valid: must work, write only their output


def _formula_db(d: Path) -> None:
    con = duckdb.connect(str(d / "f.duckdb"))
    con.execute("CREATE TABLE leads (lead_id VARCHAR, created_at TIMESTAMP, seniority VARCHAR, company_size INTEGER, "
                "email_domain_type VARCHAR)")
    con.execute("CREATE TABLE outcomes (lead_id VARCHAR, converted_at TIMESTAMP, deal_value DOUBLE)")
    con.executemany("INSERT INTO leads VALUES (?, ?, 'VP', 10, 'x')",
                    [('=HYPERLINK("http://x.example","x")', T0), ("@SUM(A1)", T0 + DAY), ("+1", T0 + 2 * DAY)])
    con.close()
    (d / "f.yaml").write_text(SMALL_CONFIG.replace("  events: {}\n", "").split("engagement:")[0]
                              + "thresholds: {mql: 10, sql: 30}\nbands: [10, 20, 30]\n")


VALID_CASES = [
    Case("ok-score-formula-ids", ("score", "--db", "f.duckdb", "--config", "f.yaml", "--out", "s.csv"), 0, "",
         _formula_db, output=("s.csv",)),
    Case("ok-import-quoted-newlines", _import("q.csv"), 0, "",
         _write("q.csv", 'Lead ID,Created,Note,Won?\n1,2024-01-01,"two\nlines",Yes\n2,2024-01-02,x,No\n'
                         '3,2024-01-03,y,No\n'),
         output=("new.duckdb", "store/new.yaml", "store/models/new/v0001.yaml", "store/audit.jsonl")),  # + starter
    Case("ok-yes-no-values-as-keys", ("validate", "y.yaml"), 0, "",
         _write("y.yaml", _config("{VP: 10, Student: -5}", "{Yes: 10, No: -5, 1: 2, 2024-01-01: 1}"))),
    Case("ok-export-force-over-own-file", _store_cmd("export", "m", "--format", "sql", "--force", "--out", "o.sql"), 0,
         "", _write("o.sql", "an older export"), output=("o.sql", "store/audit.jsonl")),
    Case("ok-leads-formula-ids", ("leads", "--db", "f.duckdb", "--config", "f.yaml", "--store", "store", "--tier",
                                  "below_mql", "--out", "l.csv"), 0, "", _formula_db, output=("l.csv",)),
    Case("ok-explain-formula-id", ("explain", "@SUM(A1)", "--db", "f.duckdb", "--config", "f.yaml", "--format",
                                   "json"), 0, "", _formula_db),
    Case("ok-list", _store_cmd("list"), 0, ""),
    Case("ok-check", _store_cmd("check"), 0, ""),
]


def catalogue() -> list[Case]:
    """Every case, ids unique."""
    cases = _config_cases() + _database_cases() + IMPORT_CASES + STORE_CASES + CLI_CASES + LEAD_CASES + VALID_CASES
    ids = [c.id for c in cases]
    assert len(ids) == len(set(ids)), sorted({i for i in ids if ids.count(i) > 1})
    return cases
