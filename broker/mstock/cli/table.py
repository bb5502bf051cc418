"""Plain-text tables for the CLI (no dependency, stable column order)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:,.2f}"
    return str(value)


def format_table(rows: Iterable[Mapping[str, Any]], columns: Sequence[str] | None = None, *, title: str | None = None) -> str:
    rows = list(rows)
    if columns is None:
        columns = list(rows[0].keys()) if rows else []
    cells = [[_cell(row.get(col)) for col in columns] for row in rows]
    widths = [max([len(col)] + [len(r[i]) for r in cells]) for i, col in enumerate(columns)]
    numeric = [all(_looks_numeric(r[i]) for r in cells) and bool(cells) for i in range(len(columns))]

    def fmt(values: Sequence[str]) -> str:
        return "  ".join(v.rjust(w) if num else v.ljust(w) for v, w, num in zip(values, widths, numeric)).rstrip()

    lines = []
    if title:
        lines.append(title)
    lines.append(fmt(list(columns)))
    lines.append("  ".join("-" * w for w in widths))
    lines.extend(fmt(r) for r in cells)
    if not cells:
        lines.append("(none)")
    return "\n".join(lines)


def _looks_numeric(text: str) -> bool:
    try:
        float(text.replace(",", ""))
        return True
    except ValueError:
        return not text


def print_table(rows: Iterable[Mapping[str, Any]], columns: Sequence[str] | None = None, *, title: str | None = None) -> None:
    print(format_table(rows, columns, title=title))


def print_kv(pairs: Mapping[str, Any], *, title: str | None = None) -> None:
    print_table([{"field": k, "value": v} for k, v in pairs.items()], ["field", "value"], title=title)
