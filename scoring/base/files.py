"""Writing output files whole, and only where it loses nothing.

A reader never sees half a file and a failure leaves none (written to a temporary file
beside the target, then linked or renamed into place). :func:`check_output` decides, before
anything is computed or written, whether an output path is safe: never inside a config
store, never over a DuckDB database, never over an existing file unless ``--force``.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Callable, Iterable

DUCKDB_MAGIC = b"DUCK"
"""DuckDB database files carry these bytes at offset 8."""


class OutputRefused(ValueError):
    """An output path leadcal will not write to, with the reason."""


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def is_duckdb_file(path: str | Path) -> bool:
    """Whether a file is a DuckDB database (by its header), so no export is written over one."""
    try:
        with open(path, "rb") as fh:
            head = fh.read(12)
    except OSError:
        return False
    return head[8:12] == DUCKDB_MAGIC


def _is_store(folder: Path) -> bool:
    return (folder / "audit.jsonl").is_file() or ((folder / "models").is_dir() and (folder / ".journal").is_dir())


def check_output(out: str | Path, *, force: bool = False, stores: Iterable[str | Path | None] = (),
                 databases: Iterable[str | Path | None] = (), flag: str = "--out") -> Path:
    """Refuse (OutputRefused) an output path that would lose something; the path otherwise.

    Refused: a path inside a config store (``stores``, or any folder holding an
    ``audit.jsonl``), a DuckDB database or one of ``databases`` (even with ``force``), a
    directory, pipe or device, and an existing file unless ``force``.
    """
    out = Path(out)
    if not out.name or out.name in (".", ".."):
        raise OutputRefused(f"{flag} {out}: give a file name")
    resolved = out.resolve()
    for root in stores:
        if root is None:
            continue
        r = Path(root).resolve()
        if resolved == r or r in resolved.parents:
            raise OutputRefused(f"{flag} {out} is inside the config store {root}; leadcal writes there only "
                                "through `leadcal configs save/approve`, never as an export")
    for folder in resolved.parents:
        if _is_store(folder):
            raise OutputRefused(f"{flag} {out} is inside the config store {folder}; leadcal writes there only "
                                "through `leadcal configs save/approve`, never as an export")
    dbs = {Path(d).resolve() for d in databases if d}
    if out.is_symlink() or out.exists():
        if not resolved.is_file():  # checked first: reading a FIFO's header would block
            raise OutputRefused(f"{flag} {out} exists and is not a regular file (a directory, pipe or device)")
        if resolved in dbs or is_duckdb_file(resolved):
            raise OutputRefused(f"{flag} {out} is a DuckDB database; leadcal never writes to it "
                                "(not even with --force)")
        if not force:
            raise OutputRefused(f"{flag} {out} already exists; choose another name (or --force to replace it)")
    elif resolved in dbs:
        raise OutputRefused(f"{flag} {out} is the database leadcal reads; it never writes to it")
    return out


def check_output_folder(out: str | Path, *, stores: Iterable[str | Path | None] = (),
                        databases: Iterable[str | Path | None] = (), flag: str = "--out") -> Path:
    """Refuse (OutputRefused) a folder for an export (dbt) inside a config store, or that is a file.

    The folder may exist (its files are then each checked by the writer, which never
    replaces one unless asked); a path that is a file, a database included, is refused.
    """
    out = Path(out)
    if not out.name or out.name in (".", ".."):
        raise OutputRefused(f"{flag} {out}: give a folder name")
    resolved = out.resolve()
    roots = [Path(r).resolve() for r in stores if r is not None]
    inside = [r for r in roots if resolved == r or r in resolved.parents]
    inside += [f for f in (resolved, *resolved.parents) if _is_store(f)]
    if inside:
        raise OutputRefused(f"{flag} {out} is inside the config store {inside[0]}; leadcal writes there only "
                            "through `leadcal configs save/approve`, never as an export")
    dbs = {Path(d).resolve() for d in databases if d}
    if out.is_symlink() or out.exists():
        if resolved in dbs or (resolved.is_file() and is_duckdb_file(resolved)):
            raise OutputRefused(f"{flag} {out} is a DuckDB database; leadcal never writes to it")
        if not resolved.is_dir():
            raise OutputRefused(f"{flag} {out} exists and is not a folder; the dbt export writes a folder")
    return out


def write_atomic(out: str | Path, write: Callable[[str], None], overwrite: bool = True) -> Path:
    """Call ``write(tmp_path)`` and move the result to ``out`` with normal permissions.

    Without ``overwrite`` the result is linked into place, which fails (FileExistsError) if
    ``out`` exists, even if it appeared while ``write`` ran.
    """
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{out.name}.", dir=out.parent)
    os.close(fd)
    try:
        write(tmp)
        os.chmod(tmp, 0o666 & ~_umask())
        if overwrite:
            os.replace(tmp, out)
        else:
            try:
                os.link(tmp, out)
            except FileExistsError:
                raise OutputRefused(f"{out} already exists; choose another name (or --force to replace it)") \
                    from None
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return out


def write_text_atomic(out: str | Path, text: str, overwrite: bool = True) -> Path:
    """Write text to ``out`` whole."""
    return write_atomic(out, lambda tmp: Path(tmp).write_text(text, encoding="utf-8"), overwrite=overwrite)
