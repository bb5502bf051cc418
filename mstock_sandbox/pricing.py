"""Deterministic prices: every instrument has a past, a today and a fair price.

Nothing here is stored: a day's closing level is a pure function of (seed, instrument,
date), and a day's 375 one-minute bars are a Brownian bridge from that day's open to its
close, seeded the same way. Repeated historical calls therefore agree with each other,
daily bars agree with minute bars, and today's close is the instrument's base price, so
option strikes in the generated master sit around realistic spots.
"""

from __future__ import annotations

import math
import random
import threading
from collections import OrderedDict
from dataclasses import dataclass
from datetime import date

from .clock import SESSION_MINUTES, previous_trading_day
from .instruments import Instrument, InstrumentBook

# Spot levels of the master generator's anchors (mstock_sandbox/master.py), so the
# sandbox's prices sit where the generated option strikes are.
ANCHOR_PRICES: dict[str, float] = {
    "SBIN": 812.35, "ACC": 1912.40, "RELIANCE": 1385.20, "TCS": 3052.60, "IDEA": 7.12,
    "WIPRO": 246.85, "YESBANK": 21.34, "INFY": 1498.30, "M&M": 3311.00, "BAJAJ-AUTO": 8790.50,
    "VEDL": 291.60, "NIFTY": 24010.00, "BANKNIFTY": 51980.00, "FINNIFTY": 23350.00,
    "MIDCPNIFTY": 12560.00, "NIFTYNXT50": 67120.00, "INDIAVIX": 13.45, "SENSEX": 80500.00,
    "BANKEX": 59000.00, "SENSEX50": 25600.00, "USDINR": 88.10, "CRUDEOIL": 5400.00,
}

# (period in days, amplitude in daily volatilities) of the slow waves behind daily closes.
_WAVES = ((5.3, 0.8), (17.0, 1.4), (47.0, 2.2), (131.0, 3.2), (379.0, 4.5))

Bar = tuple[float, float, float, float, int]  # open, high, low, close, volume


def round_to_tick(price: float, tick: float) -> float:
    steps = max(1, round(price / tick))
    return round(steps * tick, 6)


def black_scholes(spot: float, strike: float, years: float, vol: float, call: bool) -> float:
    """Undiscounted Black-Scholes (r = 0): good enough for a plausible premium."""
    years = max(years, 0.5 / 365)
    sd = vol * math.sqrt(years)
    d1 = (math.log(spot / strike) + sd * sd / 2) / sd
    d2 = d1 - sd
    cdf = lambda x: 0.5 * (1 + math.erf(x / math.sqrt(2)))  # noqa: E731
    if call:
        return spot * cdf(d1) - strike * cdf(d2)
    return strike * cdf(-d2) - spot * cdf(-d1)


@dataclass(frozen=True)
class PriceParams:
    key: str
    base: float  # today's closing level
    daily_vol: float
    tick: float
    minute_volume: float
    open_interest: int


