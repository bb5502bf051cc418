"""From a broker row to the OpenAlgo instrument, and from an OpenAlgo symbol to its row.

mStock books name instruments in yet another way than the master (spec 4.7, 5.1):
back-office names such as ``ACC-28Nov2024-2400-CE``, plain ``ACC`` for equity, derivatives
reported under ``NSE``/``BSE``, positions with an empty ``tradingsymbol``. The only stable
identity in a book row is its token plus the segment implied by the instrument type, so
this module maps exactly that and never parses names. Every order, position, trade and
holding conversion goes through :func:`resolve_book_instrument`; every outgoing request
through :func:`require_instrument`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..errors import UnknownSymbol, ValidationError
from ..records import SymbolRecord
from .exchanges import OA_EXCHANGES_SUPPORTED, openalgo_exchange_for_book

if TYPE_CHECKING:
    from ..host import SymbolLookup

# Holdings carry no exchange (null, spec 5.3): a cash token is tried on these, in order.
_CASH_FALLBACK_EXCHANGES: tuple[str, ...] = ("NSE", "BSE")


def resolve_book_instrument(
    token: str, exchange: str, instrumenttype: str | None, lookup: "SymbolLookup"
) -> SymbolRecord | None:
    """The OpenAlgo instrument of a book row, or ``None`` if the symbol table has no match.

    Raises ``ValueError`` for an instrument type or exchange no table knows (the caller
    decides whether to skip the row or fail); never guesses a segment.
    """
    token_text = "" if token is None else str(token).strip()
    if not token_text:
        return None
    if not (exchange or "").strip():
        if (instrumenttype or "").strip().upper() not in ("", "EQ", "EQUITY"):
            # A derivative without an exchange cannot be placed: NFO and BFO tokens overlap.
            raise ValueError(f"book row for token {token_text} has no exchange and type {instrumenttype!r}")
        for candidate in _CASH_FALLBACK_EXCHANGES:
            record = lookup.get_record_by_token(token_text, candidate)
            if record is not None:
                return record
        return None
    oa_exchange = openalgo_exchange_for_book(exchange, instrumenttype)
    return lookup.get_record_by_token(token_text, oa_exchange)


def require_instrument(symbol: str, exchange: str, lookup: "SymbolLookup") -> SymbolRecord:
    """The symbol row of an OpenAlgo (symbol, exchange); raises instead of guessing.

    ``UnknownSymbol`` when the table has no such row, ``ValidationError`` when the exchange
    is not one this plugin supports.
    """
    oa_exchange = (exchange or "").strip().upper()
    if oa_exchange not in OA_EXCHANGES_SUPPORTED:
        supported = ", ".join(sorted(OA_EXCHANGES_SUPPORTED))
        raise ValidationError(f"exchange {exchange!r} is not supported by mStock (supported: {supported})")
    name = (symbol or "").strip()
    record = lookup.get_symbol_info(name, oa_exchange) if name else None
    if record is None:
        raise UnknownSymbol(f"unknown symbol {name or '<empty>'} on {oa_exchange}")
    return record
