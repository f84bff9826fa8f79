"""Reading one YAML file with its node tree (for ``file:line`` problems), and the error that
carries every problem an ensemble file has."""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from conductor_tui.core.spec import Problem
from conductor_tui.core.yamlnodes import YamlFileError, read_yaml_doc


class EnsembleLoadError(Exception):
    """Raised by :func:`load_ensemble_file` with every problem found."""

    def __init__(self, problems: list[Problem]):
        self.problems = problems
        super().__init__("\n".join(str(p) for p in problems))


@dataclass
class _Doc:
    data: Any
    node: yaml.Node | None


def read_yaml(path: Path) -> _Doc:
    """Parse one YAML file keeping the node tree (for line numbers).

    Raises :class:`EnsembleLoadError` with ``file:line`` on a syntax error.
    """
    try:
        doc = read_yaml_doc(path)
    except YamlFileError as exc:
        raise EnsembleLoadError(exc.problems) from exc
    return _Doc(doc.data, doc.node)


def key_lines(node: yaml.Node | None) -> dict[str, int]:
    if not isinstance(node, yaml.MappingNode):
        return {}
    return {k.value: k.start_mark.line + 1 for k, _ in node.value if isinstance(k, yaml.ScalarNode)}


def node_line(node: yaml.Node | None) -> int | None:
    return node.start_mark.line + 1 if node is not None else None


def suggest_key(key: str, allowed: Iterable[str]) -> str:
    close = difflib.get_close_matches(key, sorted(allowed), n=1, cutoff=0.6)
    return f'did you mean "{close[0]}"?' if close else "remove it"
