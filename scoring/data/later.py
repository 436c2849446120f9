"""The columns a first view goes without, read after it: the account key.

An account key has a value per few leads (3.5M companies at 10M leads) and only the account
view groups by it, yet coding it with the other columns cost 3.7 s of a 12 s first load. An
extraction told so (``extract_features(..., later=later_columns(spec))``) leaves it out and puts
a ``LaterCategorical`` in its place; ``read_later`` reads it afterwards and hands it to whoever
waits for it. The app does that after the data-quality checks, or at once for the account view.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..model.features import Categorical, Features, FeatureSpec, LaterCategorical
from ..model.hash_lookup import ABSENT, SHARED, hash_positions
from .extract import (
    BATCH_ROWS,
    Dictionary,
    UniqueIds,
    _categorical,
    _category_texts,
    _dictionary,
    _ids_unique,
    _kept_leads,
    _stored_text,
    _to_numpy,
)
from .source import Source, SourceError, open_source, quote


def later_columns(spec: FeatureSpec) -> tuple[str, ...]:
    """The columns a first view can go without: the account key, which only the account view groups by
    (3.5M companies at 10M leads: 3.7 s of a 12 s extraction). A rule or a segment on the same column
    waits for it, which is slower but gives the same numbers."""
    account = spec.mapping.leads.account
    return (account,) if account is not None and account in spec.categorical else ()


def read_later(path: str | Path, features: Features) -> None:
    """Read the columns ``extract_features`` left for later (``later``) and hand them to whoever waits for
    them; if they cannot be read, those get the reason (a ``SourceError`` naming the column) and it is raised.

    The same leads (each id's first row, in the features' order, checked lead by lead) and the same coding
    (the column's ``_dictionary``, ``_categorical``), from a query of these columns alone that gives each
    lead's stored text as a 64-bit hash (``_hashed_codes``). Read as a join to the dictionary, as the
    extraction codes them, DuckDB built its hash table from the 10M leads' company names and ran out of
    memory; read as texts, the texts sorted and held in Arrow took 1.3 GB beside the app's arrays (hashes: 0.86)."""
    pending = {c: cat for c, cat in features.categorical.items() if isinstance(cat, LaterCategorical) and not cat.ready}
    if not pending:
        return
    try:
        read = _read_later(path, features.spec, tuple(pending), features.lead_id)
    except Exception as exc:
        first = (str(exc).splitlines() or [type(exc).__name__])[0]
        error = SourceError(Path(path).name, [f"the column(s) {', '.join(map(repr, pending))} of the leads could "
                                              f"not be read after the first view: {first}"])
        for cat in pending.values():
            cat.fail(error)
        raise error from None
    for column, cat in pending.items():
        cat.resolve(read[column])


HASH_TRIES = 3
"""Salts tried when two distinct stored texts of a column share a 64-bit hash (at 3.5M companies the
chance is about 3 in 10 million): each try hashes with the next salt."""


class _SharedHash(Exception):
    """Two distinct stored texts of a column hash alike under this salt."""


def _read_later(path: str | Path, spec: FeatureSpec, columns: tuple[str, ...],
                lead_id: np.ndarray) -> dict[str, Categorical]:
    for salt in range(HASH_TRIES):
        with open_source(path) as source:  # closed before the coding: DuckDB then lets go of ~0.5 GB at 10M leads
            unique = _ids_unique(source, spec.mapping)
            dictionaries = {c: _dictionary(source, spec, c, also=_hash('raw', salt)) for c in columns}
            hashes = _lead_hashes(source, spec, columns, lead_id, unique, salt)
        try:
            return {c: _hashed_codes(c, *dictionaries[c], *hashes[c]) for c in columns}
        except _SharedHash:
            continue
    raise ValueError(f"distinct texts shared a hash under {HASH_TRIES} salts")


def _hash(text: str, salt: int) -> str:
    """SQL: a 64-bit hash of a stored text (UBIGINT), under a salt."""
    return f"hash({text}, {int(salt)})"


def _lead_hashes(source: Source, spec: FeatureSpec, columns: tuple[str, ...], lead_id: np.ndarray,
                 unique: UniqueIds, salt: int) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Per column, each kept lead's stored text hashed and whether it has none, in the features' order."""
    select = "".join(f", {_hash(_stored_text('__src.' + quote(c)), salt)} AS __h{i}, __src.{quote(c)} IS NULL AS __z{i}"
                     for i, c in enumerate(columns))
    names = [name for i in range(len(columns)) for name in (f"__h{i}", f"__z{i}")]
    sql = f"WITH {_kept_leads(spec, select, '', unique)}\nSELECT __id, {', '.join(names)} FROM l ORDER BY __created, __id"
    n = lead_id.size
    out = {name: np.empty(n, dtype=np.uint64 if name.startswith("__h") else np.bool_) for name in names}
    at = 0
    for batch in source.con.sql(sql).to_arrow_reader(BATCH_ROWS):
        ids = _to_numpy(batch.column(0))
        if at + ids.size > n or not np.array_equal(ids, lead_id[at:at + ids.size]):
            raise ValueError("the leads table is not the one read before: it changed")
        for name, column in zip(names, batch.columns[1:]):
            out[name][at:at + ids.size] = column.to_numpy(zero_copy_only=False)
        at += ids.size
    if at != n:
        raise ValueError(f"the leads table now has {at:,} leads where it had {n:,}: it changed")
    return {c: (out[f"__h{i}"], out[f"__z{i}"]) for i, c in enumerate(columns)}


def _hashed_codes(column: str, dictionary: Dictionary, keys: np.ndarray, hashes: np.ndarray,
                  none: np.ndarray) -> Categorical:
    """A column from its leads' hashed stored texts: each hash found among the dictionary's (its distinct
    stored texts hashed alike, ``hash_positions``), whose codes ``_categorical`` renumbers as an extraction does."""
    at = np.empty(hashes.size, dtype=np.int64)
    found = hash_positions(keys, hashes, at)
    if found == SHARED:
        raise _SharedHash
    if found == ABSENT and not bool(np.all(none | (at >= 0))):
        raise ValueError(f"the column {column!r} changed")  # a text the dictionary lacks: the table changed
    lookup = np.append(dictionary.codes.to_numpy(), np.int32(-1))  # a lead without text: -1
    return _categorical(_category_texts([dictionary])[0], lookup[np.where(none, -1, at)])
