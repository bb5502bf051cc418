"""Tolerant number coercion for broker payloads (spec 1.5: numbers arrive as JSON numbers,
strings, ``null`` or Python-repr artefacts such as ``"None"``).

Everything returned is a plain Python ``float``/``int`` (never numpy, never NaN), because
OpenAlgo serialises these values straight to JSON (contract 9.2).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..mapping.book_values import as_float, as_int

__all__ = ["as_float", "as_int", "first_present"]


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
