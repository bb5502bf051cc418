"""The sandbox's whole world in one object: instruments, market, sessions, orders, money.

One re-entrant lock guards the market, the OMS and the portfolio together, because a
price change (a test's ``set_ltp``, the feed's ``tick``) fills resting orders and moves
positions and funds in the same breath. :meth:`SandboxState.reset` returns everything to
the start of the day (tests call it between cases); the objects themselves survive, so
the feed server keeps the same :class:`~.market.Market`.

Read-only introspection (copies, see :mod:`.views`): :meth:`SandboxState.orders`,
:meth:`~SandboxState.order`, :meth:`~SandboxState.trades`, :meth:`~SandboxState.positions`,
:meth:`~SandboxState.holdings`, :meth:`~SandboxState.funds`, :meth:`~SandboxState.ltp`,
:meth:`~SandboxState.quote`.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from .clock import make_clock
from .config import SandboxConfig
from .instruments import InstrumentBook
from .market import Market, MarketSnapshot
from .oms import OrderManager
from .orders import Order, Trade
from .portfolio import Holding, Portfolio
from .pricing import PriceModel
from .ratelimit import RateLimits
from .rows import fill_row, order_book_row, trade_book_row
from .sessions import SessionManager
from .views import HoldingView, OrderView, PositionView, TradeView, holding_view, order_view, position_view, trade_view

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
        self.book = InstrumentBook(self.rows, index_spots=config.index_spots)
        self._master_bytes: bytes | None = None
        self.sessions = SessionManager(self.account, config, self.clock)
        self.rate_limits = RateLimits(enabled=config.enforce_rate_limits, data_window=config.rate_limit_data_window)
        self.model = self._new_model()
        self.market = Market(
            self.book, self.model, clock=self.clock, always_open=config.always_open,
            seed=config.market_seed, lock=self.lock,
        )
        self.portfolio = Portfolio(self.account.opening_balance, self._opening_holdings())
        self.oms = OrderManager(
            self.book, self.market, self.portfolio,
            client_code=self.account.client_code, clock=self.clock, lock=self.lock,
            partial_fill_status=config.partial_fill_status, reject_rules=tuple(config.reject_rules),
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
        """``listener(kind, row)`` after every OMS change, in order, under the state lock.

        kind "order": row is the order-book row exactly as ``GET /orders`` shows it now;
        kind "trade": the same row plus the fill's ``fillid``, ``filltime``, ``fillsize``
        and ``fillprice`` (spec 11.4). A listener must not block (the feed queues).
        """
        self._update_listeners.append(listener)

    def _publish_order_update(self, kind: str, order: Order, trade: Trade | None) -> None:
        if not self._update_listeners:
            return
        echo = self.config.ordertag_echo
        row = fill_row(order, trade, ordertag=echo) if trade is not None else order_book_row(order, ordertag=echo)
        for listener in list(self._update_listeners):
            listener(kind, row)

    # ------------------------------------------------------------------ read-only views

    def orders(self) -> list[OrderView]:
        """Every order of the day, oldest first."""
        with self.lock:
            return [order_view(o) for o in self.oms.orders.values()]

    def order(self, orderid: str) -> OrderView | None:
        with self.lock:
            found = self.oms.orders.get(str(orderid).strip())
            return order_view(found) if found is not None else None

    def trades(self) -> list[TradeView]:
        """Every fill of the day, oldest first."""
        with self.lock:
            return [trade_view(t) for t in self.oms.trades]

    def positions(self) -> list[PositionView]:
        with self.lock:
            return [position_view(p) for p in self.portfolio.positions.values()]

    def holdings(self) -> list[HoldingView]:
        with self.lock:
            return [holding_view(h) for h in self.portfolio.holdings.values()]

    def ltp(self, token: str, exchange: str | int | None = None) -> float:
        """The last traded price of ``token`` (on ``exchange``: master name or feed type)."""
        snap = self.quote(token, exchange)
        if snap is None:
            raise KeyError(f"unknown instrument token {token!r} ({exchange or 'any exchange'})")
        return snap.ltp

    def quote(self, token: str, exchange: str | int | None = None) -> MarketSnapshot | None:
        """A copy of everything the market shows for ``token`` now (None if unknown)."""
        return self.market.snapshot(token, exchange)

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
