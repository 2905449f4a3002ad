"""Screen and print layout of produced worksheets: column widths from content, row heights
for wrapped text, and page setup (landscape A4, one page wide, repeated header rows, a footer
with the tab name, page number and 统计时间).

Widths are in Excel character units; a CJK (wide or full-width) character counts as two, so
a column sized here never cuts an ID or a Chinese label. The page geometry constants are the
ones set by :func:`page_setup`, so :func:`print_scale` can compute a scale that puts the
print area one page wide while manual page breaks still apply (Excel ignores manual breaks
under "fit to N pages").
"""

from __future__ import annotations

import math
import unicodedata
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from ..messages import localise

#: Excel's default row height (Calibri 11), in points
ROW_POINTS = 15.0
#: A4 landscape, in points
PAGE_WIDTH, PAGE_HEIGHT = 842.0, 595.0
#: margins set by :func:`page_setup`, in inches: left/right, top, bottom, header, footer
MARGINS = (0.4, 0.5, 0.6, 0.2, 0.25)
#: what the page can hold inside the margins, in points (a little kept spare for rounding)
PRINT_WIDTH = PAGE_WIDTH - 2 * MARGINS[0] * 72 - 12
PRINT_HEIGHT = PAGE_HEIGHT - (MARGINS[1] + MARGINS[2]) * 72 - 12


def text_width(text: Any) -> int:
    """Display width of ``text`` in character cells: East Asian wide and full-width characters
    count 2, others 1; for multi-line text the longest line."""
    if text is None:
        return 0
    return max(
        (sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in line))
        for line in str(text).split("\n")
    )


def column_width(
    texts: Iterable[Any], *, minimum: float = 6, maximum: float | None = None, pad: float = 2
) -> float:
    """The width that shows the widest of ``texts`` in full (plus ``pad``), at least
    ``minimum``; ``maximum`` caps wrapped text columns (None: never cut, e.g. IDs)."""
    widest = max((text_width(t) for t in texts), default=0) + pad
    width = max(float(minimum), float(widest))
    return width if maximum is None else min(width, float(maximum))


def wrapped_lines(text: Any, width: float) -> int:
    """How many lines ``text`` takes in a wrapping cell ``width`` characters wide."""
    if text is None or text == "":
        return 1
    usable = max(1.0, width - 1)
    return sum(max(1, math.ceil(text_width(line) / usable)) for line in str(text).split("\n"))


def column_points(width: float) -> float:
    """The printed width of a column ``width`` characters wide, in points (Excel's pixel
    rule for Calibri 11: 7 px per character plus 5 px padding; 0.75 pt per px)."""
    return (int(width * 7 + 0.5) + 5) * 0.75


def print_scale(widths: Iterable[float], extra_points: float = 0) -> int:
    """The print scale (10–100 %) that puts columns of ``widths`` (plus ``extra_points``, e.g.
    a chart wider than the columns) one page wide on the page :func:`page_setup` sets."""
    total = sum(column_points(w) for w in widths) + extra_points
    if total <= 0:
        return 100
    return max(10, min(100, int(PRINT_WIDTH / total * 100)))


def footer_text(now: datetime, lang: str = "zh") -> str:
    """The footer of every printed page: tab name (left), page x of y (centre), 统计时间."""
    return localise(_TEXT, "footer", lang, stamp=f"{now:%Y-%m-%d %H:%M}")


def page_setup(
    ws: Any,
    now: datetime,
    lang: str = "zh",
    *,
    header_rows: tuple[int, int] | None = None,
    header_columns: tuple[int, int] | None = None,
    print_area: tuple[int, int, int, int] | None = None,
    fit_width: bool = True,
    scale: int | None = None,
) -> None:
    """Landscape A4, the footer of :func:`footer_text`, ``header_rows`` (first, last; 0-based)
    repeated on every page, ``print_area`` (first row, first col, last row, last col) and
    either fit to one page wide (any number tall) or, with ``scale``, that print scale (so
    manual page breaks are kept)."""
    ws.set_landscape()
    ws.set_paper(9)  # A4
    left, top, bottom, head, foot = MARGINS
    ws.set_margins(left=left, right=left, top=top, bottom=bottom)
    ws.set_header("", {"margin": head})
    ws.set_footer(footer_text(now, lang), {"margin": foot})
    if header_rows is not None:
        ws.repeat_rows(*header_rows)
    if header_columns is not None:
        ws.repeat_columns(*header_columns)
    if print_area is not None:
        ws.print_area(*print_area)
    if scale is not None:
        ws.set_print_scale(scale)
    elif fit_width:
        ws.fit_to_pages(1, 0)


_TEXT: dict[str, dict[str, str]] = {
    # Excel header/footer codes: &L &C &R left/centre/right, &A tab name, &P page, &N pages
    "footer": {
        "zh": "&L&A&C第 &P 页，共 &N 页&R统计时间 {stamp}",
        "en": "&L&A&CPage &P of &N&RAs of {stamp}",
    },
}
