"""Live market state: one :class:`MarketSnapshot` per instrument that anyone has looked at.

Snapshots are created on demand from the deterministic :class:`~.pricing.PriceModel`
(today's bars up to the current minute), then move with :meth:`Market.set_ltp` (tests) and
:meth:`Market.tick` (the demo's random walk and the feed). Every price change is passed
to the listeners, which is how resting limit and stop orders get matched.

Prices are rupee floats; the feed converts them to paise (spec 11.3).
"""

from __future__ import annotations

import dataclasses
import math
import random
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from .clock import Clock, has_session, minutes_elapsed
from .instruments import Instrument, InstrumentBook
from .pricing import PriceModel, aggregate, round_to_tick

Depth = list[tuple[float, int, int]]  # (price, quantity, orders), best first
PriceListener = Callable[[Instrument, "MarketSnapshot"], None]


@dataclass
class MarketSnapshot:
    """Everything a quote or a feed packet shows for one instrument (rupees, IST times)."""

    token: str
    exchange_type: int  # feed exchangeType (spec 11.2); 0 when the feed does not carry it
    ltp: float
    open: float
    high: float
    low: float
    close: float  # previous session's close
    volume: int
    last_qty: int
    avg_price: float
    total_buy_qty: float
    total_sell_qty: float
    oi: int
    oi_change_pct: float
    upper_circuit: float
    lower_circuit: float
    high_52w: float
    low_52w: float
    exchange_time: datetime
    last_trade_time: datetime
    bids: Depth = field(default_factory=list)
    asks: Depth = field(default_factory=list)
    exchange: str = ""  # the master's exch_seg
    tradingsymbol: str = ""  # the master's name


