"""The config store: immutable versions, joint sign-off, champions and an audit trail.

Layout of a store directory (default ``data/configs``, or ``$LEADCAL_STORE``)::

    store.yaml                       optional settings (required_roles)
    default.yaml                     the shipped starting model (seed, not a version)
    models/NAME/v0001.yaml           version 1 of model NAME: its metadata and config
    models/NAME/v0001.approval.json  the approval of version 1 (sign-offs, result, data,
                                     and the SHA-256 of the version file it approves)
    abtests/TEST.json                a signed-off champion vs challenger test plan (final;
                                     the SHA-256 of both versions it tests)
    audit.jsonl                      one line per save, approval, test plan and export
    .lock, .journal/                 how writes stay all-or-nothing (below)

**All or nothing.** Every write (a version, an approval, an export) is one commit, made
while holding the store's lock (``.lock``, released by the kernel if the process dies):

1. a journal entry ``.journal/ID.json`` names the file, its SHA-256 and its audit line;
2. the text goes to a temporary file, then is hard-linked into place (a link never
   replaces an existing file, so nothing is overwritten and two writers get two numbers);
3. the audit line is appended; 4. the journal entry is removed.

A crash at any step leaves a journal entry, and the next writer (or any ``leadcal
configs`` command, or :meth:`ConfigStore.recover`) finishes it: a file in place with the
recorded hash gets its missing audit line (*completed*), anything else is removed
(*rolled back*). What recovery did is written to the audit trail and returned.

**Approvals bind to content.** An approval records the SHA-256 of the exact version file
it approved; a version edited afterwards shows as ``tampered``, never as approved, and is
never a champion. A version or approval file that does not parse is reported by name and
the rest of the store stays usable. :meth:`ConfigStore.verify` checks all of it
(``leadcal configs check``).
"""

from __future__ import annotations

import datetime as dt
import fcntl
import getpass
import hashlib
import json
import os
import re
import uuid
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from ..base.crash import crash_point
from ..base.yamlsafe import YamlError, dump_yaml, load_yaml
from ..model.config import ConfigError, ScoringConfig, config_from_dict, config_to_dict, format_errors, load_config

NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,63}")
VERSION_FILE = re.compile(r"v(\d{4,})\.yaml")
APPROVAL_FILE = re.compile(r"v(\d{4,})\.approval\.json")
TEST_DIR = "abtests"
DEFAULT_ROLES = ("sales", "marketing")
SHIPPED_DEFAULT = Path(__file__).resolve().parents[2] / "data" / "configs" / "default.yaml"
STORE_FORMAT = 1
JOURNAL = ".journal"
LOCK = ".lock"


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
    """A model name usable as a directory name, exactly as typed; StoreError says what is wrong."""
    if not isinstance(name, str) or not NAME.fullmatch(name):
        raise StoreError(
            f"model name {name!r}: use 1-64 letters, digits, '-' or '_', starting with a letter or digit "
            "(no spaces, dots or path separators)"
        )
    return name


def _one_line(value: str, what: str) -> str:
    value = (value or "").strip()
    if any(ord(ch) < 32 for ch in value):
        raise StoreError(f"{what}: use a single line of text")
    return value


def sha256_bytes(data: bytes) -> str:
    """Hex SHA-256 of some bytes."""
    return hashlib.sha256(data).hexdigest()


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
class VersionFile:
    """A version as read from disk: its metadata, its config data and the hash of its bytes."""

    version: Version
    config_data: dict
    sha256: str


@dataclass(frozen=True)
class ApprovalState:
    """Whether a version is approved, and whether the approval still matches the file.

    ``status``: ``draft`` (no approval file), ``approved`` (the recorded hash matches the
    version file, or an older approval has no hash), ``tampered`` (the version file changed
    after approval) or ``unreadable`` (the approval file does not parse).
    """

    status: str
    record: dict | None = None
    problem: str = ""


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


def _person(name: str) -> str:
    """A person's name compared ignoring case and runs of spaces."""
    return " ".join(name.split()).casefold()


