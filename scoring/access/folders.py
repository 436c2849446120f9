"""Which server files the browser may use: databases and exports in allowed data folders only.

People using the app pick a database or an export file from the folders the admin allowed
(or upload a file); they never type a server path. A name is resolved inside one of those
folders with symlinks and ``..`` refused, so nothing outside them is read. leadcal writes
databases only inside its own data folder. The command line keeps its paths (it runs as the
person typing it).

Folders: leadcal's data folder (``$LEADCAL_DATA``, default ``data``: the demo and imports),
the folders listed in ``$LEADCAL_DATA_DIRS`` (separated by ``:``), and the folder of
``$LEADCAL_DB`` when it is set.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

DATABASE_SUFFIXES = (".duckdb", ".db")
EXPORT_SUFFIXES = (".csv", ".tsv", ".txt", ".parquet", ".pq")
NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$")


class FolderError(ValueError):
    """A path the browser may not use, and why, in words."""


def data_dir() -> Path:
    """leadcal's own data folder (the demo database, imported databases): ``$LEADCAL_DATA`` or ``data``."""
    return Path(os.environ.get("LEADCAL_DATA") or "data")


def allowed_folders() -> list[Path]:
    """Every folder the browser may pick files from, resolved, without duplicates."""
    folders = [data_dir()]
    folders += [Path(p) for p in (os.environ.get("LEADCAL_DATA_DIRS") or "").split(os.pathsep) if p.strip()]
    if os.environ.get("LEADCAL_DB"):
        folders.append(Path(os.environ["LEADCAL_DB"]).parent)
    out: list[Path] = []
    for folder in folders:
        resolved = Path(os.path.realpath(folder))
        if resolved not in out:
            out.append(resolved)
    return out


def inside(path: str | Path, folders: list[Path] | None = None) -> Path:
    """``path`` as a file in one of the allowed folders; FolderError when it is not.

    Refused: ``..`` anywhere, a symlink anywhere below the folder (the file itself too), and
    anything that resolves outside every allowed folder.
    """
    folders = allowed_folders() if folders is None else folders
    text = str(path)
    if not text.strip():
        raise FolderError("no file given")
    if ".." in Path(text).parts:
        raise FolderError(f"{text}: '..' is not allowed; pick a file from the data folders")
    candidate = Path(os.path.abspath(text))  # absolute, without following links
    for folder in folders:
        try:
            rest = candidate.relative_to(folder)
        except ValueError:
            continue
        step = folder
        for part in rest.parts:
            step = step / part
            if step.is_symlink():
                raise FolderError(f"{text}: a symbolic link ({part}) is not allowed")
        return step
    raise FolderError(f"{text}: not in the data folders leadcal may use "
                      f"({', '.join(str(f) for f in folders)})")


@dataclass(frozen=True)
class Choice:
    """A file the browser may pick: what to show and where it is."""

    label: str
    path: Path


def _folder_labels(folders: list[Path]) -> list[str]:
    """What the browser is told of each folder: its own name (numbered when two share one), never its path."""
    names = [f.name or "folder" for f in folders]
    return [n if names.count(n) == 1 else f"{n} {names[:i + 1].count(n)}" for i, n in enumerate(names)]


def _files(suffixes: tuple[str, ...], folders: list[Path]) -> list[Choice]:
    seen, out = set(), []
    many = len(folders) > 1
    for folder, shown in zip(folders, _folder_labels(folders)):
        try:
            entries = sorted(os.scandir(folder), key=lambda e: e.name.lower())
        except OSError:
            continue
        for entry in entries:
            if entry.is_symlink() or not entry.is_file(follow_symlinks=False):
                continue
            if not entry.name.lower().endswith(suffixes) or entry.name.startswith("."):
                continue
            path = Path(entry.path)
            if path in seen:
                continue
            seen.add(path)
            out.append(Choice(f"{entry.name}  ({shown})" if many else entry.name, path))
    return out


def databases(folders: list[Path] | None = None) -> list[Choice]:
    """DuckDB files directly in the allowed folders (symlinks left out)."""
    return _files(DATABASE_SUFFIXES, allowed_folders() if folders is None else folders)


def exports(folders: list[Path] | None = None) -> list[Choice]:
    """CSV and Parquet files directly in the allowed folders (symlinks left out)."""
    return _files(EXPORT_SUFFIXES, allowed_folders() if folders is None else folders)


def import_target(name: str) -> Path:
    """Where an import named ``name`` is written: ``<data folder>/<name>.duckdb``, nowhere else."""
    name = (name or "").strip()
    if name.lower().endswith(".duckdb"):
        name = name[: -len(".duckdb")]
    if not NAME.match(name):
        raise FolderError(f"database name {name!r}: use 1-64 letters, digits, '-' or '_' (no folders, no dots); "
                          f"it is written to {data_dir()}")
    target = data_dir() / f"{name}.duckdb"
    if target.is_symlink():
        raise FolderError(f"{target}: is a symbolic link; choose another name")
    return target
