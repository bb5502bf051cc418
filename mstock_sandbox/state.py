"""The sandbox's whole world in one object: instruments, market, sessions, orders, money.

One re-entrant lock guards the market, the OMS and the portfolio together, because a
price change (a test's ``set_ltp``, the feed's ``tick``) fills resting orders and moves
positions and funds in the same breath. :meth:`SandboxState.reset` returns everything to
the start of the day (tests call it between cases); the objects themselves survive, so
the feed server keeps the same :class:`~.market.Market`.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from .clock import make_clock
from .config import SandboxConfig
from .instruments import InstrumentBook
from .market import Market
from .oms import OrderManager
from .orders import Order, Trade
from .portfolio import Holding, Portfolio
from .pricing import PriceModel
from .ratelimit import RateLimits
from .rows import order_book_row, trade_book_row
from .sessions import SessionManager

OrderUpdateListener = Callable[[str, dict[str, Any]], None]


def load_master(config: SandboxConfig, today) -> list[Mapping[str, str]]:
    if config.master_rows is not None:
        return list(config.master_rows)
    from .master import generate_master  # the generator shared with the tests and benchmarks

    return generate_master(config.master_size, seed=config.master_seed, today=today)


class SandboxState:
    def __init__(self, config: SandboxConfig, rows: Sequence[Mapping[str, str]] | None = None) -> None:
        self.config = config
        self.account = config.account
        self.clock = make_clock(config.clock)
        self.lock = threading.RLock()
        self.rows = list(rows) if rows is not None else load_master(config, self.clock().date())
        self.book = InstrumentBook(self.rows)
        self._master_bytes: bytes | None = None
        self.sessions = SessionManager(self.account, config, self.clock)
        self.rate_limits = RateLimits(enabled=config.enforce_rate_limits, data_window=config.data_api_window)
        self.model = self._new_model()
        self.market = Market(
            self.book, self.model, clock=self.clock, always_open=config.always_open,
            seed=config.market_seed, lock=self.lock,
        )
        self.portfolio = Portfolio(self.account.opening_balance, self._opening_holdings())
        self.oms = OrderManager(
            self.book, self.market, self.portfolio,
            client_code=self.account.client_code, clock=self.clock, lock=self.lock,
        )
        self._update_listeners: list[OrderUpdateListener] = []
        self.oms.add_listener(self._publish_order_update)

    def _new_model(self) -> PriceModel:
        return PriceModel(self.book, seed=self.config.master_seed, today=self.clock().date())

    def _opening_holdings(self) -> list[Holding]:
        holdings = []
        for name, (quantity, average) in self.account.holdings.items():
            inst = self.book.find_by_name(name)
            if inst is not None:
                holdings.append(Holding(inst, int(quantity), float(average)))
        return holdings

    # ------------------------------------------------------------------ lifecycle

    def reset(self) -> None:
        """Back to the start of the day: no sessions, orders, positions, limits or moves."""
        with self.lock:
            self.sessions.reset()
            self.rate_limits.reset()
            self.rate_limits.enabled = self.config.enforce_rate_limits
            self.model = self._new_model()
            self.market.model = self.model
            self.market.reset()
            fresh = Portfolio(self.account.opening_balance, self._opening_holdings())
            self.portfolio = fresh
            self.oms.portfolio = fresh
            self.oms.reset()

    def master_bytes(self) -> bytes:
        """The scrip master as served: a bare JSON array (spec 8.4), serialised once."""
        with self.lock:
            if self._master_bytes is None:
                self._master_bytes = json.dumps(self.rows, separators=(",", ":")).encode()
            return self._master_bytes

    # ------------------------------------------------------------------ feed hooks

    def check_feed_credentials(self, api_key: str, access_token: str) -> bool:
        return self.sessions.check_feed_credentials(api_key, access_token)

    def add_order_update_listener(self, listener: OrderUpdateListener) -> None:
        """``listener(kind, row)``: kind "order" or "trade", row an order-book row (spec 11.4)."""
        self._update_listeners.append(listener)

    def _publish_order_update(self, kind: str, order: Order, trade: Trade | None) -> None:
        if not self._update_listeners:
            return
        row = order_book_row(order)
        if trade is not None:
            row.update(fillid=trade.trade_no, filltime=row["filltime"], averageprice=str(trade.price))
        for listener in list(self._update_listeners):
            listener(kind, row)

    # ------------------------------------------------------------------ money views

    def funds(self) -> dict[str, float]:
        """Available, used and unrealised figures (the fund summary's inputs)."""
        with self.lock:
            exposures = self.oms.open_exposures()
            used = self.portfolio.used_margin(exposures)
            available = self.portfolio.available(exposures)
            unrealised = self.portfolio.unrealised(self.market.ltp)
            return {"available": available, "used": used, "unrealised": unrealised}

    def trade_book(self) -> list[dict[str, Any]]:
        with self.lock:
            trades = list(reversed(self.oms.trades))
            return [trade_book_row(t, i, self.account.client_code) for i, t in enumerate(trades, start=1)]
