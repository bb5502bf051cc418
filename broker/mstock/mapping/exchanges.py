"""Exchange vocabularies: OpenAlgo exchange codes and the codes mStock uses for them.

mStock names an instrument's exchange differently depending on where it appears:

* the instrument master (spec 8.4) tags equity ``NSE``/``BSE``, index and stock
  derivatives ``NFO``/``BFO``, and **currency derivatives ``NSE``/``BSE``** too;
* order, trade and position books (spec 4.7, 5.1) report **every** derivative under
  ``NSE``/``BSE`` and tell them apart only by ``instrumenttype``;
* ``instruments/intraday`` wants a numeric string (spec 8.3) and the feed an integer
  ``exchangeType`` (spec 11.2).

OpenAlgo (contract 14.1) keys everything by its own codes (NFO/BFO/CDS/BCD for
derivatives). The REST exchange of an instrument is always the ``brexchange`` column of its
symbol row, never derived from these tables.
"""

from __future__ import annotations

from types import MappingProxyType
from typing import Final

OA_EXCHANGES_SUPPORTED: Final[frozenset[str]] = frozenset(
    {"NSE", "BSE", "NFO", "BFO", "CDS", "BCD", "MCX", "NSE_INDEX", "BSE_INDEX"}
)

# instruments/intraday "exchange" (spec 8.3). MCX "6" is what upstream sends, unverified.
INTRADAY_EXCHANGE_CODE: Final = MappingProxyType(
    {
        "NSE": "1",
        "NSE_INDEX": "1",
        "NFO": "2",
        "CDS": "3",
        "BSE": "4",
        "BSE_INDEX": "4",
        "BFO": "5",
        "MCX": "6",
    }
)

# WebSocket exchangeType (spec 11.2). BCD and MCX are deliberately absent: mStock documents
# no feed segment for them, and guessing one would stream the wrong instrument (D11).
FEED_EXCHANGE_TYPE: Final = MappingProxyType(
    {
        "NSE": 1,
        "NSE_INDEX": 1,
        "NFO": 2,
        "BSE": 3,
        "BSE_INDEX": 3,
        "BFO": 4,
        "CDS": 13,
    }
)

FEED_EXCHANGE_NAMES: Final = MappingProxyType({1: "NSECM", 2: "NSEFO", 3: "BSECM", 4: "BSEFO", 13: "NSECD"})

# Feed segments of derivatives: their instruments have open interest, which only the Snap
# Quote packet carries (spec 11.3), so a QUOTE subscription there is fed in snap mode.
FEED_OI_EXCHANGE_TYPES: Final[frozenset[int]] = frozenset({2, 4, 13})

# --- instrument types --------------------------------------------------------------------

# Segment of each mStock instrument type (master ``instrumenttype`` and book
# ``instrumenttype``; spec 4.7, 8.4). "cash" keeps NSE/BSE; "index" is a spot index.
CASH, INDEX, EQUITY_DERIVATIVE, CURRENCY, COMMODITY = "cash", "index", "fno", "currency", "commodity"

INSTRUMENT_SEGMENT: Final = MappingProxyType(
    {
        "": CASH,
        "EQ": CASH,
        "EQUITY": CASH,
        "INDEX": INDEX,
        "AMXIDX": INDEX,  # Angel's spelling for index rows in the same-schema master
        "OPTIDX": EQUITY_DERIVATIVE,
        "OPTSTK": EQUITY_DERIVATIVE,
        "FUTIDX": EQUITY_DERIVATIVE,
        "FUTSTK": EQUITY_DERIVATIVE,
        "FUTCUR": CURRENCY,
        "OPTCUR": CURRENCY,
        "FUTIRC": CURRENCY,
        "OPTIRC": CURRENCY,
        "FUTIRT": CURRENCY,
        "FUTCOM": COMMODITY,
        "OPTFUT": COMMODITY,
        "OPTCOM": COMMODITY,
    }
)

