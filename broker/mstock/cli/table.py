"""The CLI's one table renderer: fits the terminal, plain text or rich.

Tables fit the console's width (80 columns when the output is not a terminal): columns
marked with a ``priority`` are hidden, least important first, and a note under the table
names them (``--json`` always carries every field); if that is not enough, the widest text
column is shortened with an ellipsis. Numbers are right-aligned, floats get two decimals
and thousands separators.

With rich installed (``pip install 'mstock-openalgo[cli]'``) and a terminal, rich draws
the same columns; otherwise the plain renderer does, with no dependency. Colour (a status
in red or green, a P&L by its sign) only when the console allows it.
"""

from __future__ import annotations

import importlib.util
import textwrap
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TextIO

_MIN_TEXT_WIDTH = 6
_GAP = 2  # spaces between plain columns
_RICH_GAP = 3  # rich's padding and separator per column


@dataclass(frozen=True)
class Column:
    """One column: the row key it shows, its heading, and how it gives way when space is short."""

    key: str
    header: str | None = None
    priority: int = 0  # 0: always shown; larger numbers are hidden first on a narrow screen
    align: str | None = None  # "left" or "right"; default: right when every cell is a number
    style: Callable[[Any], str | None] | None = None  # value -> "red" / "green" / "yellow" / "dim"

    @property
    def title(self) -> str:
        return self.header if self.header is not None else self.key


def status_style(value: Any) -> str | None:
    """Order status colours: filled green, rejected red, working yellow, cancelled dim."""
    return {"complete": "green", "rejected": "red", "open": "yellow", "trigger pending": "yellow",
            "cancelled": "dim"}.get(str(value or "").lower())


def sign_style(value: Any) -> str | None:
    """Profit green, loss red."""
    try:
        number = float(str(value).replace(",", ""))
    except ValueError:
        return None
    return "green" if number > 0 else "red" if number < 0 else None


def cell_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:,.2f}"
    return str(value)


def _looks_numeric(text: str) -> bool:
    try:
        float(text.replace(",", ""))
        return True
    except ValueError:
        return not text


def _columns(rows: Sequence[Mapping[str, Any]], columns: Sequence[Any] | None) -> list[Column]:
    if columns is None:
        columns = list(rows[0].keys()) if rows else []
    return [c if isinstance(c, Column) else Column(str(c)) for c in columns]


@dataclass
class _Layout:
    columns: list[Column]
    cells: list[list[str]]
    widths: list[int]
    numeric: list[bool]
    hidden: list[Column]


def _layout(rows: Sequence[Mapping[str, Any]], columns: Sequence[Any] | None, width: int, gap: int) -> _Layout:
    cols = _columns(rows, columns)
    cells = [[cell_text(row.get(c.key)) for c in cols] for row in rows]
    widths = [max([len(c.title)] + [len(r[i]) for r in cells]) for i, c in enumerate(cols)]
    numeric = [
        (c.align == "right") if c.align else (bool(cells) and all(_looks_numeric(r[i]) for r in cells))
        for i, c in enumerate(cols)
    ]
    hidden: list[Column] = []

    def total() -> int:
        return sum(widths) + gap * (len(widths) - 1)

    # 1. Hide optional columns, least important (highest priority number, rightmost) first.
    while total() > width:
        optional = [(c.priority, i) for i, c in enumerate(cols) if c.priority > 0]
        if not optional:
            break
        _, index = max(optional)
        hidden.insert(0, cols.pop(index))
        for store in (widths, numeric):
            store.pop(index)
        for row in cells:
            row.pop(index)
    # 2. Shorten the widest text columns with an ellipsis.
    while total() > width:
        candidates = [i for i, c in enumerate(cols) if not numeric[i] and widths[i] > max(_MIN_TEXT_WIDTH, len(c.title))]
        if not candidates:
            break
        index = max(candidates, key=lambda i: widths[i])
        floor = max(_MIN_TEXT_WIDTH, len(cols[index].title))
        widths[index] = max(floor, widths[index] - (total() - width))
        for row in cells:
            if len(row[index]) > widths[index]:
                row[index] = row[index][: widths[index] - 1] + "…"
    return _Layout(cols, cells, widths, numeric, hidden)


