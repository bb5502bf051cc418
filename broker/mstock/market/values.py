"""Tolerant number coercion for broker payloads (spec 1.5: numbers arrive as JSON numbers,
strings, ``null`` or Python-repr artefacts such as ``"None"``).

Everything returned is a plain Python ``float``/``int`` (never numpy, never NaN), because
OpenAlgo serialises these values straight to JSON (contract 9.2).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any


def as_float(value: Any, default: float = 0.0) -> float:
    """``value`` as a finite float, or ``default`` when it is missing or unreadable."""
    if value is None or isinstance(value, bool):
        return default
    try:
        number = float(str(value).replace(",", "").strip()) if isinstance(value, str) else float(value)
    except (TypeError, ValueError):
        return default
    return number if math.isfinite(number) else default


def as_int(value: Any, default: int = 0) -> int:
    """``value`` as an int (``"12.0"`` -> 12), or ``default`` when missing or unreadable."""
    number = as_float(value, float("nan"))
    return int(number) if math.isfinite(number) else default


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
