"""The config store: immutable versions, joint sign-off, champions and an audit trail.

Layout of a store directory (default ``data/configs``, or ``$LEADCAL_STORE``)::

    store.yaml                       optional settings (required_roles)
    default.yaml                     the shipped starting model (seed, not a version)
    models/NAME/v0001.yaml           version 1 of model NAME: its metadata and config
    models/NAME/v0001.approval.json  the approval of version 1 (sign-offs, result, data)
    audit.jsonl                      one line per save, approval and export

Every write goes to a temporary file first and is then hard-linked into place. A link
never replaces an existing file, so two people saving at once each get their own
version number (the loser of a race takes the next number), a version or approval can
never be overwritten, and a crash mid-write leaves only an ignored temporary file.
Nothing here edits or deletes a version.
"""

from __future__ import annotations

import datetime as dt
import fcntl
import getpass
import json
import os
import re
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from .config import ConfigError, ScoringConfig, config_from_dict, config_to_dict, load_config

NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$")
VERSION_FILE = re.compile(r"^v(\d{4,})\.yaml$")
DEFAULT_ROLES = ("sales", "marketing")
SHIPPED_DEFAULT = Path(__file__).resolve().parents[1] / "data" / "configs" / "default.yaml"
STORE_FORMAT = 1


class StoreError(ValueError):
    """A store operation refused, with the reason in words; the store is unchanged."""


def default_store() -> Path:
    """The store directory: ``$LEADCAL_STORE`` or ``data/configs``."""
    return Path(os.environ.get("LEADCAL_STORE", "data/configs"))


def current_user() -> str:
    """Who is saving: ``$LEADCAL_USER``, else the login name."""
    try:
        return os.environ.get("LEADCAL_USER") or getpass.getuser()
    except (KeyError, OSError):
        return "unknown"


def check_name(name: str) -> str:
    """A model name usable as a directory name; StoreError says what is wrong."""
    if not isinstance(name, str) or not NAME.match(name.strip()):
        raise StoreError(
            f"model name {name!r}: use 1-64 letters, digits, '-' or '_', starting with a letter or digit "
            "(no spaces, dots or path separators)"
        )
    return name.strip()


def _one_line(value: str, what: str) -> str:
    value = (value or "").strip()
    if any(ord(ch) < 32 for ch in value):
        raise StoreError(f"{what}: use a single line of text")
    return value


@dataclass(frozen=True)
class Version:
    """One saved, immutable version of a model."""

    name: str
    version: int
    author: str
    created_at: str
    note: str
    parent: str | None
    """``NAME@VERSION`` of the version this one was started from, if any."""
    path: Path

    @property
    def ref(self) -> str:
        """``NAME@VERSION``."""
        return f"{self.name}@{self.version}"


@dataclass(frozen=True)
class SignOff:
    """A person who signed off a version, in a role (e.g. sales, marketing)."""

    name: str
    role: str

    @classmethod
    def parse(cls, text: str) -> "SignOff":
        """From ``"Name:role"``."""
        name, sep, role = text.rpartition(":")
        if not sep or not name.strip() or not role.strip():
            raise StoreError(f"sign-off {text!r}: write it as NAME:ROLE, e.g. 'Ann Lee:sales'")
        return cls(_one_line(name, "sign-off name"), _one_line(role, "sign-off role").lower())


def parse_ref(ref: str) -> tuple[str, int | None]:
    """``NAME`` or ``NAME@VERSION`` -> (name, version or None for the latest)."""
    name, sep, version = ref.partition("@")
    if not sep:
        return check_name(name), None
    if not version.isdigit() or int(version) < 1:
        raise StoreError(f"{ref!r}: the version after '@' must be a whole number from 1")
    return check_name(name), int(version)


