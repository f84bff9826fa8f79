"""Bring a keyed DataTable up to date with the fewest changes.

A screen that reloads its data (a visit after the logs changed, ``ctrl+r``) used to clear
its table and add every row again: ~0.15 ms a row, so a 1,000-row queue cost a frame or
ten although nothing, or only a few rows at the end, had changed. :func:`sync_rows` keeps
what the table shows as a list of ``(key, signature)`` and

* does nothing when the rows are the same;
* when the new rows have the old keys, in the same order, and maybe more after them (a
  dashboard's totals after a few new lines: a few figures changed, a new day at the end),
  updates just the cells that changed and adds the new rows;
* when the new rows are the old ones with a few dropped (from the top: a window of the
  newest entries after lines were appended to a log; from anywhere: the run just evaluated),
  in the same order, maybe changed, and some added at the bottom, removes, updates and adds
  just those;
* otherwise clears the table and adds every row, as before.

Cursor moves made while rows are removed post no highlight messages: the screen moves the
cursor to the row it keeps and shows its detail itself.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable, Sequence
from typing import Any

from rich.text import Text
from textual.widgets import DataTable

# Removing a row re-indexes the table (linear); beyond this many, clearing is cheaper.
MAX_REMOVALS = 64

Shown = list[tuple[str, tuple]]


def signature(cells: Sequence[Any]) -> tuple:
    """What a row looks like: each cell's text, base style and styled spans (two rows with
    the same signature render the same)."""
    out: list[tuple] = []
    for cell in cells:
        if isinstance(cell, Text):
            out.append((cell.plain, str(cell.style), tuple(cell.spans), cell.no_wrap, cell.overflow))
        else:
            out.append((cell,))
    return tuple(out)


def sync_rows(
    table: DataTable, shown: Shown, rows: Sequence[tuple[str, Sequence[Any]]], *, height: int = 1
) -> Shown:
    """Make ``table`` show ``rows`` (``(key, cells)`` in order) given that it shows ``shown``
    (what the last call returned); returns what it shows now."""
    new = [(key, signature(cells)) for key, cells in rows]
    return _sync(table, shown, new, lambda i: rows[i][1], height)


_SHOWN: weakref.WeakKeyDictionary[DataTable, Shown] = weakref.WeakKeyDictionary()


def show_rows(
    table: DataTable,
    rows: Sequence[tuple[str, Any]],
    build: Callable[[Any], Sequence[Any]],
    *,
    height: int = 1,
) -> None:
    """Make ``table`` show ``rows``: ``(key, data)`` in order, ``data`` comparing equal
    when its row would look the same; ``build(data)`` makes a row's cells, for the rows to
    add or update only. What the table shows is remembered here."""
    new = [(key, (data,)) for key, data in rows]
    _SHOWN[table] = _sync(table, _SHOWN.get(table, []), new, lambda i: build(rows[i][1]), height)


def _sync(
    table: DataTable, shown: Shown, new: Shown, cells_of: Callable[[int], Sequence[Any]], height: int
) -> Shown:
    if len(shown) != table.row_count:  # the table was changed elsewhere: start over
        shown = []
    if new == shown:
        return new
    n = len(shown)
    if n and len(new) >= n and all(a[0] == b[0] for a, b in zip(shown, new, strict=False)):
        for i in range(n):
            if shown[i][1] != new[i][1]:
                _update_row(table, new[i][0], cells_of(i))
        for i in range(n, len(new)):
            table.add_row(*cells_of(i), height=height, key=new[i][0])
        return new
    gone = _removed(shown, new)
    if gone is None:
        table.clear()
        for i, (key, _sig) in enumerate(new):
            table.add_row(*cells_of(i), height=height, key=key)
        return new
    before, stay = dict(shown), n - len(gone)
    with table.prevent(DataTable.RowHighlighted, DataTable.CellHighlighted):
        for key in gone:
            table.remove_row(key)
        for i in range(stay):
            if before[new[i][0]] != new[i][1]:
                _update_row(table, new[i][0], cells_of(i))
        for i in range(stay, len(new)):
            table.add_row(*cells_of(i), height=height, key=new[i][0])
    return new


def _update_row(table: DataTable, key: str, cells: Sequence[Any]) -> None:
    """Update the cells of row ``key`` that changed. A column is measured again only when
    a new cell is wider than it (a narrower one leaves it as wide as it was: measuring it
    again means measuring every cell of the column)."""
    for column, cell in zip(table.columns.values(), cells, strict=False):
        if signature((table.get_cell(key, column.key),)) == signature((cell,)):
            continue
        width = cell.cell_len if isinstance(cell, Text) else len(str(cell))
        table.update_cell(key, column.key, cell, update_width=width > column.content_width)


def _removed(shown: Shown, new: Shown) -> list[str] | None:
    """The keys of ``shown`` that ``new`` drops (at most :data:`MAX_REMOVALS`, from anywhere:
    the oldest entries of a window that moved on, the run just evaluated) when ``new`` is
    the other rows of ``shown`` in the same order (their cells may differ) followed by new
    rows; ``None`` when it is not (or nothing of the old rows stays)."""
    keys = {key for key, _sig in new}
    gone = [key for key, _sig in shown if key not in keys]
    if len(gone) > MAX_REMOVALS or len(gone) == len(shown):
        return None
    stay = [key for key, _sig in shown if key in keys]
    if any(a != b[0] for a, b in zip(stay, new, strict=False)):
        return None
    return gone