class StoreSettings(BaseModel):
    """``store.yaml``: validated like a config (unknown keys refused, every problem listed)."""

    model_config = ConfigDict(extra="forbid")

    required_roles: list[str] = Field(default_factory=lambda: list(DEFAULT_ROLES), min_length=1)
    """Roles that must each sign off, by a different person, before a version is approved."""

    @field_validator("required_roles")
    @classmethod
    def _roles(cls, roles: list[str]) -> list[str]:
        clean = []
        for role in roles:
            if role != role.strip() or not role or ":" in role or any(ord(ch) < 32 for ch in role):
                raise ValueError(f"{role!r} is not a role name (one word or phrase, no ':' or line breaks, "
                                 "no leading or trailing spaces)")
            clean.append(role.lower())
        if len(set(clean)) != len(clean):
            raise ValueError("a role is listed twice")
        return clean


@dataclass
class StoreCheck:
    """What :meth:`ConfigStore.verify` found: problems (the store is not sound) and notes."""

    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    models: int = 0
    versions: int = 0
    approvals: int = 0
    audit_lines: int = 0

    @property
    def ok(self) -> bool:
        """True when nothing is wrong."""
        return not self.problems


class ConfigStore:
    """A directory of versioned configs. Safe for concurrent writers (threads and processes)."""

    def __init__(self, root: str | Path):
        self.root = Path(root)
        self.recovered: list[str] = []
        """What recoveries by this object completed or rolled back, in words."""

    # ------------------------------------------------------------------ settings

    def settings(self) -> StoreSettings:
        """``store.yaml`` validated (defaults when there is none); StoreError names every problem."""
        path = self.root / "store.yaml"
        try:
            text = _read(path).decode("utf-8")
        except FileNotFoundError:
            return StoreSettings()
        except (OSError, UnicodeDecodeError) as exc:
            raise StoreError(f"{path}: cannot read it ({exc})") from None
        try:
            data = load_yaml(text)
        except YamlError as exc:
            raise StoreError(f"{path}: {exc}") from None
        if data is None:
            return StoreSettings()
        if not isinstance(data, dict):
            raise StoreError(f"{path}: expected keys and values, e.g. 'required_roles: [sales, marketing]'")
        try:
            return StoreSettings.model_validate(data)
        except ValidationError as exc:
            raise StoreError(f"{path}: " + "; ".join(format_errors(exc, data))) from None

    @property
    def required_roles(self) -> tuple[str, ...]:
        """Roles that must all sign off, each by a different person, before a version is approved."""
        return tuple(self.settings().required_roles)

    # ------------------------------------------------------------------ reading

    def _dir(self, name: str) -> Path:
        return self.root / "models" / check_name(name)

    def _rel(self, path: Path) -> str:
        try:
            return str(path.relative_to(self.root))
        except ValueError:
            return str(path)

    def models(self) -> list[str]:
        """Model names with at least one version file, sorted."""
        base = self.root / "models"
        if not base.is_dir():
            return []
        return sorted(p.name for p in base.iterdir() if p.is_dir() and NAME.fullmatch(p.name) and self._numbers(p.name))

    def _numbers(self, name: str) -> list[int]:
        folder = self._dir(name)
        if not folder.is_dir():
            return []
        return sorted(int(m.group(1)) for p in folder.iterdir() if (m := VERSION_FILE.fullmatch(p.name)))

    def _path(self, name: str, version: int) -> Path:
        return self._dir(name) / f"v{version:04d}.yaml"

    def read_version(self, name: str, version: int) -> VersionFile:
        """A version's metadata, config data and content hash, from one read of its file.

        StoreError names the file when it is missing, unreadable or not a leadcal version.
        """
        path = self._path(name, version)
        rel = self._rel(path)
        try:
            raw = _read(path)
        except FileNotFoundError:
            have = self._numbers(name)
            which = f"versions 1-{max(have)}" if have else "no versions"
            raise StoreError(f"model '{name}' has no version {version} ({which})") from None
        except OSError as exc:
            raise StoreError(f"{rel}: cannot read it ({exc.strerror or exc})") from None
        try:
            doc = load_yaml(raw.decode("utf-8"))
        except UnicodeDecodeError:
            raise StoreError(f"{rel}: not a leadcal version: not UTF-8 text") from None
        except YamlError as exc:
            raise StoreError(f"{rel}: not a leadcal version: {exc}") from None
        if not isinstance(doc, dict):
            raise StoreError(f"{rel}: not a leadcal version: expected keys 'version' and 'config'")
        for key in ("version", "config"):
            if not isinstance(doc.get(key), dict):
                raise StoreError(f"{rel}: not a leadcal version: missing '{key}'" if key not in doc
                                 else f"{rel}: not a leadcal version: '{key}' is not a mapping")
        meta = doc["version"]
        if meta.get("version") != version or meta.get("name", name) != name:
            raise StoreError(f"{rel}: not a leadcal version: it says it is "
                             f"{meta.get('name', name)!r}@{meta.get('version')!r}, not {name}@{version}")
        text = {k: meta.get(k) for k in ("author", "created_at", "note")}
        if any(v is not None and not isinstance(v, str) for v in text.values()) or \
                (meta.get("parent") is not None and not isinstance(meta.get("parent"), str)):
            raise StoreError(f"{rel}: not a leadcal version: author, created_at, note and parent must be text")
        v = Version(name, version, text["author"] or "", text["created_at"] or "", text["note"] or "",
                    meta.get("parent"), path)
        return VersionFile(v, doc["config"], sha256_bytes(raw))

    def _read(self, name: str, version: int) -> tuple[Version, dict]:
        vf = self.read_version(name, version)
        return vf.version, vf.config_data

    def versions(self, name: str) -> list[Version]:
        """Every readable version of a model, oldest first (see :meth:`unreadable` for the others)."""
        out = []
        for n in self._numbers(name):
            try:
                out.append(self.read_version(name, n).version)
            except StoreError:
                continue
        return out

    def unreadable(self, name: str | None = None) -> list[str]:
        """One message per version file of a model (or of every model) that cannot be read."""
        out = []
        for model in [name] if name else self.models():
            for n in self._numbers(model):
                try:
                    self.read_version(model, n)
                except StoreError as exc:
                    out.append(str(exc))
        return out

    def get(self, name: str, version: int | None = None) -> Version:
        """One version (the latest when ``version`` is None)."""
        if version is None:
            numbers = self._numbers(name)
            if not numbers:
                raise StoreError(f"no model named '{check_name(name)}' in {self.root}")
            version = numbers[-1]
        return self.read_version(name, version).version

    def load(self, name: str, version: int | None = None) -> ScoringConfig:
        """The config of a version (the latest when ``version`` is None)."""
        v = self.get(name, version)
        return config_from_dict(self.read_version(name, v.version).config_data, str(v.path))

    def approval_state(self, name: str, version: int) -> ApprovalState:
        """Draft, approved, tampered (the version changed after approval) or unreadable."""
        path = self._dir(name) / f"v{version:04d}.approval.json"
        rel = self._rel(path)
        try:
            raw = _read(path)
        except FileNotFoundError:
            return ApprovalState("draft")
        except OSError as exc:
            return ApprovalState("unreadable", None, f"{rel}: cannot read it ({exc.strerror or exc})")
        try:
            record = json.loads(raw.decode("utf-8"))
        except (UnicodeDecodeError, ValueError):
            return ApprovalState("unreadable", None, f"{rel}: not a leadcal approval: not JSON")
        if not isinstance(record, dict) or not isinstance(record.get("signoffs"), list) \
                or record.get("version") != version:
            return ApprovalState("unreadable", None, f"{rel}: not a leadcal approval of {name}@{version}")
        recorded = record.get("version_sha256")
        if recorded is None:
            return ApprovalState("approved", record, f"{rel}: has no content hash (approved before leadcal "
                                                     "recorded one), so edits to the version cannot be detected")
        try:
            current = sha256_bytes(_read(self._path(name, version)))
        except OSError:
            return ApprovalState("tampered", record, f"{rel}: the version file it approves is gone")
        if current != recorded:
            return ApprovalState("tampered", record,
                                 f"{self._rel(self._path(name, version))}: changed after it was approved "
                                 "(its content hash no longer matches the approval); not approved")
        return ApprovalState("approved", record)

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
        """The approval record of a version, or None unless it is approved and still matches its file."""
        state = self.approval_state(name, version)
        return state.record if state.status == "approved" else None

    def champion(self, name: str) -> Version | None:
        """The latest version with a valid approval: what production should run."""
        for v in reversed(self.versions(name)):
            if self.approval(name, v.version) is not None:
                return v
        return None

    def status(self, name: str, version: int) -> str:
        """'champion', 'approved', 'draft', 'tampered' or 'unreadable'."""
        state = self.approval_state(name, version)
        if state.status != "approved":
            return state.status
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

    def _audit_lines(self) -> tuple[list[dict], list[str]]:
        path = self.root / "audit.jsonl"
        try:
            text = _read(path).decode("utf-8", errors="replace")
        except FileNotFoundError:
            return [], []
        except OSError as exc:
            return [], [f"audit.jsonl: cannot read it ({exc.strerror or exc})"]
        entries, bad = [], []
        for i, line in enumerate(text.splitlines(), 1):
            if not line.strip():
                continue
            try:
                entry = json.loads(line)
            except ValueError:
                bad.append(f"audit.jsonl line {i}: not a JSON line")
                continue
            if isinstance(entry, dict):
                entries.append(entry)
            else:
                bad.append(f"audit.jsonl line {i}: not an audit entry")
        return entries, bad

    def audit(self) -> list[dict]:
        """Every readable audit entry, oldest first."""
        return self._audit_lines()[0]

    # ------------------------------------------------------------------ the commit protocol

    @contextmanager
    def _locked(self) -> Iterator[None]:
        """The store's write lock (a flock, so a killed holder releases it)."""
        self.root.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.root / LOCK, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
            os.close(fd)

    def _open_audit(self) -> int:
        """The audit trail opened for appending: checked before anything else is written."""
        path = self.root / "audit.jsonl"
        try:
            return os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        except OSError as exc:
            raise StoreError(f"{path}: cannot append to the audit trail ({exc.strerror or exc}); "
                             "nothing was written") from None

    def _append(self, fd: int, entry: dict) -> None:
        """Append one line; a line cut short by an earlier crash is ended first."""
        line = json.dumps(entry, sort_keys=True, default=str) + "\n"
        size = os.fstat(fd).st_size
        if size:
            with open(self.root / "audit.jsonl", "rb") as fh:
                fh.seek(size - 1)
                if fh.read(1) != b"\n":
                    line = "\n" + line
        os.write(fd, line.encode("utf-8"))
        os.fsync(fd)

    def _entry(self, action: str, by: str | None, fields: dict) -> dict:
        return {"at": _now(), "action": action, "by": by or current_user(), "id": uuid.uuid4().hex, **fields}

    def _commit(self, target: Path, text: str, entry: dict, step: str, replace: bool = False) -> bool:
        """Write ``target`` and its audit line all or nothing (hold the lock). False if it exists."""
        data = text.encode("utf-8")
        journal = self.root / JOURNAL
        journal.mkdir(exist_ok=True)
        audit_fd = self._open_audit()
        tmp = target.parent / f".{target.name}.{entry['id'][:12]}.tmp"
        # the path itself, not where a symlink points: a replace swaps the link, not its target
        intent = {"id": entry["id"], "target": os.path.abspath(target), "tmp": os.path.abspath(tmp),
                  "sha256": sha256_bytes(data), "replace": replace, "audit": entry}
        intent_path = journal / f"{entry['id']}.json"
        linked = False
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            _write_file(journal / f".{entry['id']}.tmp", json.dumps(intent, default=str).encode("utf-8"))
            os.rename(journal / f".{entry['id']}.tmp", intent_path)
            _fsync_dir(journal)
            crash_point(f"{step}:journal")
            _write_file(tmp, data, mode=0o444 if not replace else None)
            crash_point(f"{step}:written")
            try:
                if replace:
                    os.replace(tmp, target)
                else:
                    os.link(tmp, target)
            except FileExistsError:
                return False
            linked = True
            _fsync_dir(target.parent)
            crash_point(f"{step}:linked")
            try:
                self._append(audit_fd, entry)
            except OSError as exc:
                if not replace:  # roll back: the new file goes, the store is as it was
                    _unlink(target)
                    _unlink(intent_path)
                raise StoreError(f"{self.root / 'audit.jsonl'}: writing the audit line failed "
                                 f"({exc.strerror or exc}); " + ("nothing was written" if not replace else
                                 "the next leadcal command will complete it")) from None
            crash_point(f"{step}:audited")
            _unlink(intent_path)
            return True
        finally:
            _unlink(tmp)
            _unlink(journal / f".{entry['id']}.tmp")
            if not linked:  # refused or failed before the file was in place: nothing to recover
                _unlink(intent_path)
            os.close(audit_fd)

    def recover(self) -> list[str]:
        """Finish or undo writes a crash interrupted; what was done, in words (also in the audit)."""
        journal = self.root / JOURNAL
        try:
            if not any(journal.iterdir()):
                return []
        except OSError:
            return []
        with self._locked():
            return self._recover_locked()

    def _recover_locked(self) -> list[str]:
        journal = self.root / JOURNAL
        if not journal.is_dir():
            return []
        messages: list[str] = []
        audited = None
        for path in sorted(journal.iterdir()):
            if not path.name.endswith(".json"):
                _unlink(path)  # an entry cut short before it was complete: nothing followed it
                continue
            try:
                intent = json.loads(path.read_text(encoding="utf-8"))
                target, tmp, entry = Path(intent["target"]), Path(intent["tmp"]), intent["audit"]
            except (OSError, ValueError, KeyError, TypeError):
                _unlink(path)
                messages.append(f"removed an unreadable journal entry {path.name}")
                continue
            what = _describe(entry)
            try:
                done = sha256_bytes(target.read_bytes()) == intent["sha256"]
            except OSError:
                done = False
            if done:
                if audited is None:
                    audited = {e.get("id") for e in self.audit()}
                if entry.get("id") not in audited:
                    fd = self._open_audit()
                    try:
                        self._append(fd, {**entry, "recovered_at": _now()})
                    finally:
                        os.close(fd)
                    audited.add(entry.get("id"))
                messages.append(f"completed an interrupted {what} ({target.name} was in place; its audit "
                                "line is now written)")
            else:
                messages.append(f"rolled back an interrupted {what} (nothing of it was kept)")
            _unlink(tmp)
            _unlink(path)
        if messages:
            fd = self._open_audit()
            try:
                self._append(fd, self._entry("recover", None, {"messages": messages}))
            finally:
                os.close(fd)
            self.recovered.extend(messages)
        return messages

    # ------------------------------------------------------------------ writing

    def log(self, action: str, **fields: Any) -> dict:
        """Append one audit entry (who, when, what); lines are never rewritten."""
        entry = self._entry(action, fields.pop("by", None), fields)
        with self._locked():
            self._recover_locked()
            fd = self._open_audit()
            try:
                self._append(fd, entry)
            finally:
                os.close(fd)
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
            if config_from_dict(json.loads(json.dumps(config_data, allow_nan=False))) != named:
                raise ValueError
        except (ConfigError, ValueError):
            raise StoreError(f"model '{name}': the config would not read back as given; nothing saved") from None
        folder = self._dir(name)
        with self._locked():
            self._recover_locked()
            while True:
                numbers = self._numbers(name)
                number = (numbers[-1] if numbers else 0) + 1
                meta = {"name": name, "version": number, "author": author, "created_at": _now(),
                        "note": (note or "").strip(), "parent": parent}
                text = dump_yaml({"store_format": STORE_FORMAT, "version": meta, "config": config_data})
                entry = self._entry("save", author, {"model": name, "version": number, "parent": parent,
                                                     "sha256": sha256_bytes(text.encode("utf-8"))})
                if self._commit(folder / f"v{number:04d}.yaml", text, entry, "save"):
                    break  # a file appeared under this number outside leadcal: take the next
        return self.get(name, number)

    def check_approvable(self, name: str, version: int, signoffs: list[SignOff], rationale: str) -> Version:
        """Refuse (StoreError) unless the version exists and is a draft, and the sign-offs meet the policy.

        The policy: a rationale; a sign-off from every required role (``store.yaml``); a different
        person for each required role; nobody listed twice.
        """
        v = self.get(name, version)
        state = self.approval_state(name, v.version)
        if state.status == "approved":
            raise StoreError(f"{v.ref} is already approved (on {state.record.get('approved_at')}); "
                             "approvals are final - save a new version to change it")
        if state.status != "draft":
            raise StoreError(f"{v.ref} cannot be approved: {state.problem}; approvals are final - save a new "
                             "version to change it")
        problems = self.signoff_problems(signoffs, rationale)
        if problems:
            raise StoreError(f"cannot approve {v.ref}: " + "; ".join(problems))
        return v

    def signoff_problems(self, signoffs: list[SignOff], rationale: str) -> list[str]:
        """What the sign-offs lack under the policy (required roles, different people, a rationale)."""
        required = self.required_roles
        problems = []
        if not (rationale or "").strip():
            problems.append("a short rationale is required")
        signed = [s for s in signoffs if s.name.strip()]
        seen: dict[str, SignOff] = {}
        for s in signed:
            key = _person(s.name)
            if key in seen:
                first = seen[key]
                problems.append(f"{s.name} signs more than once ({first.role} and {s.role}); each required role "
                                "needs a different person" if first.role != s.role
                                else f"{s.name} is listed twice for {s.role}")
            else:
                seen[key] = s
        roles = {s.role.lower() for s in signed}
        missing = [r for r in required if r not in roles]
        if missing:
            problems.append(f"missing sign-off from: {', '.join(missing)} (required: {', '.join(required)})")
        return problems

    def approve(self, name: str, version: int, signoffs: list[SignOff], rationale: str,
                calibration: dict | None = None, data: dict | None = None, by: str | None = None,
                version_sha256: str | None = None) -> dict:
        """Approve a version with sign-offs from every required role and a rationale.

        Records the calibration result it was approved on, a fingerprint of the data, and the
        SHA-256 of the version file. Everything is validated before the approval is written;
        ``version_sha256`` (from :meth:`read_version`) refuses the approval if the file changed
        since the result was computed on it.
        """
        v = self.check_approvable(name, version, signoffs, rationale)
        approved_by = _one_line(by if by is not None else current_user(), "approved by")
        result = (calibration or {}).get("result") if isinstance(calibration, dict) else None
        if isinstance(result, dict) and not result.get("mature_leads"):
            raise StoreError(f"cannot approve {v.ref}: its result has no mature lead to judge it on; "
                             "nothing was written")
        current = self.read_version(name, v.version).sha256
        if version_sha256 is not None and version_sha256 != current:
            raise StoreError(f"{v.ref} changed on disk after its result was computed; not approved")
        record = {
            "model": name, "version": v.version, "approved_at": _now(), "approved_by": approved_by,
            "signoffs": [{"name": s.name, "role": s.role} for s in signoffs if s.name.strip()],
            "rationale": rationale.strip(), "calibration": calibration, "data": data,
            "version_sha256": current,
        }
        try:
            text = json.dumps(record, indent=2, sort_keys=True, default=str, allow_nan=False)
        except ValueError:
            raise StoreError(f"cannot approve {v.ref}: its calibration result holds a number that is not finite; "
                             "nothing was written") from None
        target = self._dir(name) / f"v{v.version:04d}.approval.json"
        with self._locked():
            self._recover_locked()
            self.check_approvable(name, v.version, signoffs, rationale)
            if self.read_version(name, v.version).sha256 != current:
                raise StoreError(f"{v.ref} changed on disk while it was being approved; not approved")
            crash_point("approve:checked")
            entry = self._entry("approve", approved_by, {"model": name, "version": v.version,
                                                        "signoffs": record["signoffs"], "sha256": current})
            if not self._commit(target, text, entry, "approve"):
                raise StoreError(f"{v.ref} was approved by someone else just now; approvals are final")
        return record

    # ------------------------------------------------------------------ champion vs challenger tests

    def _test_path(self, test: str) -> Path:
        return self.root / TEST_DIR / f"{check_name(test)}.json"

    def tests(self) -> list[str]:
        """Names of the recorded test plans, sorted."""
        folder = self.root / TEST_DIR
        if not folder.is_dir():
            return []
        return sorted(p.stem for p in folder.iterdir() if p.suffix == ".json" and NAME.fullmatch(p.stem))

    def check_testable(self, champion: str, challenger: str) -> tuple[Version, Version]:
        """The champion (an approved version) and the challenger (another saved version) of a test.

        StoreError, one line, when the champion is not approved, the challenger is not in the
        store, or both are the same version.
        """
        c_name, c_version = parse_ref(champion)
        if c_version is None:
            champ = self.champion(c_name) if self._numbers(c_name) else None
            if champ is None:
                raise StoreError(f"champion '{c_name}': the model has no approved version to test against "
                                 "(approve one first, or name a version NAME@V)")
        else:
            champ = self.get(c_name, c_version)
            state = self.approval_state(c_name, champ.version)
            if state.status != "approved":
                raise StoreError(f"champion {champ.ref} is not approved ({state.problem or state.status}); "
                                 "a test runs against an approved version")
        h_name, h_version = parse_ref(challenger)
        if not self._numbers(h_name):
            raise StoreError(f"challenger {challenger}: no model named '{h_name}' in {self.root}; "
                             "save the challenger as a version first")
        try:
            chal = self.get(h_name, h_version)
        except StoreError as exc:
            raise StoreError(f"challenger {challenger}: {exc}; save the challenger as a version first") from None
        if chal.ref == champ.ref:
            raise StoreError(f"challenger {chal.ref} is the champion itself; a test needs two different versions")
        return champ, chal

    def save_test(self, test: str, plan: dict, signoffs: list[SignOff], rationale: str,
                  by: str | None = None) -> dict:
        """Record a signed-off test plan, once: a plan is final (a changed plan is a new test).

        ``plan`` is :meth:`scoring.analysis.abtest.TestPlan.to_dict`; the record adds the
        sign-offs, the rationale and the SHA-256 of both version files, checked again
        under the lock so the plan binds to the exact versions it names.
        """
        test = check_name(test)
        champ, chal = self.check_testable(plan["champion"], plan["challenger"])
        if (champ.ref, chal.ref) != (plan["champion"], plan["challenger"]):
            raise StoreError(f"test {test}: the plan must name exact versions (NAME@V); nothing was written")
        problems = self.signoff_problems(signoffs, rationale)
        if problems:
            raise StoreError(f"cannot record test {test}: " + "; ".join(problems))
        created_by = _one_line(by if by is not None else current_user(), "created by")
        target = self._test_path(test)
        if target.exists():
            raise StoreError(f"test {test} already exists; a test plan is final - give a new test a new name")
        with self._locked():
            self._recover_locked()
            self.check_testable(champ.ref, chal.ref)
            record = {
                "store_format": STORE_FORMAT, "test": test, "created_at": _now(), "created_by": created_by,
                "signoffs": [{"name": s.name, "role": s.role} for s in signoffs if s.name.strip()],
                "rationale": rationale.strip(), "plan": plan,
                "champion_sha256": self.read_version(champ.name, champ.version).sha256,
                "challenger_sha256": self.read_version(chal.name, chal.version).sha256,
            }
            try:
                text = json.dumps(record, indent=2, sort_keys=True, allow_nan=False)
            except ValueError:
                raise StoreError(f"cannot record test {test}: its plan holds a number that is not finite; "
                                 "nothing was written") from None
            entry = self._entry("abtest", created_by, {"test": test, "model": champ.name, "version": champ.version,
                                                       "challenger": chal.ref, "signoffs": record["signoffs"],
                                                       "sha256": sha256_bytes(text.encode("utf-8"))})
            if not self._commit(target, text, entry, "abtest"):
                raise StoreError(f"test {test} already exists; a test plan is final - give a new test a new name")
        return record

    def read_test(self, test: str) -> dict:
        """A recorded test plan; StoreError names the test when it is missing, unreadable, or when a
        version it tests changed after it was signed."""
        path = self._test_path(test)
        rel = self._rel(path)
        try:
            raw = _read(path)
        except FileNotFoundError:
            have = self.tests()
            raise StoreError(f"no test named '{test}' in {self.root} "
                             f"({'tests: ' + ', '.join(have) if have else 'no test recorded yet'})") from None
        except OSError as exc:
            raise StoreError(f"{rel}: cannot read it ({exc.strerror or exc})") from None
        try:
            record = json.loads(raw.decode("utf-8"))
        except (UnicodeDecodeError, ValueError):
            raise StoreError(f"{rel}: not a leadcal test plan: not JSON") from None
        if not isinstance(record, dict) or record.get("test") != test or not isinstance(record.get("plan"), dict):
            raise StoreError(f"{rel}: not a leadcal test plan of {test}")
        for role in ("champion", "challenger"):
            ref = record["plan"].get(role)
            try:
                name, version = parse_ref(str(ref))
                current = self.read_version(name, version).sha256 if version else None
            except StoreError:
                current = None
            if current is None or current != record.get(f"{role}_sha256"):
                raise StoreError(f"test {test}: the {role} {ref} changed or is gone since the plan was signed; "
                                 "its readout would not be about the versions signed off")
        return record

    def commit_export(self, out: Path, text: str, replace: bool = False, by: str | None = None,
                      **fields: Any) -> dict:
        """Write an export to ``out`` and its audit line, all or nothing.

        ``out`` must not exist unless ``replace`` (the caller has checked it is no store file
        and no database); StoreError if it appeared meanwhile.
        """
        entry = self._entry("export", by, {**fields, "out": str(Path(out).resolve()),
                                           "sha256": sha256_bytes(text.encode("utf-8"))})
        with self._locked():
            self._recover_locked()
            if not self._commit(Path(out), text, entry, "export", replace=replace):
                raise StoreError(f"{out}: already exists; choose another name (or --force to replace it)")
        return entry

    # ------------------------------------------------------------------ checking

    def verify(self) -> StoreCheck:
        """Check the whole store: every file parses, approvals match their versions' content
        hashes, and the audit trail has a line for every version and approval."""
        check = StoreCheck()
        check.notes.extend(self.recover())
        try:
            self.settings()
        except StoreError as exc:
            check.problems.append(str(exc))
        for seed in sorted(self.root.glob("*.yaml")):
            if seed.name == "store.yaml":
                continue
            try:
                load_config(seed)
            except ConfigError as exc:
                check.problems.append(str(exc).replace("\n", " "))
        entries, bad = self._audit_lines()
        check.problems.extend(bad)
        check.audit_lines = len(entries) + len(bad)
        logged = {(e.get("action"), e.get("model"), e.get("version")) for e in entries}
        tests_logged = {e.get("test") for e in entries if e.get("action") == "abtest"}
        for test in self.tests():
            try:
                self.read_test(test)
            except StoreError as exc:
                check.problems.append(str(exc))
            if test not in tests_logged:
                check.problems.append(f"{TEST_DIR}/{test}.json: no 'abtest' line in audit.jsonl")
        base = self.root / "models"
        folders = sorted(p for p in base.iterdir() if p.is_dir()) if base.is_dir() else []
        for folder in folders:
            if not NAME.fullmatch(folder.name):
                check.problems.append(f"{self._rel(folder)}: not a valid model name; leadcal ignores it")
                continue
            name = folder.name
            check.models += 1
            numbers = set(self._numbers(name))
            for p in sorted(folder.iterdir()):
                m = APPROVAL_FILE.fullmatch(p.name)
                if m and int(m.group(1)) not in numbers:
                    check.problems.append(f"{self._rel(p)}: an approval of a version that does not exist")
                elif not m and not VERSION_FILE.fullmatch(p.name):
                    check.problems.append(f"{self._rel(p)}: not a file leadcal writes here")
            for n in sorted(numbers):
                try:
                    vf = self.read_version(name, n)
                    config_from_dict(vf.config_data, self._rel(vf.version.path))
                except (StoreError, ConfigError) as exc:
                    check.problems.append(str(exc).replace("\n", " "))
                    continue
                check.versions += 1
                if ("save", name, n) not in logged:
                    check.problems.append(f"{self._rel(vf.version.path)}: no 'save' line in audit.jsonl")
                state = self.approval_state(name, n)
                if state.status == "draft":
                    continue
                if state.status == "approved":
                    check.approvals += 1
                    if ("approve", name, n) not in logged:
                        check.problems.append(f"{self._rel(self._dir(name) / f'v{n:04d}.approval.json')}: "
                                              "no 'approve' line in audit.jsonl")
                if state.problem:
                    check.problems.append(state.problem)
        return check


