"""Bounded YAML reading: every YAML file conductor-tui reads goes through here (no Textual).

A YAML file is untrusted input. Three shapes take a reader down:

* **size** — a multi-megabyte "config" is not a config;
* **depth** — ``[[[[…`` 100k deep overflows the recursive composer (``RecursionError``);
* **alias expansion** — the "billion laughs": nine anchors, each a list of nine aliases to
  the previous one, is a few hundred bytes that PyYAML builds as a shared graph, and that
  anything walking the data (validation, copying, JSON) expands to 9⁹ nodes.

:func:`check_bounds` walks the parser's *event stream* (iterative, constant stack) before
anything is composed and refuses a document that is too big, too deep, uses too many
aliases or whose aliases would expand to too many nodes — with the line where it happens.
:func:`load` and :func:`compose_and_load` then parse only documents that passed.
"""

from __future__ import annotations

from typing import Any

import yaml

MAX_YAML_BYTES = 4 * 1024 * 1024  # 4 MiB
MAX_YAML_DEPTH = 64
MAX_YAML_ALIASES = 1000
MAX_YAML_EXPANDED_NODES = 200_000

_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class YamlLimitError(ValueError):
    """A YAML document over a limit; ``line`` is 1-based (``None`` when unknown)."""

    def __init__(self, message: str, line: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.line = line


def _line(event: Any) -> int | None:
    mark = getattr(event, "start_mark", None)
    return mark.line + 1 if mark is not None else None


class _Expansion:
    """The nodes a YAML stream expands to, counted event by event (an alias counts its anchor's
    nodes); raises :class:`YamlLimitError` past the depth, alias or node limit."""

    def __init__(self, max_depth: int, max_aliases: int, max_nodes: int) -> None:
        self.max_depth, self.max_aliases, self.max_nodes = max_depth, max_aliases, max_nodes
        # Each open collection: [expanded node count so far, anchor or None].
        self.stack: list[list[Any]] = []
        self.anchors: dict[str, int] = {}
        self.aliases = 0
        self.total = 0

    def _add(self, count: int) -> None:
        if self.stack:
            self.stack[-1][0] += count
        else:
            self.total += count

    def feed(self, event: Any) -> None:
        if isinstance(event, yaml.CollectionStartEvent):
            if len(self.stack) >= self.max_depth:
                raise YamlLimitError(f"YAML nested deeper than {self.max_depth} levels", _line(event))
            self.stack.append([1, event.anchor])
            return
        if isinstance(event, yaml.CollectionEndEvent):
            count, anchor = self.stack.pop()
            if anchor is not None:
                self.anchors[anchor] = count
            self._add(count)
        elif isinstance(event, yaml.AliasEvent):
            self.aliases += 1
            if self.aliases > self.max_aliases:
                raise YamlLimitError(f"YAML uses more than {self.max_aliases} aliases", _line(event))
            self._add(self.anchors.get(event.anchor, 1) if event.anchor is not None else 1)
        elif isinstance(event, yaml.ScalarEvent):
            if event.anchor is not None:
                self.anchors[event.anchor] = 1
            self._add(1)
        else:
            return
        expanded = self.total + sum(frame[0] for frame in self.stack)
        if expanded > self.max_nodes:
            raise YamlLimitError(
                f"YAML aliases expand to more than {self.max_nodes:,} nodes (an alias bomb?)", _line(event)
            )


def check_bounds(
    text: str,
    *,
    max_bytes: int = MAX_YAML_BYTES,
    max_depth: int = MAX_YAML_DEPTH,
    max_aliases: int = MAX_YAML_ALIASES,
    max_nodes: int = MAX_YAML_EXPANDED_NODES,
) -> None:
    """Raise :class:`YamlLimitError` when ``text`` is over a limit; a syntax error is left
    for the real parse (it raises ``yaml.YAMLError`` with its line)."""
    size = len(text.encode("utf-8", "surrogatepass")) if len(text) * 4 > max_bytes else len(text)
    if size > max_bytes:
        raise YamlLimitError(f"YAML file too large ({size:,} bytes > {max_bytes:,})")
    counter = _Expansion(max_depth, max_aliases, max_nodes)
    try:
        for event in yaml.parse(text, Loader=_LOADER):
            counter.feed(event)
    except yaml.YAMLError as exc:
        if "nesting depth" in str(exc):  # libyaml's own limit, met while scanning ahead
            mark = getattr(exc, "problem_mark", None)
            raise YamlLimitError(
                f"YAML nested deeper than {max_depth} levels", mark.line + 1 if mark is not None else None
            ) from None
        return  # a syntax error: the real parse reports it with its line (what came before it passed)
    except RecursionError as exc:  # pragma: no cover - the depth check comes first
        raise YamlLimitError(f"YAML nested deeper than {max_depth} levels") from exc


def load(text: str) -> Any:
    """``yaml.safe_load`` after :func:`check_bounds` (C loader when available)."""
    check_bounds(text)
    return yaml.load(text, Loader=_LOADER)


def compose(text: str) -> yaml.Node | None:
    """``yaml.compose`` (safe) after :func:`check_bounds`."""
    check_bounds(text)
    return yaml.compose(text, Loader=yaml.SafeLoader)
