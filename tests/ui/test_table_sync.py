"""ui.widgets.table_sync: a reloaded table keeps its unchanged rows, drops the oldest and adds
the newest when a window of entries moved on, and is rebuilt otherwise — always ending with
exactly the rows asked for."""

from __future__ import annotations

from rich.text import Text
from textual.app import App, ComposeResult
from textual.widgets import DataTable

from conductor_tui.ui.widgets.table_sync import MAX_REMOVALS, show_rows, sync_rows


class Counting(DataTable):
    def __init__(self) -> None:
        super().__init__(cursor_type="row")
        self.clears = 0
        self.added = 0

    def clear(self, columns: bool = False):  # type: ignore[override]
        self.clears += 1
        return super().clear(columns)

    def add_row(self, *cells, **kwargs):  # type: ignore[override]
        self.added += 1
        return super().add_row(*cells, **kwargs)


class Host(App):
    def compose(self) -> ComposeResult:
        yield Counting()

    def on_mount(self) -> None:
        self.query_one(Counting).add_columns("run", "why")


def _rows(numbers, why: str = "due") -> list[tuple[str, tuple[Text, Text]]]:
    return [(f"rt-{i}", (Text(f"run {i}", style="bold"), Text(why))) for i in numbers]


def _shown(table: DataTable) -> list[tuple[str, str, str]]:
    return [
        (str(row.key.value), *(str(cell) for cell in table.get_row(row.key)))
        for row in table.ordered_rows  # type: ignore[misc]
    ]


def _expect(rows) -> list[tuple[str, str, str]]:
    return [(key, str(a), str(b)) for key, (a, b) in rows]


async def test_unchanged_moved_on_and_changed_rows() -> None:
    app = Host()
    async with app.run_test() as pilot:
        table = app.query_one(Counting)
        first = _rows(range(0, 100))
        shown = sync_rows(table, [], first)
        assert _shown(table) == _expect(first) and table.clears == 1
        table.move_cursor(row=50)
        await pilot.pause()

        table.added = 0
        shown = sync_rows(table, shown, _rows(range(0, 100)))  # the same rows, new objects
        assert table.added == 0 and table.clears == 1
        assert table.cursor_row == 50

        moved = _rows(range(7, 105))  # 7 dropped from the top, 5 new at the bottom
        shown = sync_rows(table, shown, moved)
        assert _shown(table) == _expect(moved)
        assert table.added == 5 and table.clears == 1

        grown = _rows(range(7, 110))  # only appended
        shown = sync_rows(table, shown, grown)
        assert _shown(table) == _expect(grown) and table.clears == 1

        restyled = _rows(range(7, 110))
        restyled[40][1][1].stylize("red")  # same text, another style: that cell is updated
        restyled[41] = ("rt-48", (Text("run 48 — a much longer label than before"), Text("due")))
        table.added = 0
        shown = sync_rows(table, shown, restyled)
        assert table.clears == 1 and table.added == 0 and _shown(table) == _expect(restyled)
        assert table.get_cell("rt-47", table.ordered_columns[1].key).spans == restyled[40][1][1].spans
        await pilot.pause()
        assert table.ordered_columns[0].content_width == restyled[41][1][0].cell_len  # widened

        too_far = _rows(range(7 + MAX_REMOVALS + 1, 200))
        shown = sync_rows(table, shown, too_far)
        assert table.clears == 2 and _shown(table) == _expect(too_far)

        shrunk = _rows(range(7 + MAX_REMOVALS + 1, 150))  # a few rows gone from the bottom
        shown = sync_rows(table, shown, shrunk)
        assert table.clears == 2 and _shown(table) == _expect(shrunk)

        # the run just evaluated gone from the middle, the next ones' reasons changed, one new
        evaluated = [(k, cells) for k, cells in _rows(range(7 + MAX_REMOVALS + 1, 151)) if k != "rt-100"]
        evaluated[40] = (evaluated[40][0], (evaluated[40][1][0], Text("calibrate 2/5")))
        table.added = 0
        shown = sync_rows(table, shown, evaluated)
        assert table.clears == 2 and table.added == 1 and _shown(table) == _expect(evaluated)

        reordered = list(reversed(evaluated))  # not the same order: rebuilt
        shown = sync_rows(table, shown, reordered)
        assert table.clears == 3 and _shown(table) == _expect(reordered)

        shown = sync_rows(table, shown, [])
        assert table.row_count == 0 and shown == []


async def test_a_table_changed_behind_its_back_is_rebuilt() -> None:
    app = Host()
    async with app.run_test():
        table = app.query_one(Counting)
        shown = sync_rows(table, [], _rows(range(10)))
        table.remove_row("rt-3")
        shown = sync_rows(table, shown, _rows(range(10)))
        assert _shown(table) == _expect(_rows(range(10))) and table.clears == 2


async def test_rows_built_from_data_only_when_it_changed() -> None:
    """show_rows: the cells of a row are made only for rows added or whose data changed."""
    app = Host()
    async with app.run_test():
        table = app.query_one(Counting)
        built: list[int] = []

        def build(n: int) -> tuple[Text, Text]:
            built.append(n)
            return Text(f"run {n}"), Text("x" * (n % 7))

        show_rows(table, [(f"rt-{i}", i) for i in range(300)], build)
        assert len(built) == 300 and table.row_count == 300
        built.clear()
        show_rows(table, [(f"rt-{i}", i) for i in range(300)], build)
        assert built == [] and table.clears == 1
        data = [(f"rt-{i}", i) for i in range(302)]
        data[5] = ("rt-5", 1005)  # one row's figures changed, two days added at the end
        show_rows(table, data, build)
        assert built == [1005, 300, 301] and table.clears == 1
        assert _shown(table) == [(key, f"run {n}", "x" * (n % 7)) for key, n in data]
