"""Counts that fit their cell: a table column is a fixed number of cells wide, and a number
cut to that width reads as another number ("218,130" for 218,130,456). Here a count that
does not fit is shown shorter but true: without separators, then with a unit (``218.1M``,
``2.36B``), as precise as the width allows; only what cannot be said in the width at all
ends with an ellipsis.
"""

from __future__ import annotations

from collections.abc import Iterable

_UNITS = ((10**12, "T"), (10**9, "B"), (10**6, "M"), (10**3, "k"))


def fit_count(n: int | float, width: int, *, grouped: bool = True) -> str:
    """``n`` in at most ``width`` characters when it can be: ``1,234,567`` (``grouped``),
    ``12345`` (five digits at most), ``1.23M``, ``1.2M``, ``1M``; the shortest form (which
    may be wider) otherwise."""
    n = int(n)
    full = f"{n:,}"
    if grouped and len(full) <= width:
        return full
    plain = str(n)
    if len(plain) <= min(width, 5 + (n < 0)):  # longer runs of digits are hard to read
        return plain
    shortest = plain
    for div, unit in reversed(_UNITS):  # the smallest unit that says it in three digits
        value = n / div
        for decimals in (2, 1, 0):
            digits = f"{value:.{decimals}f}"
            if abs(float(digits)) >= 1000 and div != _UNITS[0][0]:
                break  # rounds to 1000: the next unit
            if decimals and digits.endswith("0"):
                continue  # "1.20M": say "1.2M"
            text = digits + unit
            shortest = text
            if len(text) <= width:
                return text
        else:
            return shortest
    return shortest


def fit_counts(values: Iterable[int | float], width: int, sep: str = "/") -> str:
    """Several counts joined by ``sep`` (``good/acceptable/poor``) in ``width`` characters:
    whole, then each count shorter (``13.9k``, ``14k``), then cut with an ellipsis."""
    counts = [int(v) for v in values]
    text = sep.join(str(v) for v in counts)
    for each in (4, 3):
        if len(text) <= width:
            return text
        text = sep.join(fit_count(v, each, grouped=False) for v in counts)
    return text if len(text) <= width else text[: max(0, width - 1)] + "…"
