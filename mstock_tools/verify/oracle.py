"""The sandbox's own view of the world: what every OpenAlgo answer is checked against.

Everything verify reads from the sandbox goes through :class:`Oracle`: the sandbox's
read-only introspection (``server.state.orders()``, ``positions()``, ``quote()``...) where
it has one, its instrument book, price model and margin rule for the rest. The vocabulary tables here are written independently of
the plugin's own mapping tables, so the plugin is checked against a second opinion, not
against itself.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timezone
from typing import Any

from mstock_sandbox.clock import IST

# OpenAlgo's words -> mStock's (as the sandbox's OMS records them).
PRODUCT = {"CNC": "DELIVERY", "MIS": "INTRADAY", "NRML": "CARRYFORWARD"}
PRICE_TYPE = {"MARKET": "MARKET", "LIMIT": "LIMIT", "SL": "STOPLOSS_LIMIT", "SL-M": "STOPLOSS_MARKET"}
# mStock's order states -> OpenAlgo's order_status.
STATUS = {
    "Pending": "open",
    "O-Pending": "open",
    "O-Modified": "open",
    "Trigger Pending": "trigger pending",
    "Traded": "complete",
    "Rejected": "rejected",
    "Cancelled": "cancelled",
    "O-Cancelled": "cancelled",
}
OPEN_STATES = frozenset({"Pending", "O-Pending", "O-Modified", "Trigger Pending"})
PRODUCT_BACK = {v: k for k, v in PRODUCT.items()}


@dataclass(frozen=True)
class Instrument:
    """One instrument as the sandbox's master lists it, with its OpenAlgo name."""

    symbol: str  # OpenAlgo symbol (SBIN, NIFTY29DEC26FUT, NIFTY29DEC2624000CE)
    exchange: str  # OpenAlgo exchange (NSE, NFO, NSE_INDEX)
    token: str
    brsymbol: str  # the master's trading symbol (SBIN-EQ, NIFTY26DECFUT)
    lotsize: int
    tick: float
    expiry: date | None = None
    strike: float | None = None
    book_exchange: str = ""  # the master's exch_seg (orders, quotes)


def on_tick(price: float, tick: float) -> float:
    return round(round(price / tick) * tick, 4)


def openalgo_option_strike(strike: float) -> str:
    return str(int(strike)) if float(strike).is_integer() else f"{strike:g}"


