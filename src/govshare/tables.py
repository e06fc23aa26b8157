"""Downloadable tables (reports, logs) as CSV or xlsx bytes. No Django here.

CSV is UTF-8 with a BOM so Excel on a Chinese Windows desktop opens it without garbling. In xlsx,
integers are numbers and everything else is written as text — never a formula or a link, since the
cells hold what providers loaded or callers sent.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence


def csv_bytes(columns: Sequence[str], rows: Iterable[Sequence]) -> bytes:
    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow(columns)
    w.writerows(rows)
    return ("\ufeff" + buf.getvalue()).encode("utf-8")


def xlsx_bytes(
    sheet: str, columns: Sequence[str], rows: Iterable[Sequence], widths: Sequence[tuple[int, int, int]]
) -> bytes:
    """`widths`: (first column, last column, width) for each run of columns."""
    import xlsxwriter

    buf = io.BytesIO()
    wb = xlsxwriter.Workbook(buf, {"in_memory": True, "strings_to_numbers": False})
    ws = wb.add_worksheet(sheet)
    bold = wb.add_format({"bold": True, "bg_color": "#F2F2F2"})
    text = wb.add_format({"num_format": "@"})
    ws.write_row(0, 0, columns, bold)
    for r, values in enumerate(rows, start=1):
        for c, v in enumerate(values):
            if isinstance(v, int) and not isinstance(v, bool):
                ws.write_number(r, c, v)
            else:
                ws.write_string(r, c, str(v), text)
    for first, last, width in widths:
        ws.set_column(first, last, width)
    ws.freeze_panes(1, 0)
    wb.close()
    return buf.getvalue()