JSON_HINT = "--json shows every field"


def _hidden_note(hidden: list[Column], width: int, hint: str | None = JSON_HINT) -> str:
    names = ", ".join(c.title for c in hidden)
    plural = "s" if len(hidden) > 1 else ""
    return f"({len(hidden)} more column{plural} at {width} characters wide: {names}{'; ' + hint if hint else ''})"


def format_table(
    rows: Iterable[Mapping[str, Any]],
    columns: Sequence[Any] | None = None,
    *,
    title: str | None = None,
    width: int | None = None,
    paint: Callable[[str, str | None], str] | None = None,
    hint: str | None = JSON_HINT,
) -> str:
    """The plain-text table: a title line, headings, a rule, the rows, a note on hidden columns."""
    rows = list(rows)
    layout = _layout(rows, columns, width if width is not None else 10_000, _GAP)
    paint = paint or (lambda text, style: text)

    def fmt(values: Sequence[str], styles: Sequence[str | None] | None = None) -> str:
        parts = []
        for i, value in enumerate(values):
            text = value.rjust(layout.widths[i]) if layout.numeric[i] else value.ljust(layout.widths[i])
            parts.append(paint(text, styles[i]) if styles else text)
        return (" " * _GAP).join(parts).rstrip()

    lines = [title] if title else []
    lines.append(fmt([c.title for c in layout.columns]))
    lines.append((" " * _GAP).join("-" * w for w in layout.widths))
    for row, values in zip(rows, layout.cells):
        styles = [c.style(row.get(c.key)) if c.style else None for c in layout.columns]
        lines.append(fmt(values, styles))
    if not layout.cells:
        lines.append("(none)")
    if layout.hidden:
        lines.extend(textwrap.wrap(_hidden_note(layout.hidden, width or 0, hint), width or 80))
    return "\n".join(lines)


def rich_available() -> bool:
    return importlib.util.find_spec("rich") is not None


def render_table(
    out: TextIO,
    rows: list[Mapping[str, Any]],
    columns: Sequence[Any] | None,
    *,
    title: str | None = None,
    width: int,
    terminal: bool,
    paint: Callable[[str, str | None], str],
    colour: bool,
) -> None:
    """Print a table to ``out``: rich on a terminal when installed, plain text otherwise."""
    if terminal and rows and rich_available():
        _render_rich(out, rows, columns, title, width=width, colour=colour)
        return
    out.write(format_table(rows, columns, title=title, width=width, paint=paint) + "\n")
    out.flush()


def _render_rich(out: TextIO, rows: list[Mapping[str, Any]], columns: Sequence[Any] | None, title: str | None,
                 *, width: int, colour: bool) -> None:
    from rich import box
    from rich.console import Console as RichConsole
    from rich.table import Table
    from rich.text import Text

    layout = _layout(rows, columns, width, _RICH_GAP)
    table = Table(box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False, title=title, title_justify="left",
                  title_style="bold", header_style="bold")
    for column, numeric in zip(layout.columns, layout.numeric):
        table.add_column(column.title, justify="right" if numeric else "left", overflow="ellipsis", no_wrap=True)
    for row in rows:
        table.add_row(*[
            Text(cell_text(row.get(c.key)), style=(c.style(row.get(c.key)) or "") if c.style else "")
            for c in layout.columns
        ])
    rich = RichConsole(file=out, width=width, no_color=not colour, highlight=False, force_terminal=True)
    rich.print(table)
    if layout.hidden:
        rich.print(Text(_hidden_note(layout.hidden, width), style="dim"))
