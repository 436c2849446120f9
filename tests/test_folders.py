"""The browser uses server files only inside the allowed data folders: no '..', no symlinks,
nothing outside; imports are written only to leadcal's own data folder."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from scoring.access.folders import FolderError, allowed_folders, databases, exports, import_target, inside


@pytest.fixture
def tree(tmp_path, monkeypatch):
    data = tmp_path / "data"
    extra = tmp_path / "exports"
    data.mkdir()
    extra.mkdir()
    (data / "demo.duckdb").write_bytes(b"x")
    (data / "notes.txt.bak").write_text("x")
    (extra / "contacts.csv").write_text("a\n1\n")
    (extra / "deals.parquet").write_bytes(b"PAR1")
    (extra / ".hidden.csv").write_text("a\n")
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.csv").write_text("password\n")
    (extra / "link.csv").symlink_to(outside / "secret.csv")
    (extra / "linkdir").symlink_to(outside)
    (data / "passwd.duckdb").symlink_to("/etc/passwd")
    monkeypatch.setenv("LEADCAL_DATA", str(data))
    monkeypatch.setenv("LEADCAL_DATA_DIRS", str(extra))
    monkeypatch.delenv("LEADCAL_DB", raising=False)
    return data, extra, outside


def test_listing_shows_files_in_the_folders_and_no_links(tree):
    data, extra, _ = tree
    assert allowed_folders() == [Path(os.path.realpath(data)), Path(os.path.realpath(extra))]
    assert [c.path.name for c in databases()] == ["demo.duckdb"]
    assert [c.path.name for c in exports()] == ["contacts.csv", "deals.parquet"]


def test_labels_name_the_folder_never_its_path(tree, tmp_path, monkeypatch):
    data, extra, _ = tree
    assert [c.label for c in databases()] == ["demo.duckdb  (data)"]
    assert [c.label for c in exports()] == ["contacts.csv  (exports)", "deals.parquet  (exports)"]
    twin = tmp_path / "other" / "exports"  # two folders with one name: numbered, still no path
    twin.mkdir(parents=True)
    (twin / "more.csv").write_text("a\n1\n")
    monkeypatch.setenv("LEADCAL_DATA_DIRS", f"{extra}{os.pathsep}{twin}")
    labels = [c.label for c in exports()]
    assert labels == ["contacts.csv  (exports 1)", "deals.parquet  (exports 1)", "more.csv  (exports 2)"]
    assert not any(str(tmp_path) in label for label in labels)


@pytest.mark.parametrize("path, words", [
    ("/etc/passwd", "not in the data folders"),
    ("{data}/../outside/secret.csv", "'..' is not allowed"),
    ("{extra}/link.csv", "a symbolic link (link.csv) is not allowed"),
    ("{extra}/linkdir/secret.csv", "a symbolic link (linkdir) is not allowed"),
    ("{data}/passwd.duckdb", "a symbolic link (passwd.duckdb) is not allowed"),
    ("", "no file given"),
])
def test_paths_outside_links_and_dot_dot_are_refused(tree, path, words):
    data, extra, _ = tree
    with pytest.raises(FolderError) as exc:
        inside(path.format(data=os.path.realpath(data), extra=os.path.realpath(extra)))
    assert words in str(exc.value)


def test_a_file_in_a_folder_is_accepted(tree):
    _, extra, _ = tree
    assert inside(Path(os.path.realpath(extra)) / "contacts.csv").read_text() == "a\n1\n"


@pytest.mark.parametrize("name", ["../evil", "/etc/passwd", "a/b", "sub.dir", "", " ", "x" * 65])
def test_import_target_is_a_name_in_the_data_folder(tree, name):
    with pytest.raises(FolderError, match="use 1-64 letters"):
        import_target(name)


def test_import_target_names(tree):
    data, _, _ = tree
    assert import_target("crm_2024") == data / "crm_2024.duckdb"
    assert import_target("crm.duckdb") == data / "crm.duckdb"
    with pytest.raises(FolderError, match="symbolic link"):
        import_target("passwd")
