"""Instruments the sandbox trades and quotes: the scrip master plus NSE index spots.

The master rows (spec 8.4) say ``exch_seg`` NSE/BSE/NFO/BFO (currency tagged NSE/BSE);
books, by contrast, report derivatives under NSE/BSE with back-office names such as
``ACC-28Nov2024-2400-CE`` (spec 4.7, 5.1). This module knows both views of an instrument.
NSE index spots are not in the master (spec 8.5) but are quotable under ``NSE``.
"""

from __future__ import annotations

import random
import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from functools import cached_property

from .config import CONFIRMED_INDEX_SPOTS

MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
_MONTH_NUMBER = {m.upper(): i for i, m in enumerate(MONTHS, start=1)}

CURRENCY_TYPES = frozenset({"FUTCUR", "OPTCUR", "FUTIRC", "OPTIRC", "FUTIRT"})
FUTURE_TYPES = frozenset({"FUTIDX", "FUTSTK", "FUTCUR", "FUTIRC", "FUTIRT", "FUTCOM"})
OPTION_TYPES = frozenset({"OPTIDX", "OPTSTK", "OPTCUR", "OPTIRC", "OPTFUT"})
INDEX_TYPES = frozenset({"INDEX", "INDICES", "AMXIDX", "IDX"})
EQUITY_SERIES = frozenset({"EQ", "BE", "BZ", "BL", "BT", "SM", "ST", "GB", "GS", "IL", "RR", "IV", "E1", "N1"})
# BSE index rows sit in the master under exch_seg "BSE"; their instrumenttype is not
# established (spec 8.4), so they are also recognised by name.
BSE_INDEX_NAMES = frozenset({"SENSEX", "BANKEX", "SENSEX50", "BSE100", "BSE200", "BSE500"})

# NSE index spots (spec 8.5 Annexure): token -> (underlying name, display name). The
# sandbox serves ``SandboxConfig.index_spots``; this is the confirmed default.
NSE_INDEX_SPOTS: Mapping[str, tuple[str, str]] = CONFIRMED_INDEX_SPOTS

# Holdings show company names and ISINs (spec 5.3); public reference data for anchors.
COMPANIES: dict[str, tuple[str, str]] = {
    "SBIN": ("STATE BANK OF INDIA", "INE062A01020"),
    "ACC": ("ACC LIMITED", "INE012A01025"),
    "RELIANCE": ("RELIANCE INDUSTRIES LTD", "INE002A01018"),
    "TCS": ("TATA CONSULTANCY SERV LT", "INE467B01029"),
    "IDEA": ("VODAFONE IDEA LIMITED", "INE669E01016"),
    "WIPRO": ("WIPRO LTD", "INE075A01022"),
    "YESBANK": ("YES BANK LIMITED", "INE528G01035"),
    "INFY": ("INFOSYS LIMITED", "INE009A01021"),
    "M&M": ("MAHINDRA & MAHINDRA LTD", "INE101A01026"),
    "BAJAJ-AUTO": ("BAJAJ AUTO LIMITED", "INE917I01010"),
    "VEDL": ("VEDANTA LIMITED", "INE205A01025"),
}

# Exchange codes of instruments/intraday (spec 8.3) and feed exchange types (spec 11.2).
INTRADAY_CODES = {"1": "NSE", "2": "NFO", "3": "CDS", "4": "BSE", "5": "BFO", "6": "MCX"}
FEED_SEGMENTS = {1: "NSE", 2: "NFO", 3: "BSE", 4: "BFO", 13: "CDS"}


def parse_master_expiry(text: str) -> date | None:
    """``28Nov2024`` (spec 8.4) -> date; blank -> None."""
    text = (text or "").strip()
    if len(text) < 9:
        return None
    try:
        return date(int(text[5:9]), _MONTH_NUMBER[text[2:5].upper()], int(text[:2]))
    except (KeyError, ValueError):
        return None


def fmt_number(value: float) -> str:
    """Shortest plain rendering: 2400.0 -> "2400", 292.5 -> "292.5", 88.25 -> "88.25"."""
    text = f"{value:.4f}".rstrip("0").rstrip(".")
    return text if text not in ("", "-0") else "0"


def fmt_day(day: date, style: str) -> str:
    """Date styles of the books: ``ymd`` 2024-Nov-28, ``dmy`` 28-Nov-2024, ``compact`` 28Nov2024."""
    mon = MONTHS[day.month - 1]
    if style == "ymd":
        return f"{day.year}-{mon}-{day.day:02d}"
    if style == "dmy":
        return f"{day.day:02d}-{mon}-{day.year}"
    return f"{day.day:02d}{mon}{day.year}"


