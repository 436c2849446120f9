"""Extracted features kept on disk, so a restart on an unchanged database skips the extraction.

Reading 10M leads and their 100M events out of DuckDB takes tens of seconds; the result
(the lead arrays and the kept point-in-time events) is a few hundred MB of plain numpy
arrays. They are written once per database and decay-free spec into leadcal's own cache
folder and memory-mapped on the next start, so the arrays cost nothing until they are
read and come from the operating system's page cache.

Never trusted when stale: an entry is keyed by the database file's identity (resolved
path, device, inode, size, modification time) and the spec, and records the data's end
(the latest time in the data that is not in the future). A load checks all of them and
the data's end again with one query, because a timestamp that was in the future at
extraction may have come into the past since; any difference, any missing or unreadable
part, means no entry (the caller extracts again). Arrays are loaded with
``allow_pickle=False``: the cache holds data, never code. The user's database is only
read; the cache lives in ``$LEADCAL_CACHE``, else ``$XDG_CACHE_HOME/leadcal``, else
``~/.cache/leadcal``.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import shutil
import tempfile
import time
from dataclasses import asdict
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.ipc  # noqa: F401  (pa.ipc)

from ..model.activity import Activity
from ..model.features import Categorical, Features, FeatureSpec, KeptEvents, spec_cache_key
from ..model.findings import Finding, QualityReport
from ..model.kpis import month_status_key
from .extract import data_end
from .source import Source

FORMAT = 4
"""Bumped whenever what an entry holds changes: older entries are then never read."""
FIELDS = ("spec", "lead_id", "created_at", "scoring_at", "converted", "mature", "categorical", "numeric",
          "signals", "data_end", "quality", "events", "open", "deal_value", "converted_at", "cache")
"""The ``Features`` fields an entry holds (``spec`` and ``cache`` are the caller's); a test fails when
``Features`` gains one this module does not know, so a new field is never silently lost."""
MAX_ENTRIES = 4
"""Entries kept (least recently used go first); each is one database's extraction."""


def cache_dir() -> Path:
    """Where entries live: ``$LEADCAL_CACHE``, else the user's cache folder."""
    if os.environ.get("LEADCAL_CACHE"):
        return Path(os.environ["LEADCAL_CACHE"])
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "leadcal" / "features"


def database_identity(path: str | Path) -> dict:
    """What tells one state of a database file from another without reading it."""
    resolved = Path(path).resolve()
    st = resolved.stat()
    return {"path": str(resolved), "device": st.st_dev, "inode": st.st_ino, "size": st.st_size,
            "mtime_ns": st.st_mtime_ns}


def entry_key(identity: dict, spec: FeatureSpec) -> str:
    """The folder name of an entry: a hash of the format, the database identity and the spec."""
    text = json.dumps([FORMAT, identity, spec_cache_key(spec)], sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:32]


# --------------------------------------------------------------------------- writing


def _arrays(features: Features) -> dict[str, np.ndarray]:
    """Every array of a feature set under a flat name (the manifest says how to rebuild)."""
    out = {"lead_id": features.lead_id, "created_at": features.created_at, "scoring_at": features.scoring_at,
           "converted": features.converted, "mature": features.mature}
    for i, (name, cat) in enumerate(features.categorical.items()):
        out[f"cat{i}.codes"] = cat.codes
        out[f"cat{i}.categories"] = cat.categories
    for i, values in enumerate(features.numeric.values()):
        out[f"num{i}"] = values
    for i, activity in enumerate(features.signals.values()):
        out[f"sig{i}.rows"], out[f"sig{i}.values"] = activity.rows, activity.values
    if features.events is not None:
        out["events.row"], out["events.starts"], out["events.age"] = (
            features.events.row, features.events.starts, features.events.age)
    for name in ("open", "deal_value", "converted_at"):
        if getattr(features, name) is not None:
            out[name] = getattr(features, name)
    key, _ = month_status_key(features)  # derived, but 0.4 s of a restart's first view at 10M leads
    out["derived.month_status_key"] = key
    return out


def save(path: str | Path, features: Features, folder: Path | None = None) -> Path | None:
    """Write the features of database ``path`` as a cache entry; None when it cannot be written.

    A cache is an optimisation: a full disk or a read-only folder costs the next start its
    speed, never its correctness, so failures are swallowed (and the half-written entry
    removed). The entry appears at once, by renaming a finished temporary folder. A pending
    quality report (the app's checks still running) is waited for before the entry is finished.
    """
    folder = folder or cache_dir()
    try:
        identity = database_identity(path)
        key = entry_key(identity, features.spec)
        target = folder / key
        if target.exists():
            return target
        folder.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{key}.", dir=folder))
        try:
            arrays = _arrays(features)
            for name, array in arrays.items():
                _write(tmp, name, array)
            quality = features.quality.complete_report()  # the app's checks may still run: the entry holds them
            if quality.error is not None:  # findings unknown: no entry, the next start checks again
                shutil.rmtree(tmp, ignore_errors=True)
                return None
            manifest = {
                "format": FORMAT, "identity": identity, "spec": spec_cache_key(features.spec),
                "data_end": features.data_end.isoformat(), "n": features.n,
                "categorical": list(features.categorical), "numeric": list(features.numeric),
                "signals": list(features.signals),
                "events_types": list(features.events.types) if features.events is not None else None,
                "quality": {"findings": [asdict(f) for f in quality.findings], "counts": quality.counts},
                "arrays": sorted(arrays),
                "month_span": month_status_key(features)[1],
            }
            (tmp / "manifest.json").write_text(json.dumps(manifest))
            os.rename(tmp, target)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        _evict(folder, keep=target)
        features.cache["disk_entry"] = target
        return target
    except (OSError, pa.ArrowException):
        return None


def _evict(folder: Path, keep: Path) -> None:
    """Remove the least recently used entries beyond ``MAX_ENTRIES`` (and abandoned temporaries)."""
    entries = [p for p in folder.iterdir() if p.is_dir() and not p.name.startswith(".")]
    entries.sort(key=lambda p: p.stat().st_mtime, reverse=True)
    for old in entries[MAX_ENTRIES:]:
        if old != keep:
            shutil.rmtree(old, ignore_errors=True)
    for tmp in folder.glob(".*"):
        try:
            if time.time() - tmp.stat().st_mtime > 3600:  # an interrupted write
                shutil.rmtree(tmp, ignore_errors=True)
        except OSError:
            pass


def _write(folder: Path, name: str, array: np.ndarray) -> None:
    """One array: ``.npy`` for numbers and times, an Arrow file for text (object arrays,
    which ``.npy`` could only hold pickled)."""
    if array.dtype == object:
        table = pa.table({"v": pa.array(array, from_pandas=True)})
        with pa.OSFile(str(folder / f"{name}.arrow"), "wb") as sink, pa.ipc.new_file(sink, table.schema) as w:
            w.write_table(table)
    else:
        np.save(folder / f"{name}.npy", np.ascontiguousarray(array), allow_pickle=False)


# --------------------------------------------------------------------------- reading


def _load(folder: Path, name: str) -> np.ndarray:
    """An array of an entry: numbers memory-mapped copy-on-write (a plain ndarray view of the
    map, writable like a freshly extracted array, so the compiled loops see the same types;
    a write would change this process's copy, never the file), text decoded from its Arrow
    file into an object array."""
    arrow = folder / f"{name}.arrow"
    if arrow.exists():
        with pa.memory_map(str(arrow)) as source:
            column = pa.ipc.open_file(source).read_all().column("v")
            return column.to_numpy(zero_copy_only=False).astype(object, copy=True)  # no view of the map
    array = np.load(folder / f"{name}.npy", mmap_mode="c", allow_pickle=False)
    return array.view(np.ndarray) if isinstance(array, np.memmap) else array


def load(source: Source, spec: FeatureSpec, folder: Path | None = None,
         now: dt.datetime | None = None) -> Features | None:
    """The cached features of ``spec`` on the open database, or None when there is no valid entry."""
    folder = folder or cache_dir()
    try:
        identity = database_identity(source.path)
    except OSError:
        return None
    target = folder / entry_key(identity, spec)
    try:
        manifest = json.loads((target / "manifest.json").read_text())
    except (OSError, ValueError):
        return None
    if (manifest.get("format"), manifest.get("identity"), manifest.get("spec")) != (
            FORMAT, identity, spec_cache_key(spec)):
        return None
    end = dt.datetime.fromisoformat(manifest["data_end"])
    if data_end(source, spec.mapping, now or dt.datetime.now()) != end:
        return None  # a future timestamp came into the past: the data's end moved
    try:
        features = _rebuild(target, spec, manifest, end)
    except (OSError, ValueError, KeyError, pa.ArrowException):  # a damaged entry: extract again
        return None
    if database_identity(source.path) != identity:
        return None  # the file changed while we read
    os.utime(target)  # most recently used
    features.cache["disk_entry"] = target
    return features


def _rebuild(target: Path, spec: FeatureSpec, manifest: dict, end: dt.datetime) -> Features:
    n = int(manifest["n"])
    arrays = {name: _load(target, name) for name in manifest["arrays"]}
    optional = [name for name in ("open", "deal_value", "converted_at") if name in arrays]
    for name in ("lead_id", "created_at", "scoring_at", "converted", "mature", *optional):
        if len(arrays[name]) != n:
            raise ValueError(f"{name}: {len(arrays[name])} values for {n} leads")
    categorical = {c: Categorical(arrays[f"cat{i}.codes"], arrays[f"cat{i}.categories"])
                   for i, c in enumerate(manifest["categorical"])}
    numeric = {c: arrays[f"num{i}"] for i, c in enumerate(manifest["numeric"])}
    signals = {k: Activity(arrays[f"sig{i}.rows"], arrays[f"sig{i}.values"], n)
               for i, k in enumerate(manifest["signals"])}
    events = None
    if manifest["events_types"] is not None:
        events = KeptEvents(tuple(manifest["events_types"]), arrays["events.row"], arrays["events.starts"],
                            arrays["events.age"])
    quality = QualityReport([Finding(**f) for f in manifest["quality"]["findings"]],
                            {k: int(v) for k, v in manifest["quality"]["counts"].items()})
    features = Features(spec=spec, lead_id=arrays["lead_id"], created_at=arrays["created_at"],
                        scoring_at=arrays["scoring_at"], converted=arrays["converted"], mature=arrays["mature"],
                        categorical=categorical, numeric=numeric, signals=signals, data_end=end, quality=quality,
                        events=events, open=arrays.get("open"), deal_value=arrays.get("deal_value"),
                        converted_at=arrays.get("converted_at"))
    key = arrays["derived.month_status_key"]
    if len(key) != n:
        raise ValueError(f"derived.month_status_key: {len(key)} values for {n} leads")
    features.cache["month_status_key"] = (key, int(manifest["month_span"]))
    return features


# --------------------------------------------------------------------------- decayed sums


def _signal_folder(entry: Path, key: str) -> Path:
    return entry / "signals" / hashlib.sha256(key.encode()).hexdigest()[:32]


def load_signals(base: Features, keys: list[str]) -> dict[str, Activity]:
    """The decayed sums of ``keys`` saved beside ``base``'s entry (those found and intact).

    A restart then scores without weighing 100M events again (1-2 s at 10M leads). They
    live inside the base's entry, so they go stale and are removed with it.
    """
    entry = base.cache.get("disk_entry")
    found: dict[str, Activity] = {}
    if entry is None:
        return found
    for key in keys:
        folder = _signal_folder(entry, key)
        try:
            if (folder / "key.txt").read_text() != key:
                continue
            rows, values = _load(folder, "rows"), _load(folder, "values")
            found[key] = Activity(rows, values, base.n)
        except (OSError, ValueError):
            continue
    return found


def save_signals(base: Features, signals: dict[str, Activity]) -> None:
    """Keep decayed sums beside ``base``'s entry (when it has one); failures only cost speed."""
    entry = base.cache.get("disk_entry")
    if entry is None:
        return
    for key, activity in signals.items():
        folder = _signal_folder(entry, key)
        if folder.exists():
            continue
        try:
            folder.parent.mkdir(exist_ok=True)
            tmp = Path(tempfile.mkdtemp(prefix=".", dir=folder.parent))
            try:
                np.save(tmp / "rows.npy", activity.rows, allow_pickle=False)
                np.save(tmp / "values.npy", activity.values, allow_pickle=False)
                (tmp / "key.txt").write_text(key)
                os.rename(tmp, folder)
            except BaseException:
                shutil.rmtree(tmp, ignore_errors=True)
                raise
        except OSError:
            return
