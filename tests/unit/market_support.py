"""Shared by the market-data and margin unit tests: a tiny in-memory symbol table.

The market modules take the symbol lookup as an argument, so these tests need neither the
SQLite store nor a master download. Rows follow spec 8.4/8.5 and ``mapping/exchanges.py``:
``brexchange`` is what quote/historical/margin requests carry (NSE for NSE_INDEX and for
currency contracts, BSE for BSE_INDEX).
"""

from __future__ import annotations

from broker.mstock.records import SymbolRecord


def _rec(symbol, brsymbol, name, exchange, brexchange, token, expiry="", strike=0.0, lot=1, itype="EQ", tick=0.05):
    return SymbolRecord(symbol, brsymbol, name, exchange, brexchange, token, expiry, strike, lot, itype, tick)


RECORDS: tuple[SymbolRecord, ...] = (
    _rec("SBIN", "SBIN-EQ", "SBIN", "NSE", "NSE", "3045"),
    _rec("RELIANCE", "RELIANCE-EQ", "RELIANCE", "NSE", "NSE", "2885"),
    _rec("INFY", "INFY-EQ", "INFY", "NSE", "NSE", "1594"),
    _rec("ACC", "ACC", "ACC", "BSE", "BSE", "500410"),
    _rec("NIFTY", "NIFTY", "NIFTY", "NSE_INDEX", "NSE", "26000", itype="INDEX"),
    _rec("SENSEX", "SENSEX", "SENSEX", "BSE_INDEX", "BSE", "1", itype="INDEX"),
    _rec("NIFTY30JAN25FUT", "NIFTY25JANFUT", "NIFTY", "NFO", "NFO", "35001", "30-JAN-25", 0.0, 75, "FUT", 0.1),
    _rec("NIFTY30JAN2524000CE", "NIFTY25JAN24000CE", "NIFTY", "NFO", "NFO", "35010", "30-JAN-25", 24000.0, 75, "CE"),
    _rec("SENSEX23JAN2582700CE", "SENSEX2512382700CE", "SENSEX", "BFO", "BFO", "877966", "23-JAN-25", 82700.0, 20, "CE"),
    # Currency contracts are tagged NSE/BSE by mStock (spec 8.4). Token 1594 deliberately
    # equals INFY's NSE equity token: the reply could not tell them apart in one call.
    _rec("USDINR29JAN25FUT", "USDINR25JANFUT", "USDINR", "CDS", "NSE", "1594", "29-JAN-25", 0.0, 1, "FUT", 0.0025),
    _rec("USDINR29JAN2588.25CE", "USDINR25JAN88.25CE", "USDINR", "CDS", "NSE", "8825", "29-JAN-25", 88.25, 1, "CE", 0.0025),
    _rec("USDINR29JAN25FUT", "USDINR25JANFUT", "USDINR", "BCD", "BSE", "1150", "29-JAN-25", 0.0, 1, "FUT", 0.0025),
    _rec("CRUDEOIL19FEB25FUT", "CRUDEOIL25FEBFUT", "CRUDEOIL", "MCX", "MCX", "4242", "19-FEB-25", 0.0, 100, "FUT", 1.0),
)


class FakeSymbols:
    """The ``SymbolLookup`` protocol over :data:`RECORDS` (or any records given)."""

    def __init__(self, records=RECORDS) -> None:
        self._by_symbol = {(r.symbol, r.exchange): r for r in records}
        self._by_token = {(r.token, r.exchange): r for r in records}

    def get_symbol_info(self, symbol, exchange):
        return self._by_symbol.get((symbol, exchange))

    def get_record_by_token(self, token, exchange):
        return self._by_token.get((str(token), exchange))

    def get_token(self, symbol, exchange):
        record = self.get_symbol_info(symbol, exchange)
        return None if record is None else record.token

    def get_br_symbol(self, symbol, exchange):
        record = self.get_symbol_info(symbol, exchange)
        return None if record is None else record.brsymbol

    def get_brexchange(self, symbol, exchange):
        record = self.get_symbol_info(symbol, exchange)
        return None if record is None else record.brexchange

    def get_symbol(self, token, exchange):
        record = self.get_record_by_token(token, exchange)
        return None if record is None else record.symbol

    def get_oa_symbol(self, brsymbol, exchange):
        return next((r.symbol for r in self._by_symbol.values() if r.brsymbol == brsymbol and r.exchange == exchange), None)

    def search(self, query, exchange=None, limit=50):
        return [r for r in self._by_symbol.values() if query.upper() in r.symbol][:limit]


def record(symbol: str, exchange: str) -> SymbolRecord:
    found = FakeSymbols().get_symbol_info(symbol, exchange)
    assert found is not None, (symbol, exchange)
    return found