def fmt_book_time(moment: datetime) -> str:
    """Order-book timestamps: ``2024-Nov-06 12:42:18`` (spec 4.7)."""
    return f"{fmt_day(moment.date(), 'ymd')} {moment:%H:%M:%S}"


@dataclass(frozen=True)
class Instrument:
    token: str
    exch_seg: str  # the master's exchange: NSE, BSE, NFO, BFO (currency: NSE/BSE), MCX
    name: str  # full trading symbol, sent as tradingsymbol when ordering (SBIN-EQ)
    symbol: str  # underlying / short name (SBIN, NIFTY)
    instrumenttype: str
    expiry: date | None
    strike: float | None
    lotsize: int
    tick: float

    @property
    def is_index(self) -> bool:
        return self.instrumenttype in INDEX_TYPES or (
            self.exch_seg == "BSE" and self.instrumenttype == ""
            and (self.name.upper() in BSE_INDEX_NAMES or self.symbol.upper() in BSE_INDEX_NAMES)
        )

    @property
    def is_future(self) -> bool:
        return self.instrumenttype in FUTURE_TYPES

    @property
    def is_option(self) -> bool:
        return self.instrumenttype in OPTION_TYPES

    @property
    def is_currency(self) -> bool:
        return self.instrumenttype in CURRENCY_TYPES

    @property
    def is_derivative(self) -> bool:
        return self.is_future or self.is_option

    @property
    def is_equity(self) -> bool:
        return not self.is_derivative and not self.is_index

    @property
    def option_type(self) -> str | None:
        if not self.is_option:
            return None
        return "PE" if self.name.upper().endswith("PE") else "CE"

    @property
    def series(self) -> str:
        head, sep, tail = self.name.rpartition("-")
        return tail if sep and head and tail in EQUITY_SERIES else "EQ"

    @property
    def segment(self) -> str:
        """The one-letter segment of trade books and order details (E/D)."""
        return "D" if self.is_derivative else "E"

    @property
    def book_exchange(self) -> str:
        """Books report F&O under NSE/BSE (spec 4.7, 5.1)."""
        return {"NFO": "NSE", "BFO": "BSE"}.get(self.exch_seg, self.exch_seg)

    @property
    def book_instrumenttype(self) -> str:
        if self.is_derivative:
            return self.instrumenttype
        return "INDEX" if self.is_index else "EQUITY"

    @property
    def intraday_segment(self) -> str:
        """The segment name of spec 8.3's numeric codes: currency rows are CDS there."""
        if self.is_currency:
            return "CDS"
        return self.exch_seg

    @property
    def feed_exchange_type(self) -> int | None:
        if self.is_currency:
            return 13 if self.exch_seg == "NSE" else None
        return {"NSE": 1, "NFO": 2, "BSE": 3, "BFO": 4}.get(self.exch_seg)

    @cached_property
    def backoffice_name(self) -> str:
        """``ACC`` / ``ACC-28Nov2024-FUT`` / ``ACC-28Nov2024-2400-CE`` (spec 4.7)."""
        if not self.is_derivative or self.expiry is None:
            return self.symbol or self.name
        expiry = fmt_day(self.expiry, "compact")
        if self.is_future:
            return f"{self.symbol}-{expiry}-FUT"
        return f"{self.symbol}-{expiry}-{fmt_number(self.strike or 0.0)}-{self.option_type}"

    @property
    def company_name(self) -> str:
        known = COMPANIES.get(self.symbol)
        return known[0] if known else f"{self.symbol} LIMITED"

    @property
    def isin(self) -> str:
        known = COMPANIES.get(self.symbol)
        if known:
            return known[1]
        rng = random.Random(f"isin:{self.symbol}")
        body = "".join(rng.choice("ABCDEFGHJKLMNPQRSTUVWXYZ0123456789") for _ in range(5))
        return f"INE{body}01{rng.randint(0, 9)}"

    def decimals(self) -> int:
        return max(2, len(fmt_number(self.tick).partition(".")[2]))


def _instrument_from_row(row: Mapping[str, str]) -> Instrument:
    def number(key: str) -> float | None:
        text = str(row.get(key) or "").strip()
        try:
            return float(text) if text else None
        except ValueError:
            return None

    lot = number("lotsize") or 1.0
    tick = number("tick_size") or 0.05
    strike = number("strike")
    return Instrument(
        token=str(row.get("token", "")).strip(),
        exch_seg=str(row.get("exch_seg", "")).strip().upper(),
        name=str(row.get("name", "")).strip(),
        symbol=str(row.get("symbol", "")).strip(),
        instrumenttype=str(row.get("instrumenttype", "")).strip().upper(),
        expiry=parse_master_expiry(str(row.get("expiry", ""))),
        strike=strike if strike and strike > 0 else None,
        lotsize=max(1, int(lot)),
        tick=tick if tick > 0 else 0.05,
    )


