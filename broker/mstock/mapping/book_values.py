"""Reading mStock book fields: numbers as strings, nulls, repr artefacts, odd timestamps.

Spec 1.5: the order book and positions send every number as a string, holdings and the
trade book send JSON numbers, and the SDK mocks show ``"None"``. Timestamps come as
``2024-Nov-06 12:42:18`` (order book, sometimes with stray blanks ``10: 20: 34``),
``10-06-2025 13:08:42`` (trade book), ``23-01-2025 03:14:25 PM`` (order details) or
``07-Nov-2024`` (positions). Everything returned is a plain ``int``/``float``/``str``.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from ..clock import IST
from ..transport.error_codes import readable_reason

_MISSING = (None, "", "None", "none", "null", "NULL", "NA", "N/A")
_BLANK_AFTER_COLON = re.compile(r":\s+")
_EXCH_REASON = re.compile(r"^EXCH\s*:\s*(\d+)\s*:\s*(.*)$", re.IGNORECASE | re.DOTALL)

# Output format for every timestamp: one the PnL tracker parses (contract 5.2).
TIMESTAMP_FORMAT = "%d-%b-%Y %H:%M:%S"
_INPUT_FORMATS = (
    "%Y-%b-%d %H:%M:%S",
    "%d-%m-%Y %H:%M:%S",
    "%d-%m-%Y %I:%M:%S %p",
    "%d-%b-%Y %H:%M:%S",
    "%Y-%m-%d %H:%M:%S",
    "%Y-%m-%dT%H:%M:%S",
)


def text(value: Any) -> str:
    """A field as stripped text; missing values (``None``, ``"None"``...) become ``""``."""
    if value in _MISSING:
        return ""
    return str(value).strip()


def as_float(value: Any, default: float = 0.0) -> float:
    """A field as a finite float, or ``default`` when missing or unreadable."""
    kind = type(value)
    # JSON numbers first: a multi-quote converts thousands of them.
    if kind is float:
        return value if math.isfinite(value) else default
    if kind is int:
        return float(value)
    if isinstance(value, bool) or value in _MISSING:
        return default
    try:
        number = float(str(value).replace(",", "").strip()) if isinstance(value, str) else float(value)
    except (TypeError, ValueError):
        return default
    return number if math.isfinite(number) else default


def as_int(value: Any, default: int = 0) -> int:
    """A quantity field as an int (``"900"``, ``900.0`` -> 900)."""
    if type(value) is int:
        return value
    number = as_float(value, math.nan)
    return int(number) if math.isfinite(number) else default


def lower_keys(row: Mapping[str, Any]) -> dict[str, Any]:
    """The row with lower-case keys: the trade book is UPPER CASE (spec 4.10), the rest lower."""
    return {str(k).lower(): v for k, v in row.items()}


def _parsed(raw: str) -> datetime | None:
    for fmt in _INPUT_FORMATS:
        try:
            return datetime.strptime(raw, fmt)
        except ValueError:
            continue
    return None


def timestamp(value: Any) -> str:
    """A book timestamp as ``DD-Mon-YYYY HH:MM:SS``; unreadable text passes through cleaned."""
    raw = _BLANK_AFTER_COLON.sub(":", text(value))
    if not raw:
        return ""
    moment = _parsed(raw)
    return moment.strftime(TIMESTAMP_FORMAT) if moment is not None else raw


def book_time(value: Any) -> datetime | None:
    """A book timestamp as an aware IST ``datetime`` (mStock speaks IST), ``None`` if unreadable."""
    raw = _BLANK_AFTER_COLON.sub(":", text(value))
    moment = _parsed(raw) if raw else None
    return moment.replace(tzinfo=IST) if moment is not None else None


def rejection_reason(value: Any) -> str:
    """The ``text`` of a rejected order made readable (``EXCH:16284:...`` -> the message)."""
    raw = text(value)
    match = _EXCH_REASON.match(raw)
    if match:
        return f"{match.group(2).strip()} (exchange code {match.group(1)})"
    return readable_reason(raw)


def clean_order_id(value: Any) -> str:
    """An order id as mStock means it: ids can carry blanks (spec 4.4) or be numbers."""
    return text(value)


def first_present(row: Mapping[str, Any], *names: str) -> Any:
    """The first of ``names`` present in ``row`` with a non-empty value, else ``None``.

    The quote layouts of the different modes (and SDK generations) spell the same field
    differently (``volume`` / ``tradeVolume``, ``oi`` / ``opnInterest``).
    """
    for name in names:
        value = row.get(name)
        if value not in (None, "", "None", "null"):
            return value
    return None