# Derivative kind of each instrument type: "FUT" or "OPT" (the option side comes from
# the contract name); absent for cash and index rows.
DERIVATIVE_KIND: Final = MappingProxyType(
    {
        "OPTIDX": "OPT",
        "OPTSTK": "OPT",
        "FUTIDX": "FUT",
        "FUTSTK": "FUT",
        "FUTCUR": "FUT",
        "OPTCUR": "OPT",
        "FUTIRC": "FUT",
        "OPTIRC": "OPT",
        "FUTIRT": "FUT",
        "FUTCOM": "FUT",
        "OPTFUT": "OPT",
        "OPTCOM": "OPT",
    }
)

# (mStock exchange, segment) -> OpenAlgo exchange.
_OA_EXCHANGE_BY_SEGMENT: Final = MappingProxyType(
    {
        ("NSE", CASH): "NSE",
        ("BSE", CASH): "BSE",
        ("NSE", INDEX): "NSE_INDEX",
        ("BSE", INDEX): "BSE_INDEX",
        ("NSE", EQUITY_DERIVATIVE): "NFO",
        ("BSE", EQUITY_DERIVATIVE): "BFO",
        ("NFO", EQUITY_DERIVATIVE): "NFO",
        ("BFO", EQUITY_DERIVATIVE): "BFO",
        # mStock labels currency contracts NSE/BSE (spec 8.4, upstream commit dbca017).
        ("NSE", CURRENCY): "CDS",
        ("BSE", CURRENCY): "BCD",
        ("NFO", CURRENCY): "CDS",
        ("BFO", CURRENCY): "BCD",
        ("CDS", CURRENCY): "CDS",
        ("BCD", CURRENCY): "BCD",
        ("MCX", COMMODITY): "MCX",
    }
)

# Codes that already are OpenAlgo exchanges pass through whatever the instrument type says.
_PASS_THROUGH: Final[frozenset[str]] = frozenset({"NFO", "BFO", "CDS", "BCD", "MCX", "NSE_INDEX", "BSE_INDEX"})


def instrument_segment(instrumenttype: str | None) -> str:
    """The segment of an mStock instrument type; raises ``ValueError`` naming an unknown one."""
    key = (instrumenttype or "").strip().upper()
    try:
        return INSTRUMENT_SEGMENT[key]
    except KeyError:
        raise ValueError(f"unknown mStock instrument type {instrumenttype!r}") from None


def openalgo_exchange_for_book(exchange: str, instrumenttype: str | None) -> str:
    """The OpenAlgo exchange of a broker row (book row or master row).

    Book rows report derivatives under ``NSE``/``BSE`` (spec 4.7, 5.1) and the master tags
    currency ``NSE``/``BSE`` (spec 8.4), so the instrument type decides: NSE+OPTIDX -> NFO,
    BSE+FUTCUR -> BCD, anything FUTCOM/OPTFUT -> MCX; cash rows keep NSE/BSE; codes that
    already are OpenAlgo derivative exchanges pass through. Unknown instrument types or
    exchanges raise ``ValueError`` naming the value (callers decide what to do).
    """
    code = (exchange or "").strip().upper()
    segment = instrument_segment(instrumenttype)
    if segment == COMMODITY:
        return "MCX"
    if code in _PASS_THROUGH:
        return code
    try:
        return _OA_EXCHANGE_BY_SEGMENT[(code, segment)]
    except KeyError:
        raise ValueError(
            f"cannot place mStock exchange {exchange!r} with instrument type {instrumenttype!r} on an OpenAlgo exchange"
        ) from None


def feed_exchange_type(oa_exchange: str) -> int:
    """The feed ``exchangeType`` of an OpenAlgo exchange; raises ``ValueError`` if mStock has none."""
    try:
        return FEED_EXCHANGE_TYPE[oa_exchange]
    except KeyError:
        raise ValueError(f"{oa_exchange} is not supported on the mStock feed") from None
