"""The versioned index table: NSE index tokens and the OpenAlgo names of every index.

Why a table in the package (spec 8.5, contract 10.4, upstream-review D17): NSE index spot
rows are **not** in mStock's instrument master, and upstream scraped them from an HTML
docs page at every download, losing ``NSE_INDEX`` whenever the page changed. Here the rows
are data, reviewed and versioned like code.

What is known, and from where:

* NSE tokens. Only six are confirmed across independent sources (spec 8.5 and §16 item 12:
  3P-GUIDE, 3P-SCRIP and the option-chain master's ``FUTIDX`` list; spec 8.1 shows quotes
  with ``NSE`` + ``26000``). They are the NSE exchange index tokens also used by other
  brokers' feeds. Every other NSE index OpenAlgo knows (``test/test_index_symbols.py``)
  is listed in :data:`NSE_INDEX_NAMES_WITHOUT_TOKEN` with **no token**: a guessed token
  would silently quote a different index (or an equity with that number), so those
  indices are simply absent until a token is verified and added here with its source.
* BSE indices **are** in the master (``exch_seg`` ``BSE``, spec 8.4) with their own tokens,
  but no source establishes those tokens (SENSEX ``51`` is one unverified third-party
  claim) nor their ``instrumenttype``. So BSE index rows are recognised from the row
  itself: an index instrument type, or a name that is one of the aliases below; the token
  is taken from the master row, never from this table.

Bump :data:`INDEX_TABLE_VERSION` whenever a row changes; the download report shows it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from types import MappingProxyType
from typing import Final

INDEX_TABLE_VERSION: Final = "2025.11-1"

INDEX_INSTRUMENT_TYPE: Final = "INDEX"  # what dhan and upstream mstock store (contract 10.2)
INDEX_TICK_SIZE: Final = 0.05


@dataclass(frozen=True, slots=True)
class IndexEntry:
    """One index as OpenAlgo names it, with mStock's identifiers and where they come from."""

    symbol: str  # OpenAlgo name: uppercase, no spaces
    exchange: str  # NSE_INDEX or BSE_INDEX
    token: str | None  # mStock token; None when no source establishes it
    display_name: str  # exchange's own name, stored as brsymbol and name
    aliases: tuple[str, ...]  # broker spellings of this index (normalised with index_key)
    source: str


_CONFIRMED = "spec 8.5: 3P-GUIDE, 3P-SCRIP, option-chain master FUTIDX list"

NSE_INDICES: Final[tuple[IndexEntry, ...]] = (
    IndexEntry("NIFTY", "NSE_INDEX", "26000", "NIFTY 50", ("NIFTY50", "NIFTY"), _CONFIRMED + "; spec 8.1 quote sample"),
    IndexEntry("BANKNIFTY", "NSE_INDEX", "26009", "NIFTY BANK", ("NIFTYBANK", "BANKNIFTY"), _CONFIRMED),
    IndexEntry(
        "FINNIFTY", "NSE_INDEX", "26037", "NIFTY FIN SERVICE",
        ("NIFTYFINSERVICE", "NIFTYFINANCIALSERVICES", "FINNIFTY"), _CONFIRMED,
    ),
    IndexEntry(
        "MIDCPNIFTY", "NSE_INDEX", "26074", "NIFTY MID SELECT",
        ("NIFTYMIDSELECT", "NIFTYMIDCAPSELECT", "MIDCPNIFTY"), _CONFIRMED,
    ),
    IndexEntry("NIFTYNXT50", "NSE_INDEX", "26013", "NIFTY NEXT 50", ("NIFTYNEXT50", "NIFTYJR", "NIFTYNXT50"), _CONFIRMED),
    IndexEntry("INDIAVIX", "NSE_INDEX", "26017", "INDIA VIX", ("INDIAVIX",), _CONFIRMED),
)