class ConfigStore:
    """A directory of versioned configs. Safe for concurrent writers (threads and processes)."""

    def __init__(self, root: str | Path):
        self.root = Path(root)

    # ------------------------------------------------------------------ reading

    @property
    def required_roles(self) -> tuple[str, ...]:
        """Roles that must all sign off before a version is approved."""
        path = self.root / "store.yaml"
        if not path.exists():
            return DEFAULT_ROLES
        try:
            data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
            roles = data.get("required_roles", list(DEFAULT_ROLES))
            if not isinstance(roles, list) or not all(isinstance(r, str) and r.strip() for r in roles):
                raise ValueError
        except (yaml.YAMLError, ValueError, AttributeError):
            raise StoreError(f"{path}: required_roles must be a list of role names") from None
        return tuple(r.strip().lower() for r in roles)

    def _dir(self, name: str) -> Path:
        return self.root / "models" / check_name(name)

    def models(self) -> list[str]:
        """Model names with at least one version, sorted."""
        base = self.root / "models"
        if not base.is_dir():
            return []
        return sorted(p.name for p in base.iterdir() if p.is_dir() and NAME.match(p.name) and self._numbers(p.name))

    def _numbers(self, name: str) -> list[int]:
        folder = self._dir(name)
        if not folder.is_dir():
            return []
        return sorted(int(m.group(1)) for p in folder.iterdir() if (m := VERSION_FILE.match(p.name)))

    def _read(self, name: str, version: int) -> tuple[Version, dict]:
        path = self._dir(name) / f"v{version:04d}.yaml"
        if not path.exists():
            have = self._numbers(name)
            which = f"versions 1-{max(have)}" if have else "no versions"
            raise StoreError(f"model '{name}' has no version {version} ({which})")
        doc = yaml.safe_load(path.read_text(encoding="utf-8"))
        meta = doc["version"]
        return Version(name, int(meta["version"]), meta.get("author", ""), meta.get("created_at", ""),
                       meta.get("note", ""), meta.get("parent"), path), doc["config"]

    def versions(self, name: str) -> list[Version]:
        """Every version of a model, oldest first."""
        return [self._read(name, n)[0] for n in self._numbers(name)]

    def get(self, name: str, version: int | None = None) -> Version:
        """One version (the latest when ``version`` is None)."""
        if version is None:
            numbers = self._numbers(name)
            if not numbers:
                raise StoreError(f"no model named '{check_name(name)}' in {self.root}")
            version = numbers[-1]
        return self._read(name, version)[0]

    def load(self, name: str, version: int | None = None) -> ScoringConfig:
        """The config of a version (the latest when ``version`` is None)."""
        v = self.get(name, version)
        return config_from_dict(self._read(name, v.version)[1], str(v.path))

    def same_as(self, name: str, config: ScoringConfig) -> Version | None:
        """The latest version of model ``name`` that scores exactly like ``config`` (its name aside), if any.

        Saving an unchanged draft again would add a second identical version awaiting approval.
        """
        name = check_name(name)
        named = config.model_copy(update={"name": name})
        for v in reversed(self.versions(name)):
            if self.load(name, v.version) == named:
                return v
        return None

    def approval(self, name: str, version: int) -> dict | None:
        """The approval record of a version, or None while it is a draft."""
        path = self._dir(name) / f"v{version:04d}.approval.json"
        return json.loads(path.read_text(encoding="utf-8")) if path.exists() else None

    def champion(self, name: str) -> Version | None:
        """The latest approved version of a model: what production should run."""
        for v in reversed(self.versions(name)):
            if self.approval(name, v.version) is not None:
                return v
        return None

    def status(self, name: str, version: int) -> str:
        """'champion', 'approved' or 'draft'."""
        if self.approval(name, version) is None:
            return "draft"
        champ = self.champion(name)
        return "champion" if champ is not None and champ.version == version else "approved"

    def approved_config(self, name: str = "default") -> ScoringConfig:
        """The champion's config; for a model never approved, its seed file or the shipped default."""
        champ = self.champion(name) if self._dir(name).is_dir() else None
        if champ is not None:
            return self.load(name, champ.version)
        seed = self.root / f"{check_name(name)}.yaml"
        return load_config(seed if seed.exists() else SHIPPED_DEFAULT)

    def seed_config(self, name: str = "default") -> ScoringConfig:
        """The model's starting point before any approval: its seed file, else the shipped default."""
        seed = self.root / f"{check_name(name)}.yaml"
        return load_config(seed if seed.exists() else SHIPPED_DEFAULT)

    def audit(self) -> list[dict]:
        """Every audit entry, oldest first."""
        path = self.root / "audit.jsonl"
        if not path.exists():
            return []
        return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]

    # ------------------------------------------------------------------ writing

    def _write_new(self, target: Path, text: str) -> bool:
        """Create ``target`` with ``text`` atomically; False if it already exists."""
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".tmp-", dir=target.parent)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                fh.write(text)
                fh.flush()
                os.fsync(fh.fileno())
            os.chmod(tmp, 0o444)  # versions and approvals are never edited
            try:
                os.link(tmp, target)
            except FileExistsError:
                return False
            return True
        finally:
            os.unlink(tmp)

    def log(self, action: str, **fields: Any) -> dict:
        """Append one audit entry (who, when, what); lines are never rewritten."""
        entry = {"at": _now(), "action": action, "by": fields.pop("by", None) or current_user(), **fields}
        self.root.mkdir(parents=True, exist_ok=True)
        line = json.dumps(entry, sort_keys=True, default=str) + "\n"
        with open(self.root / "audit.jsonl", "a", encoding="utf-8") as fh:
            fcntl.flock(fh, fcntl.LOCK_EX)
            try:
                fh.write(line)
                fh.flush()
                os.fsync(fh.fileno())
            finally:
                fcntl.flock(fh, fcntl.LOCK_UN)
        return entry

    def save(self, name: str, config: ScoringConfig, author: str | None = None, note: str = "",
             parent: str | None = None) -> Version:
        """Save a config as the next version of a model; never overwrites anything."""
        name = check_name(name)
        author = _one_line(author if author is not None else current_user(), "author")
        if parent is not None:
            p_name, p_version = parse_ref(parent)
            parent = self.get(p_name, p_version).ref
        named = config.model_copy(update={"name": name})
        config_data = config_to_dict(named)
        try:  # never store what would not load back as the same config
            if config_from_dict(json.loads(json.dumps(config_data))) != named:
                raise ValueError
        except (ConfigError, ValueError):
            raise StoreError(f"model '{name}': the config would not read back as given; nothing saved") from None
        folder = self._dir(name)
        while True:
            numbers = self._numbers(name)
            number = (numbers[-1] if numbers else 0) + 1
            meta = {"name": name, "version": number, "author": author, "created_at": _now(),
                    "note": (note or "").strip(), "parent": parent}
            text = yaml.safe_dump({"store_format": STORE_FORMAT, "version": meta, "config": config_data},
                                  sort_keys=False, allow_unicode=True, width=100)
            if self._write_new(folder / f"v{number:04d}.yaml", text):
                break  # someone else took this number: try the next
        self.log("save", by=author, model=name, version=number, parent=parent)
        return self.get(name, number)

    def check_approvable(self, name: str, version: int, signoffs: list[SignOff], rationale: str) -> Version:
        """Refuse (StoreError) unless the version exists, is a draft, and has every sign-off."""
        v = self.get(name, version)
        existing = self.approval(name, v.version)
        if existing is not None:
            raise StoreError(f"{v.ref} is already approved (on {existing['approved_at']}); "
                             "approvals are final - save a new version to change it")
        problems = []
        if not (rationale or "").strip():
            problems.append("a short rationale is required")
        roles = {s.role.lower() for s in signoffs if s.name.strip()}
        missing = [r for r in self.required_roles if r not in roles]
        if missing:
            problems.append(f"missing sign-off from: {', '.join(missing)} "
                            f"(required: {', '.join(self.required_roles)})")
        if problems:
            raise StoreError(f"cannot approve {v.ref}: " + "; ".join(problems))
        return v

    def approve(self, name: str, version: int, signoffs: list[SignOff], rationale: str,
                calibration: dict | None = None, data: dict | None = None, by: str | None = None) -> dict:
        """Approve a version with sign-offs from every required role and a rationale.

        Records the calibration result it was approved on and a fingerprint of the data.
        """
        v = self.check_approvable(name, version, signoffs, rationale)
        rationale = rationale.strip()
        record = {
            "model": name, "version": v.version, "approved_at": _now(),
            "approved_by": _one_line(by if by is not None else current_user(), "approved by"),
            "signoffs": [{"name": s.name, "role": s.role} for s in signoffs],
            "rationale": rationale, "calibration": calibration, "data": data,
        }
        text = json.dumps(record, indent=2, sort_keys=True, default=str)
        if not self._write_new(self._dir(name) / f"v{v.version:04d}.approval.json", text):
            raise StoreError(f"{v.ref} was approved by someone else just now; approvals are final")
        self.log("approve", by=record["approved_by"], model=name, version=v.version,
                 signoffs=record["signoffs"])
        return record


def _now() -> str:
    return dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")


def tree_digest(root: str | Path) -> dict[str, str]:
    """Path -> SHA-256 of every file below ``root``: proof that a refused command wrote nothing."""
    import hashlib

    root = Path(root)
    if not root.exists():
        return {}
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}