class PriceModel:
    """Prices for every instrument of an :class:`InstrumentBook`, anchored at ``today``."""

    def __init__(self, book: InstrumentBook, *, seed: int, today: date) -> None:
        self.book = book
        self.seed = seed
        self.today = today
        self._params: dict[tuple[str, str], PriceParams] = {}
        self._phases: dict[str, tuple[float, ...]] = {}
        self._today_wave: dict[str, float] = {}
        self._bars: OrderedDict[tuple[str, date], list[Bar]] = OrderedDict()
        self._daily: dict[tuple[str, date], Bar] = {}
        self._lock = threading.Lock()

    # ------------------------------------------------------------------ parameters

    def underlying_level(self, symbol: str) -> float:
        if symbol in ANCHOR_PRICES:
            return ANCHOR_PRICES[symbol]
        centre = self.book.strike_centre(symbol)
        if centre:
            return centre
        rng = random.Random(f"price:{symbol}")
        return round(math.exp(rng.uniform(math.log(15), math.log(6000))), 2)

    def params(self, inst: Instrument) -> PriceParams:
        key = (inst.exch_seg, inst.token)
        with self._lock:
            found = self._params.get(key)
        if found is None:
            found = self._make_params(inst)
            with self._lock:
                self._params[key] = found
        return found

    def _make_params(self, inst: Instrument) -> PriceParams:
        spot = self.underlying_level(inst.symbol)
        rng = random.Random(f"{self.seed}:params:{inst.exch_seg}:{inst.token}")
        underlying_vol = 0.009 if self._is_index_symbol(inst.symbol) else 0.018
        if inst.is_currency:
            underlying_vol = 0.003
        if inst.symbol == "INDIAVIX":
            underlying_vol = 0.05
        years = max((inst.expiry - self.today).days, 0) / 365 if inst.expiry else 0.0
        oi = 0
        if inst.is_option and inst.strike:
            annual = underlying_vol * math.sqrt(250)
            base = black_scholes(spot, inst.strike, years, annual, inst.option_type == "CE")
            vol = 0.06
            volume = inst.lotsize * rng.uniform(2, 400)
            oi = inst.lotsize * rng.randint(50, 20000)
        elif inst.is_future:
            base = spot * (1 + 0.065 * years)
            vol = underlying_vol
            volume = inst.lotsize * rng.uniform(5, 300)
            oi = inst.lotsize * rng.randint(1000, 100000)
        elif inst.is_index:
            base, vol, volume = spot, underlying_vol, 0.0
        else:
            base, vol = spot, underlying_vol
            volume = math.exp(rng.uniform(math.log(2e5), math.log(2e7))) / SESSION_MINUTES
        return PriceParams(
            key=f"{inst.exch_seg}:{inst.token}",
            base=max(round_to_tick(base, inst.tick), inst.tick),
            daily_vol=vol,
            tick=inst.tick,
            minute_volume=volume,
            open_interest=oi,
        )

    def _is_index_symbol(self, symbol: str) -> bool:
        return symbol in ("NIFTY", "BANKNIFTY", "FINNIFTY", "MIDCPNIFTY", "NIFTYNXT50", "SENSEX", "BANKEX", "SENSEX50")

    # ------------------------------------------------------------------ daily levels

    def _wave(self, p: PriceParams, day: date) -> float:
        phases = self._phases.get(p.key)
        if phases is None:
            rng = random.Random(f"{self.seed}:phase:{p.key}")
            phases = tuple(rng.uniform(0, 2 * math.pi) for _ in _WAVES)
            self._phases[p.key] = phases
        d = day.toordinal()
        level = sum(
            amp * p.daily_vol * math.sin(2 * math.pi * d / period + phase)
            for (period, amp), phase in zip(_WAVES, phases)
        )
        noise = random.Random(f"{self.seed}:noise:{p.key}:{d}").gauss(0, p.daily_vol * 0.8)
        return level + noise

    def daily_close(self, p: PriceParams, day: date) -> float:
        """The closing level of ``day``; equals ``p.base`` for today."""
        anchor = self._today_wave.get(p.key)
        if anchor is None:
            anchor = self._today_wave[p.key] = self._wave(p, self.today)
        level = p.base * math.exp(self._wave(p, day) - anchor)
        return max(round_to_tick(level, p.tick), p.tick)

    def previous_close(self, p: PriceParams, day: date) -> float:
        return self.daily_close(p, previous_trading_day(day))

    # ------------------------------------------------------------------ minute bars

    def day_bars(self, p: PriceParams, day: date) -> list[Bar]:
        """The 375 one-minute bars of ``day`` (09:15 .. 15:29), oldest first."""
        key = (p.key, day)
        with self._lock:
            bars = self._bars.get(key)
            if bars is not None:
                self._bars.move_to_end(key)
                return bars
        bars = self._generate_bars(p, day)
        with self._lock:
            self._bars[key] = bars
            while len(self._bars) > 512:
                self._bars.popitem(last=False)
        return bars

    def _generate_bars(self, p: PriceParams, day: date) -> list[Bar]:
        rng = random.Random(f"{self.seed}:bars:{p.key}:{day.toordinal()}")
        n = SESSION_MINUTES
        close = self.daily_close(p, day)
        open_ = max(self.previous_close(p, day) * math.exp(rng.gauss(0, p.daily_vol * 0.3)), p.tick)
        sigma = p.daily_vol / math.sqrt(n)
        walk = [0.0]
        for _ in range(n):
            walk.append(walk[-1] + rng.gauss(0, sigma))
        start, end = math.log(open_), math.log(close)
        path = [start + (end - start) * i / n + walk[i] - walk[n] * i / n for i in range(n + 1)]
        bars: list[Bar] = []
        for j in range(n):
            o = round_to_tick(math.exp(path[j]), p.tick)
            c = round_to_tick(math.exp(path[j + 1]), p.tick)
            h = round_to_tick(max(o, c) * math.exp(abs(rng.gauss(0, sigma * 0.6))), p.tick)
            low = round_to_tick(min(o, c) * math.exp(-abs(rng.gauss(0, sigma * 0.6))), p.tick)
            profile = 0.6 + 1.2 * math.exp(-j / 40) + 0.9 * math.exp(-(n - 1 - j) / 35)
            volume = int(p.minute_volume * profile * rng.lognormvariate(0, 0.5))
            bars.append((o, max(h, o, c), max(min(low, o, c), p.tick), c, volume))
        return bars

    def daily_bar(self, p: PriceParams, day: date, minutes: int = SESSION_MINUTES) -> Bar:
        """One day aggregated from its minute bars (the first ``minutes`` of them)."""
        if minutes >= SESSION_MINUTES:
            key = (p.key, day)
            with self._lock:
                found = self._daily.get(key)
            if found is not None:
                return found
        bars = self.day_bars(p, day)[: max(1, minutes)]
        bar = aggregate(bars)
        if minutes >= SESSION_MINUTES:
            with self._lock:
                if len(self._daily) > 200_000:
                    self._daily.clear()
                self._daily[(p.key, day)] = bar
        return bar


def aggregate(bars: list[Bar]) -> Bar:
    return (
        bars[0][0],
        max(b[1] for b in bars),
        min(b[2] for b in bars),
        bars[-1][3],
        sum(b[4] for b in bars),
    )
