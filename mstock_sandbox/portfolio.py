"""Positions, holdings and the cash/margin arithmetic behind funds and RMS checks.

Margin rules (a plausible retail broker, not mStock's exact RMS): equity DELIVERY and
CARRYFORWARD 100 % of value (spec 7's sample: 5 x 2250 = 11250), INTRADAY 20 %, MARGIN
25 % [INVENTED]; futures 15 % of value; option buyers pay the premium; option writers
post the larger of the premium and 15 % of the strike value. Delivery sells must be
covered by holdings (T+1: today's delivery buys stay positions, holdings change tomorrow).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

from .instruments import Instrument

EQUITY_MARGIN_RATE = {"DELIVERY": 1.0, "CARRYFORWARD": 1.0, "INTRADAY": 0.20, "MARGIN": 0.25}
FUTURES_MARGIN_RATE = 0.15
OPTION_WRITER_RATE = 0.15


def unit_margin(inst: Instrument, product: str, side: str, price: float) -> float:
    """Margin per unit for opening ``side`` exposure at ``price``."""
    if inst.is_option:
        if side == "BUY":
            return price
        return max(price, OPTION_WRITER_RATE * (inst.strike or price))
    if inst.is_future:
        return FUTURES_MARGIN_RATE * price
    return EQUITY_MARGIN_RATE.get(product, 1.0) * price


@dataclass
class Position:
    inst: Instrument
    product: str
    buy_qty: int = 0
    buy_value: float = 0.0
    sell_qty: int = 0
    sell_value: float = 0.0

    @property
    def net_qty(self) -> int:
        return self.buy_qty - self.sell_qty

    @property
    def buy_avg(self) -> float:
        return self.buy_value / self.buy_qty if self.buy_qty else 0.0

    @property
    def sell_avg(self) -> float:
        return self.sell_value / self.sell_qty if self.sell_qty else 0.0

    @property
    def net_price(self) -> float:
        # spec 5.1 sample: avgnetprice 799.94 = (80010 - 479980) / -500
        return (self.buy_value - self.sell_value) / self.net_qty if self.net_qty else 0.0

    @property
    def open_price(self) -> float:
        """Average price of the open quantity."""
        return self.buy_avg if self.net_qty > 0 else self.sell_avg

    @property
    def matched_pnl(self) -> float:
        matched = min(self.buy_qty, self.sell_qty)
        return matched * (self.sell_avg - self.buy_avg)

    def add(self, side: str, quantity: int, price: float) -> None:
        if side == "BUY":
            self.buy_qty += quantity
            self.buy_value += quantity * price
        else:
            self.sell_qty += quantity
            self.sell_value += quantity * price


@dataclass
class Holding:
    inst: Instrument
    quantity: int
    avg_price: float


@dataclass(frozen=True)
class OpenExposure:
    """What an open order would add: enough for margin blocking."""

    inst: Instrument
    product: str
    side: str
    quantity: int
    price: float


class Portfolio:
    """Today's positions, the start-of-day holdings and cash."""

    def __init__(self, opening_balance: float, holdings: Iterable[Holding]) -> None:
        self.opening_balance = opening_balance
        self.holdings: dict[tuple[str, str], Holding] = {(h.inst.exch_seg, h.inst.token): h for h in holdings}
        self.positions: dict[tuple[str, str, str], Position] = {}
        self.peak_margin = 0.0

    def position(self, inst: Instrument, product: str) -> Position | None:
        return self.positions.get((inst.exch_seg, inst.token, product))

    def apply_fill(self, inst: Instrument, product: str, side: str, quantity: int, price: float) -> None:
        key = (inst.exch_seg, inst.token, product)
        position = self.positions.get(key)
        if position is None:
            position = self.positions[key] = Position(inst, product)
        position.add(side, quantity, price)

    # ------------------------------------------------------------------ delivery cover

    def holding_qty(self, inst: Instrument) -> int:
        holding = self.holdings.get((inst.exch_seg, inst.token))
        return holding.quantity if holding else 0

    def sellable_delivery(self, inst: Instrument, pending_sells: int) -> int:
        """Shares a DELIVERY sell may still use: holdings + today's delivery buys - sold - pending."""
        position = self.position(inst, "DELIVERY")
        net = position.net_qty if position else 0
        return self.holding_qty(inst) + net - pending_sells

    def _covered_short(self, position: Position) -> int:
        """Delivery shares sold today out of holdings (no margin; proceeds are credited)."""
        if position.product != "DELIVERY" or position.net_qty >= 0 or position.inst.is_derivative:
            return 0
        return min(-position.net_qty, self.holding_qty(position.inst))

    # ------------------------------------------------------------------ money

    def position_margin(self, position: Position) -> float:
        open_qty = abs(position.net_qty) - self._covered_short(position)
        if open_qty <= 0:
            return 0.0
        side = "BUY" if position.net_qty > 0 else "SELL"
        return open_qty * unit_margin(position.inst, position.product, side, position.open_price)

    def opening_quantity(self, exposure: OpenExposure, pending_same_side: int = 0) -> int:
        """The part of an order that opens or extends a position (the rest reduces one)."""
        position = self.position(exposure.inst, exposure.product)
        net = position.net_qty if position else 0
        if exposure.product == "DELIVERY" and exposure.side == "SELL" and not exposure.inst.is_derivative:
            return 0  # covered by holdings, checked separately
        reducible = -net if exposure.side == "BUY" else net
        reducible = max(0, reducible - pending_same_side)
        return max(0, exposure.quantity - reducible)

    def order_margin(self, exposure: OpenExposure, pending_same_side: int = 0) -> float:
        qty = self.opening_quantity(exposure, pending_same_side)
        return qty * unit_margin(exposure.inst, exposure.product, exposure.side, exposure.price)

    def matched_realised(self) -> float:
        """P&L of quantity bought and sold today."""
        return sum(p.matched_pnl for p in self.positions.values())

    def holdings_realised(self) -> float:
        """P&L of holdings sold today, against their average cost."""
        total = 0.0
        for position in self.positions.values():
            covered = self._covered_short(position)
            if covered:
                holding = self.holdings[(position.inst.exch_seg, position.inst.token)]
                total += covered * (position.sell_avg - holding.avg_price)
        return total

    def realised(self) -> float:
        return self.matched_realised() + self.holdings_realised()

    def sale_credit(self) -> float:
        """Cash from delivery shares sold out of holdings (their cost is not in today's cash)."""
        return sum(self._covered_short(p) * p.sell_avg for p in self.positions.values())

    def unrealised(self, ltp: Callable[[Instrument], float]) -> float:
        total = 0.0
        for position in self.positions.values():
            open_qty = abs(position.net_qty) - self._covered_short(position)
            if open_qty <= 0:
                continue
            sign = 1 if position.net_qty > 0 else -1
            total += sign * open_qty * (ltp(position.inst) - position.open_price)
        return total

    def used_margin(self, open_orders: Iterable[OpenExposure]) -> float:
        used = sum(self.position_margin(p) for p in self.positions.values())
        pending: dict[tuple[str, str, str, str], int] = {}
        for exposure in open_orders:
            key = (exposure.inst.exch_seg, exposure.inst.token, exposure.product, exposure.side)
            used += self.order_margin(exposure, pending.get(key, 0))
            pending[key] = pending.get(key, 0) + exposure.quantity
        self.peak_margin = max(self.peak_margin, used)
        return used

    def option_premium_used(self) -> float:
        return sum(
            self.position_margin(p)
            for p in self.positions.values()
            if p.inst.is_option and p.net_qty > 0
        )

    def available(self, open_orders: Iterable[OpenExposure]) -> float:
        """Cash free for new orders: opening + today's P&L + sale proceeds - blocked margin."""
        return self.opening_balance + self.matched_realised() + self.sale_credit() - self.used_margin(open_orders)