def _index_spots(spots: Mapping[str, tuple[str, str]]) -> dict[str, Instrument]:
    return {
        token: Instrument(token, "NSE", display, underlying, "INDEX", None, None, 1, 0.05)
        for token, (underlying, display) in spots.items()
    }


class InstrumentBook:
    """Lookups over the master rows; :class:`Instrument` objects are built on demand."""

    def __init__(
        self, rows: Iterable[Mapping[str, str]], *, index_spots: Mapping[str, tuple[str, str]] = NSE_INDEX_SPOTS
    ) -> None:
        self._rows: dict[tuple[str, str], Mapping[str, str]] = {}
        self._by_token: dict[str, list[str]] = {}
        self._equity_by_symbol: dict[tuple[str, str], tuple[str, str]] = {}
        self._strikes: dict[str, list[float]] = {}
        for row in rows:
            seg = str(row.get("exch_seg", "")).strip().upper()
            token = str(row.get("token", "")).strip()
            if not seg or not token:
                continue
            self._rows[(seg, token)] = row
            self._by_token.setdefault(token, []).append(seg)
            itype = str(row.get("instrumenttype", "")).strip().upper()
            symbol = str(row.get("symbol", "")).strip()
            name = str(row.get("name", "")).strip()
            if itype in OPTION_TYPES:
                try:
                    self._strikes.setdefault(symbol, []).append(float(row.get("strike") or 0))
                except ValueError:
                    pass
            if seg in ("NSE", "BSE") and itype in ("EQ", ""):
                key = (seg, symbol)
                # Several series may exist for one symbol; the -EQ row is the underlying.
                if key not in self._equity_by_symbol or name.endswith("-EQ"):
                    self._equity_by_symbol[key] = (seg, token)
        self._spots = _index_spots(index_spots)
        self._cache: dict[tuple[str, str], Instrument] = {}
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._rows)

    def get(self, exch_seg: str, token: str) -> Instrument | None:
        """By the REST exchange of orders, quotes and historical calls (the master's exch_seg)."""
        key = (exch_seg.strip().upper(), str(token).strip())
        with self._lock:
            found = self._cache.get(key)
            if found is not None:
                return found
            row = self._rows.get(key)
            if row is not None:
                found = _instrument_from_row(row)
            elif key[0] == "NSE":
                found = self._spots.get(key[1])
            if found is not None:
                self._cache[key] = found
            return found

    def get_intraday(self, code: str, token: str) -> Instrument | None:
        """By spec 8.3's numeric exchange code: 3 is currency (tagged NSE/BSE in the master)."""
        segment = INTRADAY_CODES.get(str(code).strip())
        if segment is None:
            return None
        if segment == "CDS":
            for seg in ("NSE", "BSE"):
                inst = self.get(seg, token)
                if inst is not None and inst.is_currency:
                    return inst
            return None
        inst = self.get(segment, token)
        if inst is None or inst.is_currency:
            return None
        return inst

    def get_feed(self, exchange_type: int, token: str) -> Instrument | None:
        segment = FEED_SEGMENTS.get(int(exchange_type))
        if segment is None:
            return None
        if segment == "CDS":
            inst = self.get("NSE", token)
            return inst if inst is not None and inst.is_currency else None
        return self.get(segment, token)

    def find(self, token: str) -> Instrument | None:
        """By token alone (feed subscriptions name no exchange): the first segment holding it."""
        token = str(token).strip()
        if token in self._spots:
            return self._spots[token]
        for seg in self._by_token.get(token, []):
            return self.get(seg, token)
        return None

    def underlying_equity(self, symbol: str) -> Instrument | None:
        for seg in ("NSE", "BSE"):
            hit = self._equity_by_symbol.get((seg, symbol))
            if hit is not None:
                return self.get(*hit)
        return None

    def strike_centre(self, symbol: str) -> float | None:
        """The median option strike of an underlying: where the master put the money."""
        strikes = sorted(s for s in self._strikes.get(symbol, ()) if s > 0)
        return strikes[len(strikes) // 2] if strikes else None

    def find_by_name(self, name: str) -> Instrument | None:
        """Holdings are configured by master trading symbol (SBIN-EQ)."""
        for (seg, token), row in self._rows.items():
            if str(row.get("name", "")).strip() == name and seg in ("NSE", "BSE"):
                return self.get(seg, token)
        return None
