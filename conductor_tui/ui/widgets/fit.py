"""Fit a DataTable's columns to its width: fixed widths for most, one column takes the rest.

Screens call :func:`fit_table` from ``on_resize`` (and after adding columns), so a table
uses the space at 200 columns and keeps the columns that matter at 80.  A column whose
width is set to 0 is collapsed (its facts are shown elsewhere, e.g. a detail panel); in a
:class:`FitTable` it then takes no room, not even its padding.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from textual.widgets import DataTable
from textual.widgets.data_table import Column, ColumnKey


def shared_width(table: DataTable) -> int:
    """The width the columns share: the content width less the vertical scrollbar's gutter,
    reserved whether or not the scrollbar shows now. Rows arriving later can show it without a
    resize, so a fit that followed the scrollbar depended on which came first (a screen built in
    idle time and one opened first came out 2 columns apart)."""
    width = table.content_region.width or table.size.width
    if table.styles.overflow_y in ("auto", "scroll"):
        width -= table.styles.scrollbar_size_vertical
    return max(0, width)


def fit_table(
    table: DataTable, widths: dict[str, int], fill: str, *, minimum: int = 8, maximum: int | None = None
) -> None:
    """Set each column in ``widths`` (0 hides it: no label, no cells) and give ``fill``
    the width left over (at least ``minimum``, at most ``maximum``)."""
    width = shared_width(table)
    if not width or not table.columns:
        return
    shown = [k for k, c in table.columns.items() if str(k.value) == fill or widths.get(str(k.value), c.width)]
    padding = 2 * table.cell_padding * len(shown)  # a collapsed FitColumn takes no room at all
    used = sum(w for k, w in widths.items() if k != fill and ColumnKey(k) in table.columns)
    left = max(minimum, width - padding - used - 1)
    if maximum is not None:
        left = min(left, maximum)
    changed = False
    for key, value in {**widths, fill: left}.items():
        column = table.columns.get(ColumnKey(key))
        if column is None:
            continue
        if value == 0:
            if column.width != 0 or str(column.label):
                column.width, column.label = 0, column.label.__class__("")
                changed = True
            continue
        if column.width != value:
            column.width = value
            changed = True
        if not str(column.label) and key in getattr(table, "_fit_labels", {}):
            column.label = column.label.__class__(table._fit_labels[key])  # type: ignore[attr-defined]
            changed = True
    if changed:
        table._clear_caches()
        table._require_update_dimensions = True
        table.refresh()


def remember_labels(table: DataTable) -> None:
    """Keep the columns' labels so a collapsed column gets its label back when it reappears."""
    table._fit_labels = {str(k.value): str(c.label) for k, c in table.columns.items()}  # type: ignore[attr-defined]


Layout = tuple[dict[str, int], str]


class FitColumn(Column):
    """A column that takes no room at all (not even its padding) while collapsed to width 0."""

    def get_render_width(self, data_table: DataTable[Any]) -> int:
        if self.width == 0 and not self.auto_width:
            return 0
        return super().get_render_width(data_table)


class FitTable(DataTable):
    """A DataTable that refits its columns on every resize: ``layout(width)`` returns
    ``(widths, fill)`` — fixed widths (0 collapses a column) and the column that takes the rest
    (at most ``widths[fill]`` when the layout gives one).  ``width`` is the screen's, or the
    table's own with ``by_table_width=True``."""

    def __init__(
        self,
        *args: Any,
        layout: Callable[[int], Layout] | None = None,
        minimum: int = 8,
        by_table_width: bool = False,
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self._layout = layout
        self._minimum = minimum
        self._by_table_width = by_table_width

    def add_columns_fitted(self, columns: list[tuple[str, int]]) -> None:
        for label, width in columns:
            key = self.add_column(label, width=width, key=label)
            c = self.columns[key]
            self.columns[key] = FitColumn(c.key, c.label, c.width, c.content_width, c.auto_width)
        remember_labels(self)
        self.refit()

    def on_resize(self) -> None:
        self.refit()

    def refit(self) -> None:
        if self._layout is None or not self.is_mounted:
            return
        if self._by_table_width:
            width = shared_width(self)
        else:
            width = self.app.size.width
        widths, fill = self._layout(width)
        fit_table(self, widths, fill, minimum=self._minimum, maximum=widths.get(fill))
