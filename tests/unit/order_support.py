"""Shared fixtures of the order and book tests: a small symbol table and a fake lookup.

Import the fixtures into a test module (``from .order_support import symbols``) to use them.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from broker.mstock import config
from broker.mstock.local.symbol_store import get_store, reset_stores
from broker.mstock.orders import reconcile
from broker.mstock.records import SymbolRecord
from broker.mstock.transport.ratelimit import Unlimited

FIXTURES = Path(__file__).parent.parent / "fixtures"

# symbol, brsymbol, name, exchange, brexchange, token, expiry, strike, lotsize, instrumenttype, tick_size
SYMBOL_ROWS: list[tuple] = [
    ("SBIN", "SBIN-EQ", "SBIN", "NSE", "NSE", "3045", "", 0.0, 1, "EQ", 0.05),
    ("ACC", "ACC-EQ", "ACC", "NSE", "NSE", "22", "", 0.0, 1, "EQ", 0.05),
    ("ACC", "ACC", "ACC", "BSE", "BSE", "500410", "", 0.0, 1, "EQ", 0.05),
    ("TCS", "TCS-EQ", "TCS", "NSE", "NSE", "11536", "", 0.0, 1, "EQ", 0.05),
    ("IDEA", "IDEA-EQ", "IDEA", "NSE", "NSE", "14366", "", 0.0, 1, "EQ", 0.01),
    ("MAHABANK", "MAHABANK-EQ", "MAHABANK", "NSE", "NSE", "11377", "", 0.0, 1, "EQ", 0.01),
    ("NIFTY", "NIFTY", "NIFTY 50", "NSE_INDEX", "NSE", "26000", "", 0.0, 1, "INDEX", 0.05),
    ("SENSEX", "SENSEX", "SENSEX", "BSE_INDEX", "BSE", "1", "", 0.0, 1, "INDEX", 0.01),
    ("NIFTY28NOV24FUT", "NIFTY24NOVFUT", "NIFTY", "NFO", "NFO", "35001", "28-NOV-24", 0.0, 25, "FUT", 0.1),
    ("NIFTY07NOV2424000CE", "NIFTY24N0724000CE", "NIFTY", "NFO", "NFO", "50374", "07-NOV-24", 24000.0, 25, "CE", 0.05),
    ("ACC28NOV242400CE", "ACC24NOV2400CE", "ACC", "NFO", "NFO", "75307", "28-NOV-24", 2400.0, 300, "CE", 0.05),
    ("ACC28NOV24FUT", "ACC24NOVFUT", "ACC", "NFO", "NFO", "35593", "28-NOV-24", 0.0, 300, "FUT", 0.05),
    ("VEDL28NOV24292.5CE", "VEDL24NOV292.5CE", "VEDL", "NFO", "NFO", "60001", "28-NOV-24", 292.5, 1150, "CE", 0.05),
    ("SENSEX23OCT2582700CE", "SENSEX25O2382700CE", "SENSEX", "BFO", "BFO", "877966", "23-OCT-25", 82700.0, 20, "CE", 0.05),
    # Currency futures are tagged NSE by mStock (spec 8.4) and share token numbers with
    # NSE equity (TCS is 11536 too): the trap of D5.
    ("USDINR29OCT25FUT", "USDINR25OCTFUT", "USDINR", "CDS", "NSE", "11536", "29-OCT-25", 0.0, 1, "FUT", 0.0025),
]


def record(symbol: str, exchange: str) -> SymbolRecord:
    for row in SYMBOL_ROWS:
        if row[0] == symbol and row[3] == exchange:
            return SymbolRecord(*row)
    raise KeyError((symbol, exchange))


@pytest.fixture
def symbols():
    """The host's standalone symbol store, filled with :data:`SYMBOL_ROWS`."""
    reset_stores()
    store = get_store(config.settings().database_url)
    store.replace_all(list(SYMBOL_ROWS))
    yield store
    reset_stores()


@pytest.fixture
def fast_reconcile(monkeypatch):
    """Reconciliation polls and looks orders up without sleeping."""
    monkeypatch.setattr(reconcile, "RECONCILE_DELAYS", (0.0, 0.0, 0.0))
    monkeypatch.setattr(reconcile, "_sleep", lambda seconds: None)
    monkeypatch.setattr(reconcile, "_detail_pace", Unlimited)


def load(name: str) -> Any:
    """A fixture file by full name (e.g. the golden ``orders.list__mixed.openalgo.json``)."""
    return json.loads((FIXTURES / name).read_text(encoding="utf-8"))


def order_row(**overrides: Any) -> dict[str, Any]:
    """An order-book row shaped like spec 4.7's sample (every value a string)."""
    row = {
        "variety": None, "ordertype": "LIMIT", "producttype": "INTRADAY", "duration": "DAY", "price": "570.00",
        "triggerprice": "0", "quantity": "10", "disclosedquantity": "0", "squareoff": "0", "stoploss": "0",
        "trailingstoploss": "0", "tradingsymbol": "SBIN", "transactiontype": "BUY", "exchange": "NSE",
        "symboltoken": "3045", "instrumenttype": "EQUITY", "strikeprice": "0", "optiontype": "XX",
        "expirydate": "2024-Nov-06", "lotsize": "", "cancelsize": "0", "averageprice": "0", "filledshares": "0",
        "unfilledshares": "0", "orderid": "1191241106101", "text": "CONFIRMED", "status": "Pending",
        "orderstatus": "Pending", "updatetime": "2024-Nov-06 12:42:18", "exchtime": "",
        "exchorderupdatetime": "2024-Nov-06 12:42:18", "fillid": "", "filltime": "", "parentorderid": "",
        "uniqueorderid": "", "exchangeorderid": "1000000000017285",
    }
    row.update(overrides)
    return row


def book(*rows: dict[str, Any]) -> dict[str, Any]:
    return {"status": "true", "message": "SUCCESS", "errorcode": "", "data": list(rows)}


def position_row(**overrides: Any) -> dict[str, Any]:
    """A position row shaped like spec 5.1's sample (every value a string)."""
    row = {
        "exchange": "NSE", "symboltoken": "3045", "producttype": "INTRADAY", "tradingsymbol": "",
        "symbolname": "SBIN", "instrumenttype": "EQUITY", "priceden": "", "pricenum": "", "genden": "",
        "gennum": "", "precision": "", "multiplier": "1", "boardlotsize": "", "buyqty": "0", "sellqty": "0",
        "buyamount": "0", "sellamount": "0", "symbolgroup": "", "strikeprice": "0", "optiontype": "XX",
        "expirydate": "", "lotsize": "1", "cfbuyqty": "0", "cfsellqty": "0", "cfbuyamount": "",
        "cfsellamount": "", "buyavgprice": "0", "sellavgprice": "0", "avgnetprice": "0", "netvalue": "0",
        "netqty": "0", "totalbuyvalue": "0", "totalsellvalue": "0", "cfbuyavgprice": "0", "cfsellavgprice": "0",
        "totalbuyavgprice": "", "totalsellavgprice": "", "netprice": "0",
    }
    row.update(overrides)
    return row


def positions(*rows: dict[str, Any]) -> dict[str, Any]:
    return {"status": "true", "message": "SUCCESS", "errorcode": "", "data": list(rows)}


PLACED = [{"status": "true", "message": "SUCCESS", "errorcode": "", "data": {"script": "SBIN-EQ", "orderid": "1191241106101", "uniqueorderid": ""}}]
