"""Reading YAML so that a file means exactly what was typed.

``yaml.safe_load`` quietly changes meaning in ways a config cannot afford:

- a repeated key replaces the first (a second ``engagement:`` block drops ten rules);
- keys such as ``Yes``, ``1`` or ``2024-01-01`` become a boolean, a number, a date;
- YAML 1.1 reads ``010`` as 8, ``0x10`` as 16 and ``1:30`` as 90;
- anchors and aliases can make a few lines expand into millions of values;
- a document nested a few thousand levels deep raises RecursionError.

:func:`load_yaml` refuses all of these with the line they are on (:class:`YamlError`),
and keeps every mapping key as the text typed. Values keep YAML's types (``yes`` is
still ``True``): the typed models that read them refuse a boolean where a number is due.
"""

from __future__ import annotations

import re
from typing import Any

import yaml

MAX_DEPTH = 64
"""Deepest nesting accepted; a config nests about six levels."""

_Base = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_DECIMAL = re.compile(r"[-+]?(0|[1-9][0-9_]*)")


class YamlError(ValueError):
    """A YAML text refused, with the line of the problem when known."""

    def __init__(self, problem: str, line: int | None = None):
        self.problem = problem
        self.line = line
        super().__init__(f"line {line}: {problem}" if line else problem)


def _line(node: yaml.Node) -> int | None:
    mark = getattr(node, "start_mark", None)
    return mark.line + 1 if mark is not None else None


class _Loader(_Base):  # type: ignore[misc, valid-type]
    """SafeLoader with keys kept as typed, duplicates refused and YAML 1.1 number forms refused."""


def _mapping(loader: _Loader, node: yaml.MappingNode) -> Any:
    data: dict[str, Any] = {}
    yield data
    for key_node, value_node in node.value:
        if not isinstance(key_node, yaml.ScalarNode):
            raise YamlError("a key must be plain text, not a list or a mapping", _line(key_node))
        key = key_node.value
        if key in data:
            raise YamlError(f"key {key!r} appears twice in the same mapping (the second would silently "
                            "replace the first); keep one", _line(key_node))
        data[key] = loader.construct_object(value_node)


def _int(loader: _Loader, node: yaml.ScalarNode) -> int:
    text = node.value
    if not _DECIMAL.fullmatch(text):
        raise YamlError(f"{text!r} is read by YAML as a number in another base or in minutes:seconds "
                        f"({loader.construct_yaml_int(node)}); write the number in plain decimal digits, "
                        "or put it in quotes if it is text", _line(node))
    return int(text.replace("_", ""))


def _float(loader: _Loader, node: yaml.ScalarNode) -> float:
    if ":" in node.value:
        raise YamlError(f"{node.value!r} is read by YAML as minutes:seconds "
                        f"({loader.construct_yaml_float(node)}); write a plain number, or put it in quotes "
                        "if it is text", _line(node))
    return loader.construct_yaml_float(node)


_Loader.add_constructor("tag:yaml.org,2002:map", _mapping)
_Loader.add_constructor("tag:yaml.org,2002:int", _int)
_Loader.add_constructor("tag:yaml.org,2002:float", _float)


def _check_nodes(root: yaml.Node) -> None:
    """Refuse aliases and nesting deeper than MAX_DEPTH, walking the node graph without recursion."""
    seen: set[int] = set()
    stack: list[tuple[yaml.Node, int]] = [(root, 1)]
    while stack:
        node, depth = stack.pop()
        if id(node) in seen:
            raise YamlError("anchors and aliases (&name, *name) are not supported; write the value out",
                            _line(node))
        seen.add(id(node))
        if isinstance(node, yaml.ScalarNode):
            continue
        if depth > MAX_DEPTH:
            raise YamlError(f"nested more than {MAX_DEPTH} levels deep", _line(node))
        children = node.value if isinstance(node, yaml.SequenceNode) else [n for kv in node.value for n in kv]
        stack.extend((child, depth + 1) for child in children)


def load_yaml(text: str) -> Any:
    """The data of one YAML document (None when empty); YamlError says what and where."""
    loader = _Loader(text)
    try:
        try:
            node = loader.get_single_node()
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
            raise YamlError(f"not valid YAML ({problem})", mark.line + 1 if mark else None) from None
        except RecursionError:
            raise YamlError(f"nested more than {MAX_DEPTH} levels deep") from None
        if node is None:
            return None
        _check_nodes(node)
        try:
            return loader.construct_document(node)
        except YamlError:
            raise
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
            raise YamlError(f"not valid YAML ({problem})", mark.line + 1 if mark else None) from None
    finally:
        loader.dispose()


def dump_yaml(data: Any) -> str:
    """YAML text of plain data, keys in the given order, never with anchors or aliases."""
    return yaml.dump(data, Dumper=_NoAliasDumper, sort_keys=False, allow_unicode=True, width=100)


class _NoAliasDumper(yaml.SafeDumper):
    def ignore_aliases(self, data: Any) -> bool:
        return True
