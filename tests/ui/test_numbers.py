"""Counts shortened to fit a cell stay true: never cut into another number."""

from __future__ import annotations

import re

import pytest

from conductor_tui.ui.widgets.numbers import fit_count, fit_counts

_UNIT = {"": 1, "k": 10**3, "M": 10**6, "B": 10**9, "T": 10**12}


def _value(text: str) -> float:
    m = re.fullmatch(r"(-?[\d,]+(?:\.\d+)?)([kMBT]?)", text)
    assert m, text
    return float(m.group(1).replace(",", "")) * _UNIT[m.group(2)]


@pytest.mark.parametrize(
    ("n", "width", "expected"),
    [
        (218_130_456, 7, "218.13M"),
        (218_130_456, 6, "218.1M"),
        (218_130_456, 5, "218M"),
        (2_361_410_182, 7, "2.36B"),
        (999_999, 7, "999,999"),
        (999_999, 5, "1M"),  # not "1000k"
        (999_500_000, 6, "999.5M"),
        (1_200_000, 5, "1.2M"),  # not "1.20M"
        (-1_234_567, 7, "-1.23M"),
        (39_719, 5, "39719"),
        (103_624, 5, "104k"),
        (0, 3, "0"),
    ],
)
def test_a_count_fits_its_width(n: int, width: int, expected: str) -> None:
    assert fit_count(n, width) == expected


@pytest.mark.parametrize("width", [4, 5, 6, 7, 9, 13])
@pytest.mark.parametrize(
    "n", [0, 7, 999, 1_000, 12_345, 99_999, 100_000, 103_624, 999_999, 1_000_001, 218_130_456, 2_361_410_182]
)
def test_what_is_shown_is_the_count_rounded_never_cut(n: int, width: int) -> None:
    text = fit_count(n, width)
    assert len(text) <= width
    shown = _value(text)
    assert abs(shown - n) <= 0.5 * 10 ** max(0, len(str(n)) - 2)  # two significant digits at least


def test_counts_together_shorten_each_before_an_ellipsis() -> None:
    assert fit_counts((13894, 3949, 1948), 16) == "13894/3949/1948"
    assert fit_counts((13894, 3949, 1948), 11) == "14k/4k/2k"
    assert fit_counts((1085, 327, 40), 11) == "1085/327/40"
    assert fit_counts((3, 2, 1), 5) == "3/2/1"
    assert fit_counts((108_600, 31_200, 4_000), 7) == "109k/3…"
    assert fit_counts((739_666, 999_002), 11) == "740k/999k"


def _row(good: int, acceptable: int, poor: int, uses: int, debt: int):
    from types import SimpleNamespace

    from conductor_tui.core.records import Phase

    counts = SimpleNamespace(good=good, acceptable=acceptable, poor=poor)
    status = SimpleNamespace(
        counts=counts,
        phase=Phase.PROMOTE,
        invocations=uses,
        next_step="generality assessment",
        promotion=SimpleNamespace(global_ready=False),
    )
    return SimpleNamespace(
        status=status,
        task_type="classification",
        ensemble="classify-issues",
        authorized=False,
        design_rejected=False,
        last_used=None,
        debt=debt,
    )


def test_lifecycle_cells_fit_their_columns_on_a_big_history() -> None:
    """103,242 uses in a column four cells wide read as 103k, not 1032; the g/a/p column
    widens for counts in the thousands, its room taken from the ensemble below 100 columns."""
    from conductor_tui.ui.widgets.lifecycle_panels import GAP_WIDTH, gap_width, row_cells, table_layout

    small, big = _row(5, 2, 0, 12, 0), _row(1085, 325, 153, 103_242, 30_140)
    assert gap_width([small]) == GAP_WIDTH
    gap = gap_width([small, big])
    assert gap == len("1085/325/153")
    cells = {label: str(cell) for label, cell in zip(("task type", "ensemble", "ladder", "uses", "g/a/p", "last used", "next", "debt"), row_cells(big, gap), strict=True)}  # fmt: skip
    assert (cells["uses"], cells["g/a/p"], cells["debt"]) == ("103k", "1085/325/153", "30k")
    for width in (80, 120, 160):
        widths, fill = table_layout(width, gap)
        assert widths["g/a/p"] == gap
        for label in ("uses", "g/a/p", "debt"):
            assert widths[label] == 0 or len(cells[label]) <= widths[label]
    assert table_layout(80, gap)[0]["ensemble"] < table_layout(80, GAP_WIDTH)[0]["ensemble"]
    assert table_layout(120, GAP_WIDTH) == table_layout(120)  # small counts: the layout as it was