class Oracle:
    """Reads of the running sandbox (under its state lock) and the few changes verify makes."""

    def __init__(self, server: Any) -> None:
        self.server = server

    @property
    def state(self) -> Any:
        return self.server.state

    # ------------------------------------------------------------------ instruments

    def master_rows(self) -> list[dict[str, str]]:
        return [dict(r) for r in self.state.rows]

    def equity(self, symbol: str) -> Instrument:
        inst = self.state.book.underlying_equity(symbol)
        if inst is None or inst.exch_seg != "NSE":
            raise LookupError(f"the sandbox's master has no NSE equity {symbol}")
        return Instrument(symbol, "NSE", inst.token, inst.name, inst.lotsize, inst.tick, book_exchange="NSE")

    def index(self, symbol: str, token: str) -> Instrument:
        inst = self.state.book.get("NSE", token)
        if inst is None:
            raise LookupError(f"the sandbox knows no NSE index token {token} ({symbol})")
        return Instrument(symbol, "NSE_INDEX", token, inst.name, 1, inst.tick, book_exchange="NSE")

    def _derivatives(self, underlying: str, types: tuple[str, ...]) -> list[dict[str, str]]:
        return [r for r in self.state.rows
                if r.get("exch_seg") == "NFO" and r.get("symbol") == underlying and r.get("instrumenttype") in types]

    @staticmethod
    def _expiry(row: dict[str, str]) -> date:
        return datetime.strptime(row["expiry"], "%d%b%Y").date()

    def expiries(self, underlying: str, kind: str) -> list[date]:
        types = ("FUTIDX", "FUTSTK") if kind == "futures" else ("OPTIDX", "OPTSTK")
        return sorted({self._expiry(r) for r in self._derivatives(underlying, types)})

    def _derivative(self, row: dict[str, str], name: str) -> Instrument:
        expiry = self._expiry(row)
        strike = float(row["strike"]) if row.get("strike") else None
        return Instrument(name, "NFO", row["token"], row["name"], int(row["lotsize"]), float(row["tick_size"]),
                          expiry=expiry, strike=strike, book_exchange="NFO")

    def nearest_future(self, underlying: str) -> Instrument:
        rows = sorted(self._derivatives(underlying, ("FUTIDX", "FUTSTK")), key=self._expiry)
        if not rows:
            raise LookupError(f"the sandbox's master has no {underlying} future on NFO")
        row = rows[0]
        return self._derivative(row, f"{underlying}{self._expiry(row):%d%b%y}FUT".upper())

    def option_near(self, underlying: str, spot: float, option_type: str = "CE") -> Instrument:
        rows = [r for r in self._derivatives(underlying, ("OPTIDX", "OPTSTK")) if r["name"].endswith(option_type)]
        if not rows:
            raise LookupError(f"the sandbox's master has no {underlying} {option_type} option on NFO")
        nearest = min(self._expiry(r) for r in rows)
        row = min((r for r in rows if self._expiry(r) == nearest), key=lambda r: abs(float(r["strike"]) - spot))
        expiry, strike = self._expiry(row), float(row["strike"])
        return self._derivative(row, f"{underlying}{expiry:%d%b%y}".upper() + openalgo_option_strike(strike) + option_type)

    def options_of(self, underlying: str, expiry: date) -> dict[str, Instrument]:
        """OpenAlgo symbol -> option, for one expiry."""
        out = {}
        for row in self._derivatives(underlying, ("OPTIDX", "OPTSTK")):
            if self._expiry(row) != expiry:
                continue
            kind = row["name"][-2:]
            name = f"{underlying}{expiry:%d%b%y}".upper() + openalgo_option_strike(float(row["strike"])) + kind
            out[name] = self._derivative(row, name)
        return out

    # ------------------------------------------------------------------ market

    def snapshot(self, inst: Instrument) -> Any:
        snap = self.state.quote(inst.token, inst.book_exchange)
        if snap is None:
            raise LookupError(f"the sandbox has no market for {inst.symbol}")
        return snap

    def set_ltp(self, inst: Instrument, price: float) -> Any:
        return self.state.market.set_ltp(inst.token, price, inst.book_exchange)

    def unit_margin(self, inst: Instrument, product: str, side: str, price: float) -> float:
        from mstock_sandbox.portfolio import unit_margin

        with self.state.lock:
            book_inst = self.state.book.get(inst.book_exchange, inst.token)
            return unit_margin(book_inst, PRODUCT[product], side, price)

    def candles(self, inst: Instrument, interval: str, start: date, end: date) -> list[tuple[int, float, float, float, float, int]]:
        """The bars the sandbox serves for ``[start, end]`` (completed days + today's intraday).

        ``interval`` is OpenAlgo's (``1m``, ``5m``, ``D``); timestamps as OpenAlgo gives them:
        the bar's start for minute bars, the date at 00:00 UTC for daily bars.
        """
        from mstock_sandbox.candles import historical, intraday
        from mstock_sandbox.clock import minutes_elapsed

        state = self.state
        book_inst = state.book.get(inst.book_exchange, inst.token)
        minutes = {"1m": 1, "5m": 5, "D": 375}[interval]
        now = state.clock()
        today = now.date()
        first = datetime.combine(start, time(0, 0), IST)
        last = datetime.combine(end, time(23, 59), IST)
        raw = historical(state.model, book_inst, interval=minutes, start=first, end=last, today=today,
                         limit=10**9).candles
        if start <= today <= end:
            done = minutes_elapsed(now, always_open=state.config.always_open)
            if interval == "D":
                if done > 0:
                    bars = state.model.day_bars(state.model.params(book_inst), today)[:done]
                    from mstock_sandbox.pricing import aggregate

                    o, h, low, c, v = aggregate(bars)
                    digits = book_inst.decimals()
                    raw.append([f"{today.isoformat()}T00:00:00+05", round(o, digits), round(h, digits),
                                round(low, digits), round(c, digits), 0 if book_inst.is_index else int(v)])
            else:
                raw += list(reversed(intraday(state.model, book_inst, interval=minutes, day=today, minutes=done)))
        out = []
        for stamp, o, h, low, c, v in raw:
            if interval == "D":
                day = date.fromisoformat(stamp[:10])
                epoch = int(datetime.combine(day, time(0, 0), timezone.utc).timestamp())
            else:
                epoch = int(datetime.strptime(stamp, "%Y-%m-%d %H:%M").replace(tzinfo=IST).timestamp())
            out.append((epoch, float(o), float(h), float(low), float(c), int(v)))
        return out

    # ------------------------------------------------------------------ orders, positions, money

    def orders(self) -> dict[str, Any]:
        """order id -> the sandbox's ``OrderView`` (tradingsymbol, side, ordertype, product,
        quantity, price, trigger, status, text, filled, average_price...)."""
        return {o.orderid: o for o in self.state.orders()}

    def order(self, orderid: str) -> Any:
        return self.state.order(str(orderid).strip())

    def trades(self) -> list[dict[str, Any]]:
        return [{"orderid": t.orderid, "quantity": t.quantity, "price": t.price, "token": t.token}
                for t in self.state.trades()]

    def positions(self) -> list[dict[str, Any]]:
        """Every position row (net quantity may be 0 once closed), with its LTP and P&L:
        realised on the matched quantity + unrealised on the open quantity."""
        rows = []
        for p in self.state.positions():
            ltp = self.state.ltp(p.token, p.exchange)
            opened_at = p.buy_average if p.net_quantity > 0 else p.sell_average
            rows.append({"token": p.token, "exchange": p.exchange, "product": p.product, "net": p.net_quantity,
                         "name": p.tradingsymbol, "ltp": ltp,
                         "pnl": p.realised_pnl + p.net_quantity * (ltp - opened_at)})
        return rows

    def net_position(self, inst: Instrument, product: str) -> int:
        for row in self.positions():
            if row["token"] == inst.token and row["exchange"] == inst.book_exchange and row["product"] == PRODUCT[product]:
                return int(row["net"])
        return 0

    def holdings(self) -> list[dict[str, Any]]:
        return [{"token": h.token, "name": h.tradingsymbol, "quantity": h.quantity, "average": h.average_price}
                for h in self.state.holdings()]

    def funds(self) -> dict[str, float]:
        """available, used, unrealised and realised (the fund summary's figures)."""
        with self.state.lock:
            return {**self.state.funds(), "realised": self.state.portfolio.realised()}

    def log_lines(self, route: str) -> list[str]:
        return [line for line in self.server.session_log() if f" {route} " in line]
