"""The layout of scoring/ is its architecture: subpackages in layers, no import cycles, no Streamlit.

Every module lives in a subpackage whose ``__init__`` docstring says what it owns and,
on a line ``May import: ...``, which other subpackages it may import. This test reads
those lines, walks every import of every module (at the top and inside functions alike:
an import deferred for speed is still a dependency), and fails on an import of a
subpackage not allowed, on any cycle between modules, and on any import of Streamlit.
The checks are run on a small tree with known faults first, so they are shown to fail.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SCORING = ROOT / "scoring"


def module_name(path: Path, root: Path) -> str:
    """``scoring/model/engine.py`` -> ``scoring.model.engine``; a package's ``__init__`` is the package."""
    parts = list(path.relative_to(root.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def import_edges(root: Path) -> dict[str, set[str]]:
    """Each module of the package at ``root`` -> the modules of that package it imports (anywhere in it)."""
    top = root.name
    modules = {module_name(p, root): p for p in root.rglob("*.py")}
    edges: dict[str, set[str]] = {}
    for name, path in modules.items():
        is_package = path.name == "__init__.py"
        package = name if is_package else name.rsplit(".", 1)[0]
        found: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                found.update(a.name for a in node.names if a.name.split(".")[0] == top)
            elif isinstance(node, ast.ImportFrom):
                if node.level:
                    base = package.split(".")[: len(package.split(".")) - node.level + 1]
                    target = ".".join(base + ([node.module] if node.module else []))
                else:
                    target = node.module or ""
                if target.split(".")[0] != top:
                    continue
                submodules = {f"{target}.{a.name}" for a in node.names} & modules.keys()
                found.update(submodules or {target})
                if len(submodules) < len(node.names):  # names taken from the module itself
                    found.add(target)
        found.discard(name)
        edges[name] = {m for m in found if m in modules}
    return edges


def cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """The import cycles (strongly connected components of more than one module, or a module importing itself)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:  # Tarjan's algorithm (recursion depth: the number of modules, a few dozen)
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(edges.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1 or v in edges.get(v, ()):
                found.append(sorted(component))

    for v in sorted(edges):
        if v not in index:
            visit(v)
    return found


MAY_IMPORT = re.compile(r"^May import: (.*?)\.?$", re.MULTILINE)


def allowed_imports(root: Path) -> dict[str, set[str]]:
    """Each subpackage -> the subpackages its ``__init__`` docstring says it may import."""
    out = {}
    for init in sorted(root.glob("*/__init__.py")):
        doc = ast.get_docstring(ast.parse(init.read_text())) or ""
        found = MAY_IMPORT.findall(doc)
        assert len(found) == 1, f"{init.relative_to(root.parent)}: its docstring needs one line 'May import: ...'"
        text = found[0].strip()
        out[init.parent.name] = set() if text.startswith("nothing") else {p.strip() for p in text.split(",")}
    return out


def layer_violations(edges: dict[str, set[str]], allowed: dict[str, set[str]]) -> list[str]:
    """Imports that run against the layers: from one subpackage into another it may not import."""
    out = []
    for source, targets in sorted(edges.items()):
        parts = source.split(".")
        if len(parts) < 2:
            continue  # the package root: its version, nothing else
        for target in sorted(targets):
            to = target.split(".")
            if len(to) < 2 or to[1] == parts[1]:
                continue  # the root (its __version__) and the same subpackage are always allowed
            if to[1] not in allowed.get(parts[1], set()):
                out.append(f"{source} imports {target}: {parts[1]} may import "
                           f"{', '.join(sorted(allowed.get(parts[1], set()))) or 'nothing else'}")
    return out


def loose_modules(root: Path) -> list[str]:
    """Modules directly in the package instead of in a subpackage (the root's ``__init__`` aside)."""
    return sorted(p.name for p in root.glob("*.py") if p.name != "__init__.py")


def streamlit_imports(root: Path) -> list[str]:
    """Modules importing Streamlit (the domain must run without it: CLI, tests, schedules)."""
    out = []
    for path in sorted(root.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            names = ([a.name for a in node.names] if isinstance(node, ast.Import)
                     else [node.module or ""] if isinstance(node, ast.ImportFrom) and not node.level else [])
            if any(n.split(".")[0] == "streamlit" for n in names):
                out.append(f"{module_name(path, root)} imports {', '.join(names)}")
    return out


# --------------------------------------------------------------------------- the checks shown to fail


def _write(root: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return root


def test_the_checks_find_a_cycle_a_layer_violation_a_loose_module_and_streamlit(tmp_path):
    pkg = _write(tmp_path / "pkg", {
        "__init__.py": '"""A package."""\n',
        "loose.py": "",
        "low/__init__.py": '"""Low.\n\nMay import: nothing else in pkg.\n"""\n',
        "low/a.py": "def f():\n    from ..high.b import g  # deferred, still a dependency\n",
        "high/__init__.py": '"""High.\n\nMay import: low.\n"""\n',
        "high/b.py": "from ..low import a\nfrom pkg.high import c\ng = 1\n",
        "high/c.py": "from . import b\nimport streamlit as st\n",
    })
    edges = import_edges(pkg)
    assert edges["pkg.high.b"] == {"pkg.low.a", "pkg.high.c"}
    assert edges["pkg.low.a"] == {"pkg.high.b"}
    assert cycles(edges) == [["pkg.high.b", "pkg.high.c", "pkg.low.a"]]
    assert layer_violations(edges, allowed_imports(pkg)) == [
        "pkg.low.a imports pkg.high.b: low may import nothing else"]
    assert loose_modules(pkg) == ["loose.py"]
    assert streamlit_imports(pkg) == ["pkg.high.c imports streamlit"]


def test_a_subpackage_without_its_may_import_line_is_named(tmp_path):
    pkg = _write(tmp_path / "pkg", {"__init__.py": "", "sub/__init__.py": '"""Sub, saying nothing of imports."""\n'})
    with pytest.raises(AssertionError, match="pkg/sub/__init__.py: its docstring needs one line 'May import"):
        allowed_imports(pkg)


# --------------------------------------------------------------------------- scoring/ itself


def test_every_module_of_scoring_is_in_a_subpackage():
    assert loose_modules(SCORING) == []


def test_scoring_has_no_import_cycle():
    assert cycles(import_edges(SCORING)) == []


def test_no_import_runs_against_the_layers():
    assert layer_violations(import_edges(SCORING), allowed_imports(SCORING)) == []


def test_the_layers_themselves_run_one_way():
    """The allowed imports form an order (no two subpackages may import each other, directly or not)."""
    allowed = allowed_imports(SCORING)
    assert set().union(*allowed.values()) <= set(allowed), "a 'May import' line names an unknown subpackage"
    assert cycles(allowed) == []
    assert allowed["base"] == set() and allowed["model"] == {"base"}  # the model at the bottom
    assert all(p in allowed["cli"] for p in allowed if p != "cli")  # the CLI on top


def test_scoring_imports_no_streamlit():
    assert streamlit_imports(SCORING) == []
