"""The order-management system: place, modify, cancel, match, and the RMS in front of it.

Lifecycle (spec 4.3, 4.8): checks -> order number allocated -> RMS (reject rules, lot
size, delivery cover, funds; an RMS rejection answers HTTP 200 ``status:"false"`` and the
order shows as Rejected) -> exchange (reject rules, tick and price band; a rejection there
is only visible in the book) -> open ("Pending", stop orders "Trigger Pending") ->
"Traded" / "Cancelled". Market orders fill at the LTP; limit orders fill when marketable
(at the LTP when placed, at their limit when the market comes to them); stops trigger
when the LTP crosses the trigger and then behave as market or limit orders ("O-Pending"
while resting). Modified open orders show "O-Modified"; cancel-all leaves "O-Cancelled".

Price moves fill whole orders. Tests drive partial fills and triggers deterministically
with :meth:`OrderManager.fill` and :meth:`OrderManager.trigger`, and rejections with
:class:`~.config.RejectRule`.

Every state change is announced to the listeners, one call per change, in order:
("order", order, None) after each status change (open, triggered, partly or fully
filled, modified, cancelled, rejected) and ("trade", order, trade) after each fill's
order announcement. Every method runs under the shared state lock.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from .clock import Clock
from .config import RejectRule
from .envelopes import ApiError, bad_input, fail_error_type, fail_str
from .instruments import Instrument, InstrumentBook
from .market import Market, MarketSnapshot
from .orders import (
    CODE_EXCHANGE_MODIFY,
    CODE_FUNDS,
    CODE_LOT_SIZE,
    CODE_NO_HOLDINGS,
    CODE_NOT_OPEN,
    EXCH_PRICE_BAND,
    EXCH_TICK,
    ORDER_CLOSED,
    ORDER_EXCHANGES,
    INVALID_PRODUCT,
    PRODUCTS,
    RULE_EXCHANGE_REASON,
    RULE_RMS_REASON,
    IdSource,
    Order,
    Trade,
    as_int,
    as_price,
    as_text,
    check_ordertag,
    check_prices,
    check_vocabulary,
    instrument_error,
    on_tick,
    require_fields,
    rms_message,
)
from .portfolio import OpenExposure, Portfolio, Position

OrderListener = Callable[[str, Order, "Trade | None"], None]

PLACE_FIELDS = ("variety", "tradingsymbol", "symboltoken", "exchange", "transactiontype", "ordertype",
                "quantity", "producttype", "duration", "price")


class OrderManager:
    def __init__(
        self,
        book: InstrumentBook,
        market: Market,
        portfolio: Portfolio,
        *,
        client_code: str,
        clock: Clock,
        lock: threading.RLock,
        partial_fill_status: str = "",
        reject_rules: tuple[RejectRule, ...] = (),
    ) -> None:
        self.book = book
        self.market = market
        self.portfolio = portfolio
        self.client_code = client_code
        self._clock = clock
        self._lock = lock
        self.partial_fill_status = partial_fill_status
        self.ids = IdSource()
        self.orders: dict[str, Order] = {}
        self.trades: list[Trade] = []
        self._listeners: list[OrderListener] = []
        self._configured_rules = tuple(reject_rules)
        self._rules: list[list] = [[rule, rule.times] for rule in self._configured_rules]  # [rule, remaining]
        market.add_listener(self._on_price)

    def add_listener(self, listener: OrderListener) -> None:
        """``listener(kind, order, trade)`` with kind "order" or "trade" after every change."""
        self._listeners.append(listener)

    # ------------------------------------------------------------------ queries

    def open_exposures(self, exclude: Order | None = None) -> list[OpenExposure]:
        return [
            OpenExposure(o.inst, o.product, o.side, o.pending_qty, self._reference_price(o))
            for o in self.orders.values()
            if o.is_open and o is not exclude
        ]

    def available_funds(self, exclude: Order | None = None) -> float:
        return self.portfolio.available(self.open_exposures(exclude))

    def _reference_price(self, order: Order) -> float:
        if order.ordertype in ("LIMIT", "STOPLOSS_LIMIT"):
            return order.price
        if order.ordertype == "STOPLOSS_MARKET" and not order.triggered:
            return order.trigger
        return self.market.ltp(order.inst)

    # ------------------------------------------------------------------ place

    def place(self, body: Any) -> Order:
        """Validate and accept one order; raise :class:`ApiError` for answers other than success."""
        with self._lock:
            body = require_fields(body, PLACE_FIELDS)
            variety, side = as_text(body, "variety").upper(), as_text(body, "transactiontype").upper()
            ordertype, product = as_text(body, "ordertype").upper(), as_text(body, "producttype").upper()
            duration = as_text(body, "duration").upper()
            check_vocabulary(variety, side, ordertype, product, duration)
            quantity = as_int(as_text(body, "quantity"), "quantity")
            price = as_price(as_text(body, "price"), "price")
            trigger = as_price(as_text(body, "triggerprice"), "trigger price")
            check_prices(ordertype, side, price, trigger)
            inst = self._instrument(as_text(body, "exchange").upper(), as_text(body, "symboltoken"),
                                    as_text(body, "tradingsymbol"))
            now = self._clock()
            order = Order(
                orderid=self.ids.order_id(inst, now),
                inst=inst, variety=variety, side=side, ordertype=ordertype, product=product,
                duration=duration, quantity=quantity,
                price=price if ordertype in ("LIMIT", "STOPLOSS_LIMIT") else 0.0,
                trigger=trigger if ordertype in ("STOPLOSS_LIMIT", "STOPLOSS_MARKET") else 0.0,
                disclosed=int(as_price(as_text(body, "disclosedquantity"), "disclosed quantity")),
                ordertag=check_ordertag(as_text(body, "ordertag")),
                placed=now, updated=now,
            )
            self.orders[order.orderid] = order
            self._rms_check(order)
            if self._exchange_check(order):
                self._open(order)
            return order

    def _instrument(self, exchange: str, token: str, tradingsymbol: str) -> Instrument:
        if exchange not in ORDER_EXCHANGES:
            raise bad_input(f"Invalid exchange {exchange}.")  # [INVENTED]
        inst = self.book.get(exchange, token)
        if inst is None:
            raise instrument_error(f"Invalid scrip: token {token} is not traded on {exchange}.")  # [INVENTED]
        if inst.is_index:
            raise instrument_error(f"Orders are not allowed in index {inst.name}.")  # [INVENTED]
        if tradingsymbol != inst.name:
            raise instrument_error(
                f"Trading symbol {tradingsymbol} does not match token {token} ({inst.name}) on {exchange}."
            )  # [INVENTED]
        return inst

    def _rms_reject(self, order: Order, reason: str, code: str, ref_price: float) -> None:
        message = rms_message(order, self.client_code, reason, ref_price)
        order.status, order.text = "Rejected", message
        self._notify("order", order)
        raise ApiError(fail_str(message, code, outcome=f"{code} RMS rejected {order.orderid}"))

    # ------------------------------------------------------------------ reject rules

    def add_reject_rule(self, rule: RejectRule) -> None:
        """Reject matching orders from now on (until :meth:`reset`)."""
        with self._lock:
            self._rules.append([rule, rule.times])

    def _rule_for(self, order: Order, stage: str) -> RejectRule | None:
        for entry in self._rules:
            rule, remaining = entry
            if rule.stage != stage or remaining == 0 or not self._matches(rule, order):
                continue
            if remaining is not None:
                entry[1] = remaining - 1
            return rule
        return None

    @staticmethod
    def _matches(rule: RejectRule, order: Order) -> bool:
        checks = (
            (rule.symbol, order.inst.name),
            (rule.token, order.inst.token),
            (None if rule.side is None else rule.side.upper(), order.side),
            (rule.quantity, order.quantity),
            (rule.ordertag, order.ordertag),
        )
        if any(want is not None and want != got for want, got in checks):
            return False
        return rule.price is None or abs(rule.price - order.price) < 1e-9

    # ------------------------------------------------------------------ RMS and exchange

    def _rms_check(self, order: Order) -> None:
        inst = order.inst
        ref = self._reference_price(order)
        rule = self._rule_for(order, "rms")
        if rule is not None:
            self._rms_reject(order, rule.reason or RULE_RMS_REASON, rule.code, ref)
        if order.quantity % inst.lotsize:
            self._rms_reject(order, f"QUANTITY SHOULD BE MULTIPLE OF LOT SIZE {inst.lotsize}", CODE_LOT_SIZE, ref)
        if order.product == "DELIVERY" and order.side == "SELL" and not inst.is_derivative:
            pending = sum(o.pending_qty for o in self.orders.values()
                          if o.is_open and o is not order and o.inst == inst and o.product == "DELIVERY" and o.side == "SELL")
            sellable = self.portfolio.sellable_delivery(inst, pending)
            if order.quantity > sellable:
                self._rms_reject(order, f"HOLDING QUANTITY INSUFFICIENT,AVAILABLE QUANTITY={max(sellable, 0)}",
                                 CODE_NO_HOLDINGS, ref)
        self._funds_check(order, ref)

    def _funds_check(self, order: Order, ref: float, exclude: Order | None = None) -> None:
        others = self.open_exposures(exclude=exclude or order)
        available = self.portfolio.available(others)
        pending_same = sum(e.quantity for e in others
                           if e.inst == order.inst and e.product == order.product and e.side == order.side)
        needed = self.portfolio.order_margin(
            OpenExposure(order.inst, order.product, order.side, order.pending_qty, ref), pending_same
        )
        if needed > available + 1e-9:
            reason = (f"FUND LIMIT INSUFFICIENT,AVAILABLE FUND={max(available, 0):.2f},"
                      f"ADDITIONAL REQUIRED FUND={needed - max(available, 0):.2f},CALCULATED MARGIN FOR ORDER={needed:.2f}")
            if exclude is not None:  # a modification: the order itself stays as it was
                raise ApiError(fail_str(rms_message(order, self.client_code, reason, ref), CODE_FUNDS))
            self._rms_reject(order, reason, CODE_FUNDS, ref)

    def _exchange_problem(self, order: Order, price: float, trigger: float) -> str | None:
        inst = order.inst
        for value in (price, trigger):
            if value and not on_tick(value, inst.tick):
                return EXCH_TICK
        snap = self.market.snapshot_of(inst)
        if price and not snap.lower_circuit <= price <= snap.upper_circuit:
            return EXCH_PRICE_BAND
        return None

    def _exchange_check(self, order: Order) -> bool:
        """Exchange-level rejection: success to the caller, "Rejected" in the book (spec 4.3)."""
        order.exchange_orderid = self.ids.exchange_order_id(order.inst)
        order.exchange_time = order.updated
        rule = self._rule_for(order, "exchange")
        problem = (rule.reason or RULE_EXCHANGE_REASON) if rule is not None else None
        problem = problem or self._exchange_problem(order, order.price, order.trigger)
        if problem:
            order.status, order.text = "Rejected", problem
            self._notify("order", order)
            return False
        return True

    def _open(self, order: Order) -> None:
        order.status = "Trigger Pending" if order.is_stop else "Pending"
        order.text = "CONFIRMED"
        self._notify("order", order)
        self._match(order, self.market.snapshot_of(order.inst), immediate=True)
        if order.is_open and order.duration == "IOC":
            order.cancelled = order.pending_qty
            order.status, order.text = "Cancelled", "IOC order cancelled: not matched immediately"  # [INVENTED]
            order.updated = self._clock()
            self._notify("order", order)

    # ------------------------------------------------------------------ matching

    def _on_price(self, inst: Instrument, snap: MarketSnapshot) -> None:
        for order in list(self.orders.values()):
            if order.is_open and order.inst == inst:
                self._match(order, snap, immediate=False)

    def _match(self, order: Order, snap: MarketSnapshot, *, immediate: bool) -> None:
        ltp = snap.ltp
        if order.status == "Trigger Pending":
            crossed = ltp >= order.trigger if order.side == "BUY" else ltp <= order.trigger
            if not crossed:
                return
            self._trigger(order)
            immediate = True
        if order.acts_as_market:
            self._fill(order, ltp)
            return
        marketable = ltp <= order.price if order.side == "BUY" else ltp >= order.price
        if marketable:
            self._fill(order, ltp if immediate else order.price)

    def _trigger(self, order: Order) -> None:
        order.triggered = True
        order.status = "O-Pending"
        order.updated = self._clock()
        self._notify("order", order)

    def _fill(self, order: Order, price: float, quantity: int | None = None) -> Trade:
        now = self._clock()
        quantity = order.pending_qty if quantity is None else min(quantity, order.pending_qty)
        trade = Trade(self.ids.trade_no(), order, quantity, price, now)
        self.trades.append(trade)
        order.avg_price = (order.avg_price * order.filled + price * quantity) / (order.filled + quantity)
        order.filled += quantity
        if order.pending_qty == 0:
            order.status, order.text = "Traded", ""
        elif self.partial_fill_status:
            order.status = self.partial_fill_status
        order.fill_id, order.fill_time, order.updated = trade.trade_no, now, now
        self.portfolio.apply_fill(order.inst, order.product, order.side, quantity, price)
        self._notify("order", order)
        self._notify("trade", order, trade)
        return trade

    # ------------------------------------------------------------------ test levers

    def fill(self, orderid: str, quantity: int | None = None, price: float | None = None) -> Trade:
        """Fill an open order now, wholly or ``quantity`` of it, at ``price``.

        ``price`` defaults to the order's limit price (market and stop-market orders: the
        LTP). A stop order waiting for its trigger is triggered first. The market itself
        does not move.
        """
        with self._lock:
            order = self.orders.get(str(orderid).strip())
            if order is None or not order.is_open:
                state = "unknown" if order is None else f"not open ({order.status})"
                raise ValueError(f"order {orderid} is {state}")
            if quantity is not None and not 0 < int(quantity) <= order.pending_qty:
                raise ValueError(f"fill quantity must be 1..{order.pending_qty} for order {orderid}")
            if order.status == "Trigger Pending":
                self._trigger(order)
            if price is None:
                price = self.market.ltp(order.inst) if order.acts_as_market else order.price
            return self._fill(order, float(price), None if quantity is None else int(quantity))

    def trigger(self, orderid: str) -> Order:
        """Trigger a stop order now, whatever the LTP: it then rests or fills like its type at the LTP."""
        with self._lock:
            order = self.orders.get(str(orderid).strip())
            if order is None or order.status != "Trigger Pending":
                state = "unknown" if order is None else order.status
                raise ValueError(f"order {orderid} is not waiting for a trigger ({state})")
            self._trigger(order)
            snap = self.market.snapshot_of(order.inst)
            if order.acts_as_market:
                self._fill(order, snap.ltp)
            else:
                marketable = snap.ltp <= order.price if order.side == "BUY" else snap.ltp >= order.price
                if marketable:
                    self._fill(order, snap.ltp)
            return order

    # ------------------------------------------------------------------ modify / cancel

    def _open_order(self, orderid: str, code: str) -> Order:
        order = self.orders.get(str(orderid).strip())
        if order is None or not order.is_open:
            raise ApiError(fail_str(ORDER_CLOSED, code, outcome=f"{code} order not open"))
        return order

    def modify(self, orderid: str, body: Any) -> Order:
        with self._lock:
            if not isinstance(body, dict):
                body = require_fields(body, ())
            order = self._open_order(orderid, CODE_NOT_OPEN)
            ordertype = (as_text(body, "ordertype") or order.ordertype).upper()
            duration = (as_text(body, "duration") or order.duration).upper()
            check_vocabulary(order.variety, order.side, ordertype, order.product, duration)
            token = as_text(body, "symboltoken")
            if token and token != order.inst.token:
                raise bad_input(f"Order {order.orderid} is not for token {token}.")  # [INVENTED]
            quantity = as_int(as_text(body, "quantity"), "quantity") if as_text(body, "quantity") else order.quantity
            if quantity <= order.filled:
                raise bad_input(f"Quantity should be more than the traded quantity {order.filled}.")  # [INVENTED]
            price = as_price(as_text(body, "price"), "price") if "price" in body else order.price
            trigger = as_price(as_text(body, "triggerprice"), "trigger price") if "triggerprice" in body else order.trigger
            check_prices(ordertype, order.side, price, trigger)
            if quantity % order.inst.lotsize:
                raise ApiError(fail_str(f"QUANTITY SHOULD BE MULTIPLE OF LOT SIZE {order.inst.lotsize}", CODE_LOT_SIZE))
            new_price = price if ordertype in ("LIMIT", "STOPLOSS_LIMIT") else 0.0
            new_trigger = trigger if ordertype in ("STOPLOSS_LIMIT", "STOPLOSS_MARKET") else 0.0
            problem = self._exchange_problem(order, new_price, new_trigger)
            if problem:
                raise ApiError(fail_str(problem, CODE_EXCHANGE_MODIFY))
            saved = (order.ordertype, order.quantity, order.price, order.trigger, order.duration)
            order.ordertype, order.quantity, order.price, order.trigger = ordertype, quantity, new_price, new_trigger
            order.duration = duration
            try:
                self._funds_check(order, self._reference_price(order), exclude=order)
            except ApiError:
                order.ordertype, order.quantity, order.price, order.trigger, order.duration = saved
                raise
            order.updated = self._clock()
            if order.is_stop and not order.triggered:
                order.status = "Trigger Pending"
            else:
                order.status = "O-Modified"
            order.text = "CONFIRMED"
            self._notify("order", order)
            self._match(order, self.market.snapshot_of(order.inst), immediate=True)
            return order

    def cancel(self, orderid: str, body: Any) -> Order:
        with self._lock:
            order = self._open_order(orderid, "RS-00093")  # spec 4.5's code for cancel
            body = body if isinstance(body, dict) else {}
            variety = as_text(body, "variety").upper()
            if variety != order.variety:
                # upstream-review D22: cancelling a STOPLOSS order as NORMAL must not pass.
                raise bad_input(
                    f"Invalid variety {variety or '(blank)'}: order {order.orderid} was placed with variety {order.variety}.",
                    "400",
                )  # [INVENTED] text
            body_id = as_text(body, "orderid")
            if body_id and body_id != order.orderid:
                raise bad_input("Order id in the body does not match the path.")  # [INVENTED]
            self._cancel(order, "Cancelled")
            return order

    def cancel_all(self) -> list[Order]:
        with self._lock:
            targets = [o for o in self.orders.values() if o.is_open]
            if not targets:
                raise ApiError(fail_error_type(
                    "Order Does not Exsist.Need to refresh orderbook / relogin in application ", "InputException",
                    outcome="InputException nothing to cancel",
                ))  # spelling and trailing space as in spec 4.6
            for order in targets:
                self._cancel(order, "O-Cancelled")
            return targets

    def _cancel(self, order: Order, status: str) -> None:
        order.cancelled = order.pending_qty
        order.status, order.text, order.updated = status, "", self._clock()
        self._notify("order", order)

    # ------------------------------------------------------------------ conversion (spec 5.2)

    def convert(self, body: dict[str, Any]) -> str:
        """Move open quantity between products; answers MA0034 when there is not enough."""
        with self._lock:
            exchange, token = as_text(body, "exchange").upper(), as_text(body, "symboltoken")
            # Position rows say NSE/BSE for derivatives, so either exchange name finds them.
            inst = self.book.get(exchange, token) or self.book.get({"NSE": "NFO", "BSE": "BFO"}.get(exchange, ""), token)
            if inst is None:
                raise instrument_error(f"Invalid scrip: token {token} is not traded on {exchange}.")  # [INVENTED]
            old, new = as_text(body, "oldproducttype").upper(), as_text(body, "newproducttype").upper()
            if old not in PRODUCTS or new not in PRODUCTS:
                raise bad_input(INVALID_PRODUCT, "400")
            if old == new:
                raise bad_input("Old and new product types are the same.")  # [INVENTED]
            side = as_text(body, "transactiontype").upper()
            if side not in ("BUY", "SELL"):
                raise bad_input("Invalid transaction type.")
            quantity = as_int(as_text(body, "quantity"), "quantity")
            position = self.portfolio.position(inst, old)
            held = 0 if position is None else (position.net_qty if side == "BUY" else -position.net_qty)
            if quantity > held:
                segment = "EQUITY" if inst.segment == "E" else "DERIVATIVE"
                code = {"DELIVERY": "C", "INTRADAY": "I"}.get(old, "M")
                message = (f"{inst.book_exchange} {segment} {inst.token} {inst.series} {self.client_code} "
                           f"{side[0]} {quantity} {code} INSUFICIENT QUANTITY TO CONVERT. "
                           f"INSUFICIENT QUANTITY: {quantity} AVAILABLE QUANTITY: {max(held, 0)}")  # sic, spec 5.2
                raise ApiError(fail_str(message, "MA0034"))
            assert position is not None
            price = position.open_price
            self._move(position, side, -quantity, price)
            self.portfolio.apply_fill(inst, new, side, quantity, price)
            if self.available_funds() < -1e-9:
                target = self.portfolio.position(inst, new)
                assert target is not None
                self._move(target, side, -quantity, price)
                self._move(position, side, quantity, price)
                raise ApiError(fail_str("RMS:FUND LIMIT INSUFFICIENT FOR CONVERSION", CODE_FUNDS))  # [INVENTED]
            return f"converted {quantity} {inst.name} {old}->{new}"

    @staticmethod
    def _move(position: Position, side: str, quantity: int, price: float) -> None:
        if side == "BUY":
            position.buy_qty += quantity
            position.buy_value += quantity * price
        else:
            position.sell_qty += quantity
            position.sell_value += quantity * price

    def _notify(self, kind: str, order: Order, trade: Trade | None = None) -> None:
        for listener in list(self._listeners):
            listener(kind, order, trade)

    def reset(self) -> None:
        with self._lock:
            self.orders.clear()
            self.trades.clear()
            self.ids.reset()
            self._rules = [[rule, rule.times] for rule in self._configured_rules]
