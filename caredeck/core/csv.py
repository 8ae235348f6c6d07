"""CSV exports that a spreadsheet opens safely.

Report cells often hold text people typed (titles, names, summaries). A spreadsheet runs
a cell starting with = + - @ (or a tab / carriage return) as a formula, so such text gets
a leading apostrophe and shows as text. Numbers stay numbers, instants are UTC ISO 8601,
booleans read yes / no.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections.abc import Iterable
from typing import Any

from django.http import HttpResponse

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def csv_cell(value: Any) -> Any:
    """One cell: never a formula."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int | float):
        return value
    if isinstance(value, dt.datetime):
        return value.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    text = str(value)
    return "'" + text if text.startswith(FORMULA_STARTS) else text


def csv_text(header: list[str], rows: Iterable[Iterable[Any]]) -> str:
    """A header line and the rows, each cell through csv_cell."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(header)
    for row in rows:
        writer.writerow([csv_cell(v) for v in row])
    return out.getvalue()


def csv_response(text: str, filename: str) -> HttpResponse:
    """The export as a download named `filename`."""
    response = HttpResponse(text, content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response