def _now() -> str:
    return dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")


def _describe(entry: dict) -> str:
    action = entry.get("action", "write")
    ref = f"{entry.get('model')}@{entry.get('version')}"
    if action == "abtest":
        return f"test plan {entry.get('test')}"
    return f"export of {ref} to {entry.get('out')}" if action == "export" else f"{action} of {ref}"


def _read(path: Path) -> bytes:
    """The bytes of a store file; OSError for a directory, pipe or device (a FIFO would block for ever)."""
    import stat

    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise OSError(f"{path.name} is not a regular file")
        with os.fdopen(fd, "rb", closefd=False) as fh:
            return fh.read()
    finally:
        os.close(fd)


def _write_file(path: Path, data: bytes, mode: int | None = None) -> None:
    """Create ``path`` (it must not exist) with ``data``, flushed to disk."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
    try:
        _write_all(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)
    if mode is not None:
        os.chmod(path, mode)  # versions and approvals are never edited
    else:
        mask = os.umask(0)
        os.umask(mask)
        os.chmod(path, 0o666 & ~mask)


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]


def _fsync_dir(path: Path) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _unlink(path: Path) -> None:
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass


def tree_digest(root: str | Path) -> dict[str, str]:
    """Path -> SHA-256 of every file below ``root``: proof that a refused command wrote nothing."""
    root = Path(root)
    if not root.exists():
        return {}
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}

