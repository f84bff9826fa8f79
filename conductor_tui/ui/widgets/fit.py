"""Fit a DataTable's columns to its width: fixed widths for most, one column takes the rest.

Screens call :func:`fit_table` from ``on_resize`` (and after adding columns), so a table
uses the space at 200 columns and keeps the columns that matter at 80.  A column whose
width is set to 0 is collapsed (its facts are shown elsewhere, e.g. a detail panel).
"""

from __future__ import annotations

from textual.widgets import DataTable
from textual.widgets.data_table import ColumnKey


def fit_table(
    table: DataTable, widths: dict[str, int], fill: str, *, minimum: int = 8, maximum: int | None = None
) -> None:
    """Set each column in ``widths`` (0 hides it: no label, no cells) and give ``fill``
    the width left over (at least ``minimum``, at most ``maximum``)."""
    width = table.scrollable_content_region.width or table.size.width
    if not width or not table.columns:
        return
    padding = 2 * table.cell_padding * len(table.columns)  # a collapsed column keeps its padding
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


class FitTable(DataTable):
    """A DataTable that refits its columns on every resize: ``layout(screen_width)`` returns
    ``(widths, fill)`` — fixed widths (0 collapses a column) and the column that takes the rest."""

    def __init__(self, *args, layout=None, minimum: int = 8, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._layout = layout
        self._minimum = minimum

    def add_columns_fitted(self, columns: list[tuple[str, int]]) -> None:
        for label, width in columns:
            self.add_column(label, width=width, key=label)
        remember_labels(self)
        self.refit()

    def on_resize(self) -> None:
        self.refit()

    def refit(self) -> None:
        if self._layout is None or not self.is_mounted:
            return
        widths, fill = self._layout(self.app.size.width)
        fit_table(self, widths, fill, minimum=self._minimum)
