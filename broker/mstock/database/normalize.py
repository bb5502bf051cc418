"""mStock instrument-master rows -> OpenAlgo ``symtoken`` rows (spec 8.4, 8.5; contract 10.2-10.4).

One pure function, :func:`build_symtoken_rows`, table-driven where it can be. Field roles
(spec 8.4): ``name`` is the trading symbol orders send (``brsymbol``), ``symbol`` the
underlying, ``token`` the instrument token, ``exch_seg`` the REST exchange (``brexchange``).

**Equity series.** NSE lists a company in one series at a time, sometimes two (``-EQ``
rolling plus ``-BE`` trade-to-trade, ``-BZ``/``-SM``/``-ST`` ...). The ``-EQ`` row (or a row
without a suffix, as BSE names may be) gets the bare OpenAlgo symbol (``SBIN``); every
other series keeps its suffix (``SBIN-BE``), which is also its mStock name. A company that
trades **only** in a non-EQ series has no bare symbol: ``ONLYBE-BE`` exists, ``ONLYBE`` does
not. Trade-to-trade and Z-group series settle by compulsory delivery (no intraday square
off), and SME series trade in large lots, so an order for ``XYZ`` must never land on them
silently; a strategy that keeps trading ``XYZ`` after the exchange moved it to BE fails
with "unknown symbol" instead. :data:`BARE_SERIES` is the one line to change if that
policy ever should.

**Derivatives** are named from the row's fields, never by parsing the exchange short code
(weekly names like ``SENSEX25O2382700CE`` encode the month as ``O``): futures
``<UND><DDMMMYY>FUT``, options ``<UND><DDMMMYY><STRIKE><CE|PE>`` with the strike printed
from its decimal text (``292.5``, ``24000``, never ``24000.0``), instrument types exactly
``FUT``/``CE``/``PE`` and expiry ``DD-MMM-YY``. The option side is the last two letters of
``name`` (the master has no option-type field).

**Exchanges** come from :func:`..mapping.exchanges.openalgo_exchange_for_book`: currency
rows tagged ``NSE``/``BSE`` become ``CDS``/``BCD``. **Indices**: BSE index rows (in the
master) become ``BSE_INDEX``; NSE index rows come from :mod:`.index_tokens` and win over
any master row with the same OpenAlgo name.

**Uniqueness**: (symbol, exchange), (token, exchange) and (brsymbol, exchange) are each
unique; the first row wins (the index table first, then master order) and every dropped
row is counted. Unparseable rows are skipped and counted by reason.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from operator import itemgetter
from typing import Any

from ..mapping import exchanges as ex
from . import index_tokens

# Series whose rows get the bare OpenAlgo symbol; "" = a name without a series suffix.
BARE_SERIES: frozenset[str] = frozenset({"", "EQ"})

DEFAULT_TICK_SIZE = 0.05
_EXAMPLES_PER_REASON = 5
_EXPIRY_FORMATS = ("%d%b%Y", "%d%b%y", "%d-%b-%Y", "%d-%b-%y", "%Y-%m-%d", "%d/%m/%Y", "%d %b %Y")
_SIDES = frozenset({"CE", "PE"})
_TICK_MISSING = -1.0  # memo marker: the row has no tick size, use the default


@dataclass
class NormalizationReport:
    """What happened to every input row, for logs, the CLI summary and the plausibility check."""

    input_rows: int = 0
    stored_rows: int = 0
    per_exchange: Counter = field(default_factory=Counter)
    skipped: Counter = field(default_factory=Counter)  # reason -> rows
    duplicates: Counter = field(default_factory=Counter)  # "symbol"/"token"/"brsymbol" -> rows
    examples: dict[str, list[str]] = field(default_factory=dict)  # reason -> a few names
    options: int = 0
    strike_not_in_name: int = 0  # options whose name does not contain the strike text
    defaulted_tick_size: int = 0
    index_rows_from_table: int = 0
    index_table_version: str = index_tokens.INDEX_TABLE_VERSION

    @property
    def skipped_total(self) -> int:
        return sum(self.skipped.values())

    @property
    def duplicates_total(self) -> int:
        return sum(self.duplicates.values())

    def note(self, reason: str, example: str, *, duplicate: bool = False) -> None:
        (self.duplicates if duplicate else self.skipped)[reason] += 1
        bucket = self.examples.setdefault(("duplicate " if duplicate else "") + reason, [])
        if len(bucket) < _EXAMPLES_PER_REASON:
            bucket.append(example)

    def summary(self) -> str:
        by_exchange = ", ".join(f"{k} {v}" for k, v in sorted(self.per_exchange.items()))
        text = f"{self.stored_rows} symbols from {self.input_rows} master rows ({by_exchange})"
        if self.skipped_total:
            reasons = ", ".join(f"{k}: {v}" for k, v in self.skipped.most_common())
            text += f"; skipped {self.skipped_total} ({reasons})"
        if self.duplicates_total:
            dups = ", ".join(f"{k}: {v}" for k, v in self.duplicates.most_common())
            text += f"; dropped {self.duplicates_total} duplicates ({dups})"
        return text


# ----------------------------------------------------------------------------- value parsers
# Each parser is memoised per distinct raw value: a master has ~100k rows but only a few
# hundred distinct expiries, strikes, lot sizes and ticks, so the work is per value.


def _text(value: Any) -> str:
    if value is None:
        return ""
    if type(value) is str:
        return value.strip()
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()


def parse_expiry(raw: str) -> tuple[str, str] | None:
    """``"23Oct2025"`` -> ``("23-OCT-25", "23OCT25")`` (expiry column, symbol part); None if unparseable."""
    for fmt in _EXPIRY_FORMATS:
        try:
            day = dt.datetime.strptime(raw, fmt).date()
        except ValueError:
            continue
        column = day.strftime("%d-%b-%y").upper()
        return column, column.replace("-", "")
    return None


def format_strike(raw: str) -> tuple[str, float] | None:
    """``"292.50"`` -> ``("292.5", 292.5)``; ``"24000.0"`` -> ``("24000", 24000.0)``; None unless > 0.

    Decimal on the text, not float: ``str(float)`` would print ``24000.0`` or float noise.
    """
    try:
        value = Decimal(raw)
    except (InvalidOperation, ValueError):
        return None
    if not value.is_finite() or value <= 0:
        return None
    if value == value.to_integral_value():
        text = str(int(value))
    else:
        text = format(value.normalize(), "f")
    return text, float(value)


def parse_lot(raw: str) -> int | None:
    try:
        number = Decimal(raw)
    except (InvalidOperation, ValueError):
        return None
    if not number.is_finite() or number <= 0 or number != number.to_integral_value():
        return None
    return int(number)


def parse_tick(raw: str) -> float | None:
    try:
        number = float(raw)
    except ValueError:
        return None
    return number if number > 0 and number == number else None


class _Memo(dict):
    """dict that computes a missing value with ``fn`` once."""

    def __init__(self, fn) -> None:
        super().__init__()
        self._fn = fn

    def __missing__(self, key: str):
        value = self[key] = self._fn(key)
        return value


def _split_series(name: str, underlying: str) -> tuple[str, str]:
    """``("SBIN-EQ", "SBIN")`` -> ``("SBIN", "EQ")``; ``("ACC", "ACC")`` -> ``("ACC", "")``."""
    if name == underlying:
        return name, ""
    if underlying and name.startswith(underlying) and name[len(underlying) : len(underlying) + 1] == "-":
        series = name[len(underlying) + 1 :]
        if 0 < len(series) <= 3 and series.isalnum():
            return underlying, series
    head, sep, tail = name.rpartition("-")
    if sep and head and 0 < len(tail) <= 2 and tail.isalnum() and tail.isupper():
        return head, tail
    return name, ""


# ----------------------------------------------------------------------------- classification

_INDEX_EXCHANGES = {"NSE": "NSE_INDEX", "BSE": "BSE_INDEX"}


def _classify(key: tuple[str, str]) -> tuple[str, str, str, str]:
    """(exch_seg, instrumenttype) -> (OpenAlgo exchange or "", segment or skip reason, exch_seg, itype)."""
    exch_seg, itype = key
    if itype not in ex.INSTRUMENT_SEGMENT:
        return "", f"instrument type {itype!r}", exch_seg, itype
    segment = ex.INSTRUMENT_SEGMENT[itype]
    if segment == ex.INDEX:
        oa = _INDEX_EXCHANGES.get(exch_seg, "")
        return (oa, segment, exch_seg, itype) if oa else ("", f"index on {exch_seg or 'no exchange'}", exch_seg, itype)
    try:
        return ex.openalgo_exchange_for_book(exch_seg, itype), segment, exch_seg, itype
    except ValueError:
        return "", f"exchange {exch_seg or 'missing'!r} with {itype or 'no type'}", exch_seg, itype


# ----------------------------------------------------------------------------- the normaliser


def build_symtoken_rows(broker_rows: Iterable[Mapping[str, Any]]) -> tuple[list[tuple], NormalizationReport]:
    """Normalise raw master rows into ``symtoken`` tuples (``SYMTOKEN_COLUMNS`` order) plus a report.

    The NSE index rows of :mod:`.index_tokens` are added first. Never raises for a bad
    row: it is skipped and counted in the report.
    """
    rows = broker_rows if isinstance(broker_rows, list) else list(broker_rows)
    return _normalise([rows], consume=False)


def _rows_of(chunks: Iterable[list], consume: bool) -> Iterator[Any]:
    """The rows of successive chunks; with ``consume`` each slot is cleared once read."""
    for chunk in chunks:
        if consume:
            for position in range(len(chunk)):
                row = chunk[position]
                chunk[position] = None
                yield row
        else:
            yield from chunk


def _normalise(chunks: Iterable[list], *, consume: bool) -> tuple[list[tuple], NormalizationReport]:
    """The loop behind :func:`build_symtoken_rows`, written for speed (about 2 µs a row).

    ``chunks`` yields lists of raw rows (the download is parsed a few MB at a time, so
    only one chunk of dicts exists at once). Per-value parsing is memoised; uniqueness
    checks are inlined. With ``consume=True`` each input slot is cleared once read so the
    raw dicts are freed while the output grows.
    """
    report = NormalizationReport()
    note = report.note
    out: list[tuple] = []
    append = out.append
    # Per OpenAlgo exchange: the symbols, tokens and brsymbols taken so far.
    seen: dict[str, tuple[set[str], set[str], set[str]]] = {}

    for row in index_tokens.nse_index_rows():
        taken = seen.setdefault(row[3], (set(), set(), set()))
        taken[0].add(row[0])
        taken[1].add(row[5])
        taken[2].add(row[1])
        append(row)
    report.index_rows_from_table = len(out)

    classes = _Memo(lambda key: _classify((_text(key[0]).upper(), _text(key[1]).upper())))
    expiries = _Memo(lambda v: parse_expiry(_text(v)))
    strikes = _Memo(lambda v: format_strike(_text(v)))
    deriv_lots = _Memo(lambda v: parse_lot(_text(v)))
    cash_lots = _Memo(lambda v: parse_lot(_text(v)) if _text(v) else 1)
    ticks = _Memo(lambda v: parse_tick(_text(v)) if _text(v) else _TICK_MISSING)
    bse_index_alias = index_tokens.BSE_INDEX_BY_ALIAS
    index_key = index_tokens.index_key
    derivative_kind = ex.DERIVATIVE_KIND
    cash, index_segment = ex.CASH, ex.INDEX
    sides = _SIDES

    input_rows = 0
    for raw in _rows_of(chunks, consume):
        input_rows += 1
        try:
            if type(raw) is not dict and not isinstance(raw, Mapping):
                note("not an object", repr(raw)[:40])
                continue
            get = raw.get
            token = get("token")
            token = token.strip() if type(token) is str else _text(token)
            name = get("name")
            name = name.strip() if type(name) is str else _text(name)
            if not token or not name:
                note("missing token or name", name or token or "?")
                continue
            exch_seg_raw = get("exch_seg")
            itype_raw = get("instrumenttype")
            oa_exchange, segment, exch_seg, itype = classes[(exch_seg_raw, itype_raw)]
            if not oa_exchange:
                note(segment, name)
                continue
            underlying = get("symbol")
            underlying = underlying.strip().upper() if type(underlying) is str else _text(underlying).upper()
            tick = ticks[get("tick_size")]
            if tick is None:
                note("bad tick size", name)
                continue
            if tick < 0:
                tick = DEFAULT_TICK_SIZE
                report.defaulted_tick_size += 1

            if segment == cash and exch_seg == "BSE" and (
                index_key(name) in bse_index_alias or index_key(underlying) in bse_index_alias
            ):
                segment, oa_exchange = index_segment, "BSE_INDEX"
            if segment == cash:
                base, series = _split_series(name, underlying)
                base = base.upper()
                lot = cash_lots[get("lotsize")]
                if lot is None:
                    note("bad lot size", name)
                    continue
                symbol = base if series in BARE_SERIES else f"{base}-{series.upper()}"
                row = (symbol, name, base, oa_exchange, exch_seg, token, "", 0.0, lot, "EQ", tick)
            elif segment == index_segment:
                symbol = index_tokens.openalgo_index_symbol(name, oa_exchange, underlying)
                if not symbol:
                    note("index without a name", token)
                    continue
                row = (symbol, name, name, oa_exchange, exch_seg, token, "", 0.0, 1, index_tokens.INDEX_INSTRUMENT_TYPE, tick)
            else:
                if not underlying:
                    note("derivative without underlying", name)
                    continue
                if " " in underlying:
                    underlying = underlying.replace(" ", "")
                parsed = expiries[get("expiry")]
                if parsed is None:
                    note("bad expiry", name)
                    continue
                lot = deriv_lots[get("lotsize")]
                if lot is None:
                    note("bad lot size", name)
                    continue
                expiry, compact = parsed
                if derivative_kind[itype] == "FUT":
                    symbol = underlying + compact + "FUT"
                    row = (symbol, name, underlying, oa_exchange, exch_seg, token, expiry, 0.0, lot, "FUT", tick)
                else:
                    side = name[-2:]
                    if side not in sides:
                        side = side.upper()
                        if side not in sides:
                            note("option without CE/PE", name)
                            continue
                    strike = strikes[get("strike")]
                    if strike is None:
                        note("bad strike", name)
                        continue
                    strike_text, strike_value = strike
                    report.options += 1
                    if strike_text not in name:
                        report.strike_not_in_name += 1
                    symbol = underlying + compact + strike_text + side
                    row = (symbol, name, underlying, oa_exchange, exch_seg, token, expiry, strike_value, lot, side, tick)

            taken = seen.get(oa_exchange)
            if taken is None:
                taken = seen[oa_exchange] = (set(), set(), set())
            symbols_taken, tokens_taken, brsymbols_taken = taken
            if symbol in symbols_taken:
                note("symbol", name, duplicate=True)
            elif token in tokens_taken:
                note("token", name, duplicate=True)
            elif name in brsymbols_taken:
                note("brsymbol", name, duplicate=True)
            else:
                symbols_taken.add(symbol)
                tokens_taken.add(token)
                brsymbols_taken.add(name)
                append(row)
        except (TypeError, AttributeError):
            # A value of an impossible type (a list, an object): skip the row, not the file.
            note("malformed row", repr(raw)[:40])

    report.input_rows = input_rows
    report.stored_rows = len(out)
    report.per_exchange = Counter(map(itemgetter(3), out))
    return out, report
