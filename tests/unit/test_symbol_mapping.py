"""Book rows -> OpenAlgo instruments, and OpenAlgo symbols -> rows, through the store."""

from __future__ import annotations

import pytest

from broker.mstock import host
from broker.mstock.database.master_contract_db import build_symtoken_rows
from broker.mstock.errors import UnknownSymbol, ValidationError
from broker.mstock.local.symbol_store import get_store
from broker.mstock.mapping.symbols import require_instrument, resolve_book_instrument


def ms(token, symbol, name, expiry="", strike="", lot="1", itype="EQ", seg="NSE", tick="0.05"):
    return {"token": token, "symbol": symbol, "name": name, "expiry": expiry, "strike": strike, "lotsize": lot,
            "instrumenttype": itype, "exch_seg": seg, "tick_size": tick}


MASTER = [
    ms("22", "ACC", "ACC-EQ"),
    ms("500410", "ACC", "ACC", seg="BSE"),
    ms("75307", "ACC", "ACC24NOV2400CE", "28Nov2024", "2400", "300", "OPTSTK", "NFO"),
    ms("35593", "ACC", "ACC24NOVFUT", "28Nov2024", "", "300", "FUTSTK", "NFO"),
    ms("50374", "NIFTY", "NIFTY24N0724000CE", "07Nov2024", "24000", "25", "OPTIDX", "NFO"),
    # a currency contract whose token equals an NSE equity token (D5)
    ms("22", "USDINR", "USDINR24NOVFUT", "27Nov2024", "", "1", "FUTCUR", "NSE", "0.0025"),
    ms("877966", "SENSEX", "SENSEX25O2382700CE", "23Oct2025", "82700", "20", "OPTIDX", "BFO"),
]


@pytest.fixture
def lookup(monkeypatch, tmp_path):
    rows, _ = build_symtoken_rows(MASTER)
    get_store(f"sqlite:///{tmp_path / 'symbols.db'}").replace_all(rows)
    return host.symbols()


@pytest.mark.parametrize(
    "token, exchange, itype, expected",
    [
        # order book (spec 4.7): back-office tradingsymbol ignored, F&O reported under NSE
        ("75307", "NSE", "OPTSTK", ("ACC28NOV242400CE", "NFO")),
        ("35593", "NSE", "FUTSTK", ("ACC28NOV24FUT", "NFO")),
        # position (spec 5.1): empty tradingsymbol
        ("50374", "NSE", "OPTIDX", ("NIFTY07NOV2424000CE", "NFO")),
        ("22", "NSE", "EQUITY", ("ACC", "NSE")),
        ("22", "NSE", "FUTCUR", ("USDINR27NOV24FUT", "CDS")),
        ("877966", "BSE", "OPTIDX", ("SENSEX23OCT2582700CE", "BFO")),
        ("500410", "BSE", "EQUITY", ("ACC", "BSE")),
        # holdings send no exchange: NSE first, then BSE
        ("22", None, None, ("ACC", "NSE")),
        ("500410", "", "", ("ACC", "BSE")),
    ],
)
def test_book_rows_resolve_to_the_openalgo_instrument(lookup, token, exchange, itype, expected):
    record = resolve_book_instrument(token, exchange, itype, lookup)
    assert (record.symbol, record.exchange) == expected


def test_an_unknown_token_resolves_to_none(lookup):
    assert resolve_book_instrument("999999", "NSE", "OPTIDX", lookup) is None
    assert resolve_book_instrument("", "NSE", "EQUITY", lookup) is None


def test_a_derivative_without_exchange_is_not_guessed(lookup):
    with pytest.raises(ValueError):
        resolve_book_instrument("75307", None, "OPTSTK", lookup)


def test_an_unknown_instrument_type_raises(lookup):
    with pytest.raises(ValueError, match="WARRANT"):
        resolve_book_instrument("22", "NSE", "WARRANT", lookup)


def test_require_instrument_returns_the_row(lookup):
    record = require_instrument("ACC28NOV242400CE", "NFO", lookup)
    assert (record.brsymbol, record.token, record.brexchange, record.lotsize) == ("ACC24NOV2400CE", "75307", "NFO", 300)


def test_require_instrument_raises_for_an_unknown_symbol(lookup):
    with pytest.raises(UnknownSymbol, match="unknown symbol SBINX on NSE"):
        require_instrument("SBINX", "NSE", lookup)


def test_require_instrument_raises_for_an_unsupported_exchange(lookup):
    with pytest.raises(ValidationError, match="NCDEX"):
        require_instrument("ACC", "NCDEX", lookup)