class Market:
    """Snapshots keyed by (exch_seg, token). All access happens under the shared state lock."""

    def __init__(
        self,
        book: InstrumentBook,
        model: PriceModel,
        *,
        clock: Clock,
        always_open: bool,
        seed: int,
        lock: threading.RLock,
    ) -> None:
        self.book = book
        self.model = model
        self._clock = clock
        self._always_open = always_open
        self._seed = seed
        self._lock = lock
        self._rng = random.Random(seed)
        self._snapshots: dict[tuple[str, str], MarketSnapshot] = {}
        self._listeners: list[PriceListener] = []

    # ------------------------------------------------------------------ lookups

    def resolve(self, token: str, exchange: str | int | None = None) -> Instrument | None:
        """An instrument by token and, optionally, REST exchange name or feed exchangeType."""
        if exchange is None or exchange == "":
            return self.book.find(token)
        if isinstance(exchange, int) or str(exchange).isdigit():
            return self.book.get_feed(int(exchange), token)
        return self.book.get(str(exchange), token)

    def snapshot(self, token: str, exchange: str | int | None = None) -> MarketSnapshot | None:
        """A copy of the current state of ``token`` (None if the sandbox does not know it)."""
        inst = self.resolve(token, exchange)
        if inst is None:
            return None
        with self._lock:
            return dataclasses.replace(self._live(inst))

    def snapshot_of(self, inst: Instrument) -> MarketSnapshot:
        with self._lock:
            return dataclasses.replace(self._live(inst))

    def ltp(self, inst: Instrument) -> float:
        with self._lock:
            return self._live(inst).ltp

    def known(self) -> list[MarketSnapshot]:
        """Copies of every snapshot created so far."""
        with self._lock:
            return [dataclasses.replace(s) for s in self._snapshots.values()]

    def add_listener(self, listener: PriceListener) -> None:
        with self._lock:
            self._listeners.append(listener)

    # ------------------------------------------------------------------ changes

    def set_ltp(self, token: str, price: float, exchange: str | int | None = None) -> MarketSnapshot:
        """Trade ``token`` at ``price`` now (rounded to its tick); resting orders react."""
        inst = self.resolve(token, exchange)
        if inst is None:
            raise KeyError(f"unknown instrument token {token!r} ({exchange or 'any exchange'})")
        with self._lock:
            snap = self._live(inst)
            self._trade(inst, snap, round_to_tick(float(price), inst.tick))
            return dataclasses.replace(snap)

    def tick(self, steps: int = 1) -> None:
        """Move every known instrument a small, seeded random step."""
        with self._lock:
            for _ in range(steps):
                for (seg, token), snap in list(self._snapshots.items()):
                    inst = self.book.get(seg, token)
                    if inst is None:
                        continue
                    sigma = self.model.params(inst).daily_vol / math.sqrt(375)
                    price = snap.ltp * math.exp(self._rng.gauss(0, sigma))
                    self._trade(inst, snap, round_to_tick(price, inst.tick))

    def reset(self) -> None:
        with self._lock:
            self._snapshots.clear()
            self._rng = random.Random(self._seed)

    # ------------------------------------------------------------------ internals

    def _trade(self, inst: Instrument, snap: MarketSnapshot, price: float) -> None:
        now = self._clock()
        snap.ltp = price
        if snap.open <= 0:
            snap.open = price
        snap.high = max(snap.high, price)
        snap.low = min(snap.low, price) if snap.low > 0 else price
        if not inst.is_index:
            snap.last_qty = inst.lotsize * self._rng.randint(1, 20)
            snap.volume += snap.last_qty
        snap.exchange_time = now
        snap.last_trade_time = now
        snap.bids, snap.asks = self._depth(inst, price)
        snap.total_buy_qty = float(sum(q for _, q, _ in snap.bids) * 23)
        snap.total_sell_qty = float(sum(q for _, q, _ in snap.asks) * 21)
        for listener in list(self._listeners):
            listener(inst, snap)

    def _live(self, inst: Instrument) -> MarketSnapshot:
        key = (inst.exch_seg, inst.token)
        snap = self._snapshots.get(key)
        if snap is None:
            snap = self._create(inst)
            self._snapshots[key] = snap
        return snap

    def _create(self, inst: Instrument) -> MarketSnapshot:
        p = self.model.params(inst)
        now = self._clock()
        today = now.date()
        prev_close = self.model.previous_close(p, today)
        minutes = minutes_elapsed(now, always_open=self._always_open)
        if minutes > 0 and has_session(today, always_open=self._always_open):
            bars = self.model.day_bars(p, today)[:minutes]
            o, h, low, c, v = aggregate(bars)
            avg = sum((b[1] + b[2] + b[3]) / 3 for b in bars) / len(bars)
        else:
            o = h = low = c = prev_close
            v, avg = 0, prev_close
        rng = random.Random(f"{self._seed}:snap:{p.key}")
        closes = [self.model.daily_close(p, today - timedelta(days=d)) for d in range(1, 365, 7)]
        if inst.is_option:
            upper, lower = round_to_tick(prev_close * 2.5 + 20 * inst.tick, inst.tick), inst.tick
        else:
            upper = round_to_tick(prev_close * 1.10, inst.tick)
            lower = round_to_tick(prev_close * 0.90, inst.tick)
        bids, asks = self._depth(inst, c)
        return MarketSnapshot(
            token=inst.token,
            exchange_type=inst.feed_exchange_type or 0,
            ltp=c,
            open=o,
            high=h,
            low=low,
            close=prev_close,
            volume=int(v),
            last_qty=0 if inst.is_index else inst.lotsize * rng.randint(1, 20),
            avg_price=round(avg, 2),
            total_buy_qty=float(sum(q for _, q, _ in bids) * 23),
            total_sell_qty=float(sum(q for _, q, _ in asks) * 21),
            oi=p.open_interest,
            oi_change_pct=round(rng.uniform(-6, 6), 2) if inst.is_derivative else 0.0,
            upper_circuit=upper,
            lower_circuit=lower,
            high_52w=max([h, *closes]),
            low_52w=min([low, *closes]),
            exchange_time=now,
            last_trade_time=now - timedelta(seconds=rng.randint(0, 30)),
            bids=bids,
            asks=asks,
            exchange=inst.exch_seg,
            tradingsymbol=inst.name,
        )

    def _depth(self, inst: Instrument, price: float) -> tuple[Depth, Depth]:
        if inst.is_index:
            return [], []
        tick = inst.tick
        lot = inst.lotsize
        bids = [
            (max(round_to_tick(price - tick * (i + 1), tick), tick), lot * self._rng.randint(1, 60), self._rng.randint(1, 12))
            for i in range(5)
        ]
        asks = [
            (round_to_tick(price + tick * (i + 1), tick), lot * self._rng.randint(1, 60), self._rng.randint(1, 12))
            for i in range(5)
        ]
        return bids, asks
