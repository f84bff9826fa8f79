"""The Savings screen's panels: the KPI cards, the per task type / ensemble / day tables,
the chart of local tokens per day and the session wrap-up (see the glossary: token savings,
interim Claude / debt).  Each fills itself from an aggregate snapshot."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Horizontal
from textual.widgets import DataTable, Static

from conductor_tui.ui.widgets.charts import columns
from conductor_tui.ui.widgets.numbers import fit_count, fit_counts
from conductor_tui.ui.widgets.table_sync import show_rows

CARDS = ("local", "saved", "share", "debt", "evals", "skipped")
# each table's columns in display order, and the order in which they give way when the table is
# narrow (the first column of the table takes the rest, up to its width)
TASK_TYPE_COLUMNS = (("task type", 22), ("phase", 9), ("dec", 4), ("local", 5), ("tokens", 7),
                     ("saved~", 7), ("debt", 4), ("g/a/p", 11), ("ratio", 5))  # fmt: skip
TASK_TYPE_PRIORITY = ("saved~", "debt", "task type", "phase", "tokens", "local", "dec", "g/a/p", "ratio")
ENSEMBLE_COLUMNS = (("ensemble", 22), ("phase", 9), ("runs", 4), ("tokens", 7), ("saved~", 7),
                    ("g/a/p", 11), ("promotion", 24))  # fmt: skip
ENSEMBLE_PRIORITY = ("saved~", "ensemble", "phase", "runs", "tokens", "g/a/p", "promotion")
DAY_COLUMNS = (("day", 10), ("dec", 4), ("local", 5), ("tokens", 7), ("Claude", 7), ("saved~", 7),
               ("debt", 4))  # fmt: skip
DAY_PRIORITY = ("saved~", "debt", "tokens", "Claude", "local", "dec")
FILL_MINIMUM = {"task type": 12, "ensemble": 12, "day": 10}


def priority_layout(
    columns: tuple[tuple[str, int], ...], priority: tuple[str, ...]
) -> Callable[[int], tuple[dict[str, int], str]]:
    """A table layout by the table's own width: the first column fills (at least its minimum,
    at most its width); the others show in ``priority`` order while they fit, and from the
    first that does not, the rest collapse (``d`` explains a row's figures from the log)."""
    full = dict(columns)
    fill = columns[0][0]

    def layout(width: int) -> tuple[dict[str, int], str]:
        room = width - 1 - (FILL_MINIMUM[fill] + 2)  # every shown column has a cell of padding each side
        widths = dict.fromkeys(full, 0)
        widths[fill] = full[fill]
        for key in priority:
            need = full[key] - FILL_MINIMUM[fill] if key == fill else full[key] + 2
            if need > room:
                break
            room -= need
            if key != fill:
                widths[key] = full[key]
        return widths, fill

    return layout


def _k(n: int | float) -> str:
    return f"{int(n):,}"


def wrapup_text(snap: Any, ratio_label: str) -> Text:
    """The session wrap-up summary for every logged decision (see the glossary: token savings)."""
    d, n = snap.local_decisions, snap.routing_decisions
    text = Text()
    text.append(f"Workflow complete. {d}/{n} subtasks handled locally.\n", style="bold")
    text.append(
        f"Local: {_k(snap.total_tokens_local)} tokens | Claude savings: ~{_k(snap.estimated_claude_tokens_saved)} tokens"
    )
    text.append(f"  ({ratio_label})\n", style="dim")
    text.append("Lifecycle progression:\n", style="bold")
    for tt, row in snap.by_task_type.items():
        phase = row.get("phase")
        if not phase:
            continue
        nxt = row.get("next_step") or ""
        text.append(f"  {tt}: ")
        text.append(str(phase).title(), style="bold")
        text.append(f"{' — ' + nxt if nxt else ''}\n", style="dim")
    text.append(
        f"Interim Claude debt: {snap.interim_claude_debt} delegable tasks handled by Claude",
        style="yellow" if snap.interim_claude_debt else "",
    )
    return text


def workflow_text(wrap: Any, snap: Any) -> Text:
    """The wrap-up of the latest workflow plan, then one line for the whole log."""
    text = Text()
    text.append(wrap.meta_task + "\n", style="italic dim")
    for i, line in enumerate(wrap.lines()):
        style = (
            "bold"
            if i == 0 or line == "Lifecycle progression:"
            else "yellow"
            if line.startswith("Interim") and wrap.debt
            else ""
        )
        text.append(line + "\n", style=style)
    text.append(
        f"All sessions: {snap.local_decisions}/{snap.routing_decisions} local · "
        f"~{_k(snap.estimated_claude_tokens_saved)} Claude tokens saved (local ÷ {wrap.ratio:g})",
        style="dim",
    )
    return text


def _share_label(local: int, n: int, narrow: bool, room: int) -> str:
    """``local (739666/999002)``, or as much of it as the card has room for."""
    label = f"local ({local}/{n})"
    if narrow or len(label) > room:
        label = fit_counts((local, n), room)
    return label


def _card(value: str | Text, label: str, style: str = "bold", room: int = 16) -> Text:
    """A figure over its label, each centred on the wider of the two (the card centres the
    pair as a block; a label wider than the card's ``room`` wraps)."""
    figure = Text(value, style=style) if isinstance(value, str) else value
    width = min(max(figure.cell_len, len(label)), room)
    left = (width - figure.cell_len) // 2
    text = Text(" " * left)
    text.append_text(figure)
    text.append("\n" + (label.center(width).rstrip() if len(label) <= width else label), style="dim")
    return text


_WIDTH = {**dict(TASK_TYPE_COLUMNS), **dict(DAY_COLUMNS)}
_ENS_WIDTH = dict(ENSEMBLE_COLUMNS)


def _cell(n: int | float, width: int, style: str = "", *, grouped: bool = True) -> Text:
    """A count right-aligned in a column ``width`` cells wide, shortened to fit rather than cut."""
    return Text(fit_count(n, width, grouped=grouped), justify="right", style=style)


def _debt_cell(debt: int) -> Text:
    """The interim Claude debt; blank when there is none."""
    return _cell(debt, _WIDTH["debt"], "yellow", grouped=False) if debt else Text("")


def _gap(e: dict) -> Text:
    return Text(fit_counts((e.get("good", 0), e.get("acceptable", 0), e.get("poor", 0)), _WIDTH["g/a/p"]))


class KpiCards(Horizontal):
    """Six cards: local tokens, Claude tokens saved (with its range), the local share, the
    interim Claude debt, evaluations by score and corrupt lines skipped.  Below 100 columns
    the labels are the short ones that fit a card."""

    def compose(self) -> ComposeResult:
        for cid in CARDS:
            yield Static(id=f"sv-{cid}", classes="sv-card")

    def show(self, snap: Any, rng: Any, *, narrow: bool, room: int = 16) -> None:
        """``room``: the characters a card's value has (a figure too long for it is
        shortened — ``2.36B`` — rather than wrapped onto its label)."""
        n = snap.routing_decisions
        rooms = self._rooms(room)
        cards = {
            "local": _card(
                fit_count(snap.total_tokens_local, rooms["local"]),
                "local tok." if narrow else "local tokens",
                room=rooms["local"],
            ),
            "saved": _card(
                "~" + fit_count(snap.estimated_claude_tokens_saved, rooms["saved"] - 1),
                self._saved_label(snap, rng, narrow, rooms["saved"]),
                "bold green",
                rooms["saved"],
            ),
            "share": _card(
                f"{snap.local_share_pct:.0f}%",
                _share_label(snap.local_decisions, n, narrow, rooms["share"]),
                room=rooms["share"],
            ),
            "debt": _card(
                fit_count(snap.interim_claude_debt, rooms["debt"], grouped=False),
                "debt" if narrow else "Claude debt",
                "bold yellow" if snap.interim_claude_debt else "bold",
                rooms["debt"],
            ),
            "evals": self._evals(snap.evaluations or {}, narrow, rooms["evals"]),
            "skipped": _card(
                fit_count(snap.skipped_lines, rooms["skipped"], grouped=False),
                "corrupt" if narrow else "corrupt lines",
                "bold red" if snap.skipped_lines else "bold",
                rooms["skipped"],
            ),
        }
        for cid, text in cards.items():
            self.query_one(f"#sv-{cid}", Static).update(text)

    def _rooms(self, room: int) -> dict[str, int]:
        """Each card's content width once laid out (1fr each: they may differ by one),
        ``room`` before."""
        out = {}
        for cid in CARDS:
            width = self.query_one(f"#sv-{cid}", Static).content_size.width
            out[cid] = width if width > 0 else room
        return out

    @staticmethod
    def _saved_label(snap: Any, rng: Any, narrow: bool, room: int = 16) -> str:
        """``saved (1.27B–2.69B)``: the saving's range when it is one and the card has room
        for it, shortened to ``saved 1.3B–2.7B`` before it is left out."""
        if (
            not narrow
            and rng
            and rng.get("saved") == snap.estimated_claude_tokens_saved
            and rng["saved_range"][0] < rng["saved_range"][1]
        ):
            lo, hi = rng["saved_range"]
            # an estimate's range: three digits say it (30k–50k, 1.3B–2.7B)
            for digits, form in ((4, "saved ({}–{})"), (4, "saved {}–{}"), (3, "saved {}–{}")):
                label = form.format(fit_count(lo, digits), fit_count(hi, digits))
                if len(label) <= room:
                    return label
        return "saved" if narrow else "Claude saved"

    @staticmethod
    def _evals(ev: dict, narrow: bool, room: int = 16) -> Text:
        counts = (ev.get("good", 0), ev.get("acceptable", 0), ev.get("poor", 0))
        sep = " / "
        if len(sep.join(map(str, counts))) > room:
            sep = "/"
        parts = fit_counts(counts, room, sep).split(sep)
        figure = Text()
        for i, (part, style) in enumerate(
            zip(parts, ("bold green", "bold yellow", "bold red"), strict=False)
        ):
            if i:
                figure.append(sep)
            figure.append(part, style=style)
        return _card(figure, "g/a/p" if narrow else "good/acc/poor", room=room)


def _task_type_cells(item: tuple[str, dict]) -> tuple:
    name, row = item
    return (
        Text(name),
        Text(str(row.get("phase") or "—").title(), style="dim" if not row.get("phase") else ""),
        _cell(row["decisions"], _WIDTH["dec"], grouped=False),
        _cell(row["local_decisions"], _WIDTH["local"], grouped=False),
        _cell(row["total_tokens_local"], _WIDTH["tokens"]),
        _cell(row["estimated_claude_tokens_saved"], _WIDTH["saved~"], "green"),
        _debt_cell(row["interim_claude"]),
        _gap(row.get("evaluations") or {}),
        Text(f"{row.get('token_ratio', 0):g}", justify="right", style="dim"),
    )


def _ensemble_cells(item: tuple[str, dict]) -> tuple:
    name, row = item
    promo = row.get("promotion") or {}
    ready = promo.get("global_ready")
    return (
        Text(name),
        Text(str(row.get("phase") or "").title()),
        _cell(row["local_decisions"], _ENS_WIDTH["runs"], grouped=False),
        _cell(row["total_tokens_local"], _ENS_WIDTH["tokens"]),
        _cell(row["estimated_claude_tokens_saved"], _ENS_WIDTH["saved~"], "green"),
        _gap(row.get("evaluations") or {}),
        Text(
            "ready: " + promo.get("level", "") if ready else promo.get("next", ""),
            style="green" if ready else "dim",
        ),
    )


def _day_cells(item: tuple[str, dict]) -> tuple:
    name, row = item
    return (
        Text(name),
        _cell(row["decisions"], _WIDTH["dec"], grouped=False),
        _cell(row["local_decisions"], _WIDTH["local"], grouped=False),
        _cell(row["total_tokens_local"], _WIDTH["tokens"]),
        _cell(row["claude_tokens"], _WIDTH["Claude"]),
        _cell(row["estimated_claude_tokens_saved"], _WIDTH["saved~"], "green"),
        _debt_cell(row["interim_claude"]),
    )


# The tables keep what they show: after a few new lines only the rows whose figures changed
# are drawn again (a long history has hundreds of days).
def fill_task_types(table: DataTable, snap: Any) -> None:
    show_rows(table, [(name, (name, row)) for name, row in snap.by_task_type.items()], _task_type_cells)


def fill_ensembles(table: DataTable, snap: Any) -> None:
    show_rows(table, [(name, (name, row)) for name, row in snap.by_ensemble.items()], _ensemble_cells)


def fill_days(table: DataTable, snap: Any) -> None:
    show_rows(table, [(name, (name, row)) for name, row in snap.by_day.items()], _day_cells)


def day_chart(snap: Any) -> Text:
    """Local tokens for the last 12 days, as columns."""
    days = list(snap.by_day.items())[-12:]
    if not days:
        return Text("No routing decisions yet.", style="dim")
    values = [row["total_tokens_local"] for _, row in days]
    labels = [d[-2:] for d, _ in days]
    body = columns(values, labels, height=2, col_width=4, style="green")
    body.append(f"   max {fit_count(max(values), 7)} / day", style="dim")
    return body


class WrapupPanel(Static):
    """The session wrap-up: the latest workflow's, else one for every logged decision."""

    def show(self, wrap: Any, snap: Any, ratio_label: str) -> None:
        if wrap is not None:
            self.border_title = "Session wrap-up — latest workflow"
            self.update(workflow_text(wrap, snap))
        elif snap.routing_decisions:
            self.border_title = "Wrap-up — all logged decisions"
            self.update(wrapup_text(snap, ratio_label))
        else:
            self.update(
                Text(
                    "No routing decisions in this project yet: the dashboard fills in as the conductor logs them.",
                    style="dim",
                )
            )
