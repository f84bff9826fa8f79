"""Read a YAML file keeping line numbers, for errors that say ``file:line``.

:func:`read_yaml_doc` parses once into a node tree and constructs the data from it, so a
semantic error found in the data (an unknown phase type, a reference to a phase that does
not exist) can point at the line of the offending key or value. No Textual here.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from conductor_tui.core.safeyaml import MAX_YAML_BYTES, YamlLimitError, check_bounds
from conductor_tui.core.spec import Problem


class YamlFileError(Exception):
    """A file that could not be read or parsed; ``problems`` say where."""

    def __init__(self, problems: list[Problem]):
        self.problems = problems
        super().__init__("\n".join(str(p) for p in problems))


@dataclass
class Node:
    """A YAML node with its data, for walking mappings and lists with line numbers."""

    node: yaml.Node | None
    data: Any

    @property
    def line(self) -> int | None:
        return self.node.start_mark.line + 1 if self.node is not None else None

    def child(self, key: str) -> Node:
        """The value under ``key`` of a mapping (data ``None`` when absent)."""
        data = self.data.get(key) if isinstance(self.data, dict) else None
        return Node(_mapping_child(self.node, key), data)

    def key_line(self, key: str) -> int | None:
        """The line of ``key`` itself (falls back to this node's line)."""
        if isinstance(self.node, yaml.MappingNode):
            for k, _v in self.node.value:
                if isinstance(k, yaml.ScalarNode) and k.value == key:
                    return k.start_mark.line + 1
        return self.line

    def items(self) -> list[Node]:
        """The elements of a list, each with its node."""
        if not isinstance(self.data, list):
            return []
        nodes = self.node.value if isinstance(self.node, yaml.SequenceNode) else []
        return [Node(nodes[i] if i < len(nodes) else None, value) for i, value in enumerate(self.data)]

    def entries(self) -> list[tuple[str, int | None, Node]]:
        """(key, key line, value node) of a mapping, in file order."""
        if not isinstance(self.data, dict):
            return []
        out: list[tuple[str, int | None, Node]] = []
        if isinstance(self.node, yaml.MappingNode):
            for k, v in self.node.value:
                if isinstance(k, yaml.ScalarNode) and k.value in self.data:
                    out.append((k.value, k.start_mark.line + 1, Node(v, self.data[k.value])))
            return out
        return [(str(k), self.line, Node(None, v)) for k, v in self.data.items()]


def _mapping_child(node: yaml.Node | None, key: str) -> yaml.Node | None:
    if not isinstance(node, yaml.MappingNode):
        return None
    for k, v in node.value:
        if isinstance(k, yaml.ScalarNode) and k.value == key:
            return v
    return None


def parse_yaml_text(text: str, path: Path | None = None) -> Node:
    """Parse ``text``; raise :class:`YamlFileError` with the line of a syntax error."""
    try:
        check_bounds(text)
    except YamlLimitError as exc:
        raise YamlFileError([Problem(exc.message, path=path, line=exc.line, code="yaml")]) from exc
    loader = yaml.SafeLoader(text)
    try:
        node = loader.get_single_node()
        data = loader.construct_document(node) if node is not None else None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        what = exc.problem or "invalid YAML"
        if exc.context:
            what = f"{exc.context}: {what}"
        raise YamlFileError(
            [
                Problem(
                    f"YAML syntax error: {what}",
                    path=path,
                    line=mark.line + 1 if mark is not None else None,
                    code="yaml",
                )
            ]
        ) from exc
    except yaml.YAMLError as exc:
        raise YamlFileError([Problem(f"YAML error: {exc}", path=path, code="yaml")]) from exc
    except RecursionError as exc:
        raise YamlFileError([Problem("YAML nested too deeply", path=path, code="yaml")]) from exc
    finally:
        loader.dispose()
    return Node(node, data)


def read_yaml_doc(path: Path) -> Node:
    """Read and parse ``path``; raise :class:`YamlFileError` naming the file (and line)."""
    try:
        size = path.stat().st_size
        if size > MAX_YAML_BYTES:
            raise YamlFileError(
                [Problem(f"YAML file too large ({size:,} bytes > {MAX_YAML_BYTES:,})", path=path, code="io")]
            )
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise YamlFileError([Problem(f"not UTF-8 text ({exc.reason})", path=path, code="io")]) from exc
    except OSError as exc:
        raise YamlFileError([Problem(f"cannot read: {exc.strerror}", path=path, code="io")]) from exc
    return parse_yaml_text(text, path)