# OpenAlgo's expected NSE_INDEX names (test/test_index_symbols.py) whose mStock token no
# source establishes [UNKNOWN]. Deliberately not emitted; add a row to NSE_INDICES with
# its source once a token is verified (e.g. from the Annexure page or a live quote).
NSE_INDEX_NAMES_WITHOUT_TOKEN: Final[tuple[str, ...]] = (
    "HANGSENGBEESNAV", "NIFTY100", "NIFTY200", "NIFTY500", "NIFTYALPHA50", "NIFTYAUTO",
    "NIFTYCOMMODITIES", "NIFTYCONSUMPTION", "NIFTYCPSE", "NIFTYDIVOPPS50", "NIFTYENERGY",
    "NIFTYFMCG", "NIFTYGROWSECT15", "NIFTYGS10YR", "NIFTYGS10YRCLN", "NIFTYGS1115YR",
    "NIFTYGS15YRPLUS", "NIFTYGS48YR", "NIFTYGS813YR", "NIFTYGSCOMPSITE", "NIFTYINFRA", "NIFTYIT",
    "NIFTYMEDIA", "NIFTYMETAL", "NIFTYMIDLIQ15", "NIFTYMIDCAP100", "NIFTYMIDCAP150",
    "NIFTYMIDCAP50", "NIFTYMIDSML400", "NIFTYMNC", "NIFTYPHARMA", "NIFTYPSE", "NIFTYPSUBANK",
    "NIFTYPVTBANK", "NIFTYREALTY", "NIFTYSERVSECTOR", "NIFTYSMLCAP100", "NIFTYSMLCAP250",
    "NIFTYSMLCAP50", "NIFTY100EQLWGT", "NIFTY100LIQ15", "NIFTY100LOWVOL30", "NIFTY100QUALTY30",
    "NIFTY200QUALTY30", "NIFTY50DIVPOINT", "NIFTY50EQLWGT", "NIFTY50PR1XINV", "NIFTY50PR2XLEV",
    "NIFTY50TR1XINV", "NIFTY50TR2XLEV", "NIFTY50VALUE20",
)

_BSE_SOURCE = "contract 10.4 core BSE names; aliases from upstream's rename map (SNSX50, S&P BSE SENSEX, BSE BANKEX)"

# BSE indices recognised by name in the master; token None: it comes from the master row.
BSE_INDICES: Final[tuple[IndexEntry, ...]] = (
    IndexEntry("SENSEX", "BSE_INDEX", None, "SENSEX", ("SENSEX", "BSESENSEX", "SPBSESENSEX"), _BSE_SOURCE),
    IndexEntry("BANKEX", "BSE_INDEX", None, "BANKEX", ("BANKEX", "BSEBANKEX", "SPBSEBANKEX"), _BSE_SOURCE),
    IndexEntry(
        "SENSEX50", "BSE_INDEX", None, "SENSEX 50",
        ("SENSEX50", "SNSX50", "BSESENSEX50", "SPBSESENSEX50"), _BSE_SOURCE,
    ),
)

_NON_ALNUM = re.compile(r"[^A-Z0-9&]")


def index_key(raw: str) -> str:
    """Normalise an index name for matching: uppercase, no spaces/punctuation, no ``S&P`` prefix.

    ``"S&P BSE SENSEX"`` -> ``"BSESENSEX"``; ``"Nifty Fin Service"`` -> ``"NIFTYFINSERVICE"``.
    """
    text = (raw or "").upper().strip()
    if text.startswith("S&P "):
        text = text[4:]
    return _NON_ALNUM.sub("", text)


def _alias_map(entries: tuple[IndexEntry, ...]) -> MappingProxyType:
    mapping: dict[str, IndexEntry] = {}
    for entry in entries:
        for alias in (*entry.aliases, entry.symbol):
            key = index_key(alias)
            existing = mapping.get(key)
            if existing is not None and existing is not entry:
                raise AssertionError(f"index alias {alias!r} names both {existing.symbol} and {entry.symbol}")
            mapping[key] = entry
    return MappingProxyType(mapping)


BSE_INDEX_BY_ALIAS: Final = _alias_map(BSE_INDICES)
NSE_INDEX_BY_ALIAS: Final = _alias_map(NSE_INDICES)


def openalgo_index_symbol(raw_name: str, exchange: str, underlying: str = "") -> str:
    """The OpenAlgo name of an index row.

    A known alias of ``raw_name`` or ``underlying`` gives the table's name (``SNSX50`` ->
    ``SENSEX50``); otherwise the row's name uppercased without spaces (``S&P BSE 100`` ->
    ``BSE100``), as OpenAlgo expects for indices it has no mapping for.
    """
    table = BSE_INDEX_BY_ALIAS if exchange == "BSE_INDEX" else NSE_INDEX_BY_ALIAS
    key = index_key(raw_name)
    entry = table.get(key) or (table.get(index_key(underlying)) if underlying else None)
    if entry is not None:
        return entry.symbol
    return key or index_key(underlying)


def nse_index_rows() -> list[tuple]:
    """The NSE index rows of the symbol table, in ``SYMTOKEN_COLUMNS`` order (brexchange ``NSE``)."""
    return [
        (e.symbol, e.display_name, e.display_name, "NSE_INDEX", "NSE", e.token, "", 0.0, 1, INDEX_INSTRUMENT_TYPE, INDEX_TICK_SIZE)
        for e in NSE_INDICES
        if e.token
    ]
