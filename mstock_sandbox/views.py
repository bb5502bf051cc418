"""Read-only views of the sandbox's state, for tools that check a client against it.

``mstock-openalgo verify`` and tests compare what a client reports (OpenAlgo's order book,
positions, quotes, ticks) with what the sandbox holds. These frozen records are copies
taken under the state lock: holding one never blocks the sandbox, and changing the
sandbox afterwards never changes it. Names are the master's (``SBIN-EQ`` on ``NSE``,
``NIFTY25NOVFUT`` on ``NFO``); prices are rupees; times are IST.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from .orders import FINAL_STATUSES, Order, Trade
from .portfolio import Holding, Position


@dataclass(frozen=True)
class OrderView:
    orderid: str
    tradingsymbol: str  # master name, as sent when placing (SBIN-EQ)
    token: str
    exchange: str  # master exch_seg (NSE, NFO, ...)
    side: str  # BUY / SELL
    ordertype: str  # MARKET / LIMIT / STOPLOSS_LIMIT / STOPLOSS_MARKET
    product: str  # DELIVERY / INTRADAY / CARRYFORWARD / MARGIN
    variety: str
    duration: str
    quantity: int
    filled: int
    cancelled: int
    pending: int
    price: float  # limit price (0 for market-like orders)
    trigger: float
    average_price: float
    status: str  # as the order book shows it (Pending, Traded, Rejected, ...)
    text: str  # the rejection reason for rejected orders
    ordertag: str
    placed: datetime
    updated: datetime

    @property
    def is_open(self) -> bool:
        return self.status not in FINAL_STATUSES and self.status != "Transit"


@dataclass(frozen=True)
class TradeView:
    trade_no: str
    orderid: str
    tradingsymbol: str
    token: str
    exchange: str
    side: str
    product: str
    quantity: int
    price: float
    time: datetime


@dataclass(frozen=True)
class PositionView:
    tradingsymbol: str
    token: str
    exchange: str
    product: str
    buy_quantity: int
    sell_quantity: int
    net_quantity: int
    buy_average: float
    sell_average: float
    realised_pnl: float  # on the quantity bought and sold today


@dataclass(frozen=True)
class HoldingView:
    tradingsymbol: str
    token: str
    exchange: str
    quantity: int
    average_price: float


def order_view(order: Order) -> OrderView:
    inst = order.inst
    return OrderView(
        orderid=order.orderid, tradingsymbol=inst.name, token=inst.token, exchange=inst.exch_seg,
        side=order.side, ordertype=order.ordertype, product=order.product, variety=order.variety,
        duration=order.duration, quantity=order.quantity, filled=order.filled, cancelled=order.cancelled,
        pending=order.pending_qty if order.is_open else 0, price=order.price, trigger=order.trigger,
        average_price=order.avg_price, status=order.status, text=order.text, ordertag=order.ordertag,
        placed=order.placed, updated=order.updated,
    )


def trade_view(trade: Trade) -> TradeView:
    order, inst = trade.order, trade.order.inst
    return TradeView(
        trade_no=trade.trade_no, orderid=order.orderid, tradingsymbol=inst.name, token=inst.token,
        exchange=inst.exch_seg, side=order.side, product=order.product, quantity=trade.quantity,
        price=trade.price, time=trade.time,
    )


def position_view(position: Position) -> PositionView:
    inst = position.inst
    return PositionView(
        tradingsymbol=inst.name, token=inst.token, exchange=inst.exch_seg, product=position.product,
        buy_quantity=position.buy_qty, sell_quantity=position.sell_qty, net_quantity=position.net_qty,
        buy_average=position.buy_avg, sell_average=position.sell_avg, realised_pnl=position.matched_pnl,
    )


def holding_view(holding: Holding) -> HoldingView:
    inst = holding.inst
    return HoldingView(
        tradingsymbol=inst.name, token=inst.token, exchange=inst.exch_seg,
        quantity=holding.quantity, average_price=holding.avg_price,
    )
