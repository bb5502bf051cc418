"""Shared by the streaming tests: a tiny fake market, symbols and a local feed server.

The fake market has the fields of ``mstock_sandbox.market.MarketSnapshot``
and answers ``snapshot(token, exchange_type)`` like the
sandbox's market: ``None`` for a token that is not on that segment.
"""

from __future__ import annotations

import dataclasses
import threading
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone

import pytest

from broker.mstock.records import SymbolRecord
from broker.mstock.streaming.feed import FeedOptions
from mstock_sandbox.feed import FeedServer

IST = timezone(timedelta(hours=5, minutes=30), "IST")
MOMENT = datetime(2026, 9, 1, 10, 15, 30, tzinfo=IST)
MOMENT_MS = int(MOMENT.timestamp() * 1000)
FEED_TOKEN_OK = "feed-token-day-1"

FAST = FeedOptions(
    batch_window=0.02,
    connect_timeout=2.0,
    recv_poll=0.05,
    ping_interval=0.5,
    silence_timeout=2.0,
    backoff_initial=0.01,
    backoff_max=0.05,
    stable_after=5.0,
    auth_recheck_interval=0.02,
    join_timeout=2.0,
)


@dataclass
class Snap:
    token: str
    exchange_type: int
    ltp: float = 812.35
    open: float = 800.0
    high: float = 820.5
    low: float = 795.25
    close: float = 805.0
    volume: int = 1_234_567
    last_qty: int = 15
    avg_price: float = 810.45
    total_buy_qty: float = 150_000.0
    total_sell_qty: float = 175_000.0
    oi: int = 0
    oi_change_pct: float = 0.0
    upper_circuit: float = 885.5
    lower_circuit: float = 724.5
    high_52w: float = 912.0
    low_52w: float = 600.1
    exchange_time: datetime = MOMENT
    last_trade_time: datetime = MOMENT - timedelta(seconds=2)
    bids: list = field(default_factory=lambda: [(812.3, 100, 3), (812.25, 250, 5), (812.2, 75, 1), (812.15, 10, 1), (812.1, 500, 9)])
    asks: list = field(default_factory=lambda: [(812.4, 60, 2), (812.45, 40, 1), (812.5, 300, 4), (812.55, 20, 1), (812.6, 1000, 12)])


class FakeMarket:
    def __init__(self, snaps: list[Snap] | None = None) -> None:
        self.lock = threading.Lock()
        self.snaps = {(s.exchange_type, s.token): s for s in (snaps or default_snaps())}

    def snapshot(self, token: str, exchange: int | None = None):
        with self.lock:
            for (exchange_type, tok), snap in self.snaps.items():
                if tok == token and (exchange is None or exchange == exchange_type):
                    return dataclasses.replace(snap)
        return None

    def set_ltp(self, token: str, price: float) -> None:
        with self.lock:
            for (_, tok), snap in self.snaps.items():
                if tok == token:
                    snap.ltp = price


def default_snaps() -> list[Snap]:
    return [
        Snap("3045", 1),  # SBIN
        Snap("2885", 1, ltp=2890.1, close=2900.0),  # RELIANCE
        Snap("26000", 1, ltp=24012.35, close=23950.0, volume=0, last_qty=0),  # NIFTY index
        Snap("35001", 2, ltp=24100.0, close=24050.0, oi=1_250_000, oi_change_pct=-2.75),  # NIFTY future
        Snap("500410", 3, ltp=2150.0, close=2140.0),  # ACC on BSE
        Snap("1594", 13, ltp=88.13, close=88.0),  # USDINR future, currency segment (D11)
    ]


def _rec(symbol, exchange, brexchange, token, itype="EQ") -> SymbolRecord:
    return SymbolRecord(symbol, symbol, symbol, exchange, brexchange, token, "", 0.0, 1, itype, 0.05)


RECORDS = (
    _rec("SBIN", "NSE", "NSE", "3045"),
    _rec("RELIANCE", "NSE", "NSE", "2885"),
    _rec("NIFTY", "NSE_INDEX", "NSE", "26000", "INDEX"),
    _rec("NIFTY30SEP26FUT", "NFO", "NFO", "35001", "FUT"),
    _rec("ACC", "BSE", "BSE", "500410"),
    _rec("USDINR29SEP26FUT", "CDS", "NSE", "1594", "FUT"),  # brexchange NSE: must still stream on 13
    _rec("USDINR29SEP26FUT", "BCD", "BSE", "1150", "FUT"),
    _rec("CRUDEOIL19SEP26FUT", "MCX", "MCX", "4242", "FUT"),
)


class FakeSymbols:
    def __init__(self) -> None:
        self._by_symbol = {(r.symbol, r.exchange): r for r in RECORDS}

    def get_token(self, symbol: str, exchange: str) -> str | None:
        record = self._by_symbol.get((symbol, exchange))
        return None if record is None else record.token


class TokenBox:
    """A token provider whose answer a test can change; counts its calls."""

    def __init__(self, token: str | None = FEED_TOKEN_OK) -> None:
        self.token = token
        self.calls = 0

    def __call__(self) -> str | None:
        self.calls += 1
        return self.token


@pytest.fixture
def market() -> FakeMarket:
    return FakeMarket()


@pytest.fixture
def accepted_tokens() -> set[str]:
    return {FEED_TOKEN_OK, "feed-token-day-2"}


@pytest.fixture
def feed_server(market, accepted_tokens):
    server = FeedServer(
        market,
        publish_interval=None,
        check_credentials=lambda api_key, token: bool(api_key) and token in accepted_tokens,
        login_timeout=2.0,
    ).start()
    yield server
    server.stop()
