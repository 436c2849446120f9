"""The config store: a directory of YAML configs that leadcal owns.

Saving never overwrites (a bad or careless save must not destroy a good config), and a
config is validated before it is written. Until a version is approved (versioned sign-off
comes with the approval workflow), the shipped ``default.yaml`` is the approved model.
"""

from __future__ import annotations

import datetime as dt
import os
import re
from pathlib import Path

from .config import ScoringConfig, dump_config, load_config, parse_config

NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$")
APPROVED_NAME = "default"


def default_store() -> Path:
    """The store directory: ``$LEADCAL_STORE`` or ``data/configs``."""
    return Path(os.environ.get("LEADCAL_STORE", "data/configs"))


def check_name(name: str) -> str:
    """A config name usable as a file name; raises ValueError saying what is wrong."""
    name = name.strip()
    if not NAME.match(name):
        raise ValueError(
            f"config name {name!r}: use 1-64 letters, digits, '-' or '_', starting with a letter or digit"
        )
    return name


def list_configs(store: Path) -> list[str]:
    """Names of the configs in the store, sorted."""
    if not store.is_dir():
        return []
    return sorted(p.stem for p in store.glob("*.yaml") if NAME.match(p.stem))


def load_named(store: Path, name: str) -> ScoringConfig:
    """Load a config from the store by name."""
    return load_config(store / f"{check_name(name)}.yaml")


def approved_config(store: Path) -> ScoringConfig:
    """The current approved model: the store's default, else the shipped default."""
    path = store / f"{APPROVED_NAME}.yaml"
    if path.exists():
        return load_config(path)
    return load_config(Path(__file__).resolve().parents[1] / "data" / "configs" / f"{APPROVED_NAME}.yaml")


def save_new(store: Path, name: str, config: ScoringConfig, note: str = "", author: str = "") -> Path:
    """Save a config under a new name; refuses an existing name, writes atomically.

    The note, author and time go in a comment header, so the file stays a plain config.
    """
    name = check_name(name)
    if any(ch in author for ch in "\r\n\x00") or any(ord(ch) < 32 for ch in author):
        raise ValueError("author: use a single line of text")
    path = store / f"{name}.yaml"
    if path.exists():
        raise FileExistsError(f"a config named '{name}' already exists in {store}; choose another name")
    stamp = dt.datetime.now().isoformat(timespec="seconds")
    who = f" by {author}" if author else ""
    header = [f"# saved {stamp}{who}"]
    header += [f"# note: {line}" for line in note.strip().splitlines()]
    named = config.model_copy(update={"name": name})
    text = "\n".join(header) + "\n" + dump_config(named)
    if parse_config(text, str(path)) != named:  # never write what does not read back the same
        raise ValueError(f"{path}: the config would not read back as saved; nothing was written")
    store.mkdir(parents=True, exist_ok=True)
    tmp = store / f".{name}.{os.getpid()}.tmp"
    try:
        tmp.write_text(text, encoding="utf-8")
        os.link(tmp, path)  # atomic, and fails if the name was taken meanwhile
    except FileExistsError:
        raise FileExistsError(f"a config named '{name}' already exists in {store}; choose another name") from None
    finally:
        tmp.unlink(missing_ok=True)
    return path
