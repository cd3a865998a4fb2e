"""CSV / TSV tables: one header line, then one row per item (the csv module does the quoting)."""

from __future__ import annotations

import csv
from typing import Any, Iterable, Mapping, Sequence, TextIO

__all__ = ["write_table", "FORMATS"]

FORMATS = {"csv": ",", "tsv": "\t"}


def _cell(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return f"{value:.6g}"
    return value


def write_table(
    handle: TextIO,
    rows: Iterable[Mapping[str, Any] | Sequence[Any]],
    columns: Sequence[str],
    delimiter: str = ",",
) -> int:
    """Write `columns` as the header, then every row; return the number of rows.

    A row is a mapping (missing keys are empty cells, unknown keys raise ValueError) or a
    sequence in column order. None -> empty cell, bools -> true/false, floats to 6 significant
    digits. `delimiter` is ',' or '\\t' (or a format name from FORMATS: 'csv', 'tsv').
    """
    delimiter = FORMATS.get(delimiter, delimiter)
    if delimiter not in (",", "\t"):
        raise ValueError(f"delimiter must be ',' or a tab, not {delimiter!r}")
    writer = csv.writer(handle, delimiter=delimiter, lineterminator="\n", quoting=csv.QUOTE_MINIMAL)
    writer.writerow(columns)
    ncol = len(columns)
    index = {c: i for i, c in enumerate(columns)}
    n = 0
    for row in rows:
        if isinstance(row, Mapping):
            unknown = set(row) - set(index)
            if unknown:
                raise ValueError(f"row has keys not among the columns: {sorted(unknown)}")
            cells = [_cell(row.get(c)) for c in columns]
        else:
            if len(row) != ncol:
                raise ValueError(f"row has {len(row)} values for {ncol} columns")
            cells = [_cell(v) for v in row]
        writer.writerow(cells)
        n += 1
    return n
