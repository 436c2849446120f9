"""Which arm of a champion/challenger test a lead belongs to: a stable hash of its id and the test's salt.

The rule is one every warehouse computes identically, so the exported SQL routes a lead
exactly as leadcal's readout counts it: ``md5(salt || ':' || id as text)`` as lowercase
hex, its first 8 hex digits read as a number from 0 to 16^8 - 1 (the *bucket*); a lead
is the challenger's when its bucket is below ``round(share * 16^8)``. In SQL the bucket
is compared as text (8 lowercase hex digits against the cut-off written the same way:
for equal-length hex text, text order is number order), so no dialect has to parse hex.

Ids hash as their text (``123`` for an integer id, the string itself for a text id); the
same lead gets the same arm on every run, and a new salt gives an independent split.
"""

from __future__ import annotations

import re

import duckdb
import numpy as np
import pyarrow as pa

HEX_DIGITS = 8
BUCKETS = 16 ** HEX_DIGITS
SALT = re.compile(r"[A-Za-z0-9_-]{1,64}")


def check_salt(salt: str) -> str:
    """A salt usable in every dialect as a plain literal; ValueError says what is wrong."""
    if not isinstance(salt, str) or not SALT.fullmatch(salt):
        raise ValueError(f"test salt {salt!r}: use 1-64 letters, digits, '-' or '_'")
    return salt


def cutoff(share: float) -> int:
    """The first bucket of the champion's arm: buckets below it are the challenger's."""
    if not 0.0 < float(share) < 1.0:
        raise ValueError(f"share routed to the challenger must be between 0 and 1 (exclusive), got {share!r}")
    return int(round(float(share) * BUCKETS))


def cutoff_hex(share: float) -> str:
    """:func:`cutoff` as 8 lowercase hex digits, how the exported SQL compares it."""
    return f"{cutoff(share):0{HEX_DIGITS}x}"


def buckets(lead_ids: np.ndarray, salt: str) -> np.ndarray:
    """Each lead's bucket (uint32), from DuckDB's md5 over the whole id column at once (no Python loop)."""
    check_salt(salt)
    ids = pa.array(np.asarray(lead_ids)) if not isinstance(lead_ids, pa.Array) else lead_ids
    if len(ids) == 0:
        return np.zeros(0, dtype=np.uint32)
    table = pa.table({"pos": pa.array(np.arange(len(ids), dtype=np.int64)), "id": ids})
    con = duckdb.connect(":memory:")
    try:
        con.register("leadcal_route_ids", table)
        hexes = con.sql(
            f"SELECT lower(substr(md5(? || ':' || CAST(id AS VARCHAR)), 1, {HEX_DIGITS})) AS h "
            "FROM leadcal_route_ids ORDER BY pos", params=[salt]).to_arrow_table().column("h")
    finally:
        con.close()
    text = np.asarray(hexes.to_numpy(zero_copy_only=False), dtype=f"S{HEX_DIGITS}")
    chars = text.view(np.uint8).reshape(-1, HEX_DIGITS).astype(np.uint32)
    nibbles = np.where(chars >= ord("a"), chars - (ord("a") - 10), chars - ord("0"))
    weights = (16 ** np.arange(HEX_DIGITS - 1, -1, -1)).astype(np.uint32)
    return (nibbles * weights).sum(axis=1, dtype=np.uint64).astype(np.uint32)


def challenger_mask(lead_ids: np.ndarray, salt: str, share: float) -> np.ndarray:
    """True for the leads routed to the challenger."""
    return buckets(lead_ids, salt) < np.uint64(cutoff(share))
