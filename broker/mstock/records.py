"""The ``symtoken`` row shape shared by both hosts (contract 10.2)."""

from __future__ import annotations

from dataclasses import dataclass

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
