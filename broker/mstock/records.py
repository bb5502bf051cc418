"""The ``symtoken`` row shape shared by both hosts (contract 10.2)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from functools import lru_cache
from operator import attrgetter

# Column order of OpenAlgo's ``symtoken`` table (minus ``id`` and the crypto-only
# ``contract_value``); rows travel as tuples in this order for speed.
SYMTOKEN_COLUMNS: tuple[str, ...] = (
    "symbol",
    "brsymbol",
    "name",
    "exchange",
    "brexchange",
    "token",
    "expiry",
    "strike",
    "lotsize",
    "instrumenttype",
    "tick_size",
)


_MONTHS = {m: i for i, m in enumerate(("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"), 1)}
_EXPIRY = re.compile(r"^(\d{1,2})-([A-Za-z]{3})-(\d{2}|\d{4})$")


@lru_cache(maxsize=4096)
def expiry_date(text: str | None) -> date | None:
    """An expiry as OpenAlgo writes it (``DD-MMM-YY``, e.g. ``05-JAN-27``) as a date.

    Expiries must be compared as dates: as text ``05-JAN-27`` sorts before ``08-DEC-26``.
    Parsed by hand (``strptime``'s ``%b`` follows the locale). ``None`` when blank or unreadable.
    """
    match = _EXPIRY.match((text or "").strip())
    if not match:
        return None
    day, month, year = match.groups()
    number = _MONTHS.get(month.upper())
    if number is None:
        return None
    try:
        return date(int(year) + (2000 if len(year) == 2 else 0), number, int(day))
    except ValueError:
        return None


def expiry_order(text: str | None) -> date:
    """A sort key: no expiry first (cash instruments, indices), then the nearest expiry."""
    return expiry_date(text) or date.min


_symtoken_attributes = attrgetter(*SYMTOKEN_COLUMNS)


@dataclass(frozen=True, slots=True)
class SymbolRecord:
    """One instrument as OpenAlgo knows it, with the broker's identifiers beside it."""

    symbol: str
    brsymbol: str
    name: str
    exchange: str
    brexchange: str
    token: str
    expiry: str
    strike: float
    lotsize: int
    instrumenttype: str
    tick_size: float

    @classmethod
    def from_row(cls, row) -> "SymbolRecord":
        """Build from a tuple in :data:`SYMTOKEN_COLUMNS` order or any object with those attributes."""
        if isinstance(row, tuple):
            return cls(*row)
        try:
            values = _symtoken_attributes(row)  # one C call for OpenAlgo's SymbolData and SymToken rows
        except AttributeError:
            values = [getattr(row, col, None) for col in SYMTOKEN_COLUMNS]
        symbol, brsymbol, name, exchange, brexchange, token, expiry, strike, lotsize, itype, tick = values
        return cls(
            symbol or "",
            brsymbol or "",
            name or "",
            exchange or "",
            brexchange or "",
            "" if token is None else str(token),
            expiry or "",
            float(strike or 0.0),
            int(lotsize or 1),
            itype or "",
            float(tick or 0.0),
        )

    def as_tuple(self) -> tuple:
        return tuple(getattr(self, col) for col in SYMTOKEN_COLUMNS)

    def as_dict(self) -> dict:
        return {col: getattr(self, col) for col in SYMTOKEN_COLUMNS}
