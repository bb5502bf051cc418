"""Parsed ticks -> the dicts OpenAlgo's WebSocket proxy publishes (contract 11.3).

Pure functions. Every value is a plain ``int``/``float``/``str`` (ZMQ sends
``json.dumps(data)``); the timestamp is the exchange's (epoch ms, D12), not local time.
The proxy hands a mode-N message to subscribers of every mode <= N, so a DEPTH payload
carries all QUOTE and LTP fields too.
"""

from __future__ import annotations

import time
from typing import Any

from .protocol import MODE_LTP, MODE_NAMES, MODE_QUOTE


def topic(exchange: str, symbol: str, mode: int) -> str:
    """``NSE_RELIANCE_QUOTE``, ``NSE_INDEX_NIFTY_LTP`` (contract 11.3)."""
    return f"{exchange}_{symbol}_{MODE_NAMES[mode]}"


def build_payload(tick: dict[str, Any], symbol: str, exchange: str, mode: int) -> dict[str, Any]:
    """The payload for a subscription of ``mode``; ``tick['mode']`` must be >= ``mode``."""
    ltp = tick["ltp"]
    stamp = tick["exchange_ts"] or int(time.time() * 1000)  # packets without a time are rare; keep them usable
    data: dict[str, Any] = {"symbol": symbol, "exchange": exchange, "mode": mode, "ltp": ltp, "timestamp": stamp}
    if mode == MODE_LTP:
        return data
    close = tick["close"]
    change = ltp - close if close else 0.0
    data.update(
        open=tick["open"],
        high=tick["high"],
        low=tick["low"],
        close=close,
        volume=tick["volume"],
        average_price=tick["avg_price"],
        last_quantity=tick["last_qty"],
        last_trade_quantity=tick["last_qty"],
        total_buy_quantity=tick["total_buy_qty"],
        total_sell_quantity=tick["total_sell_qty"],
        change=round(change, 4),
        change_percent=round(change / close * 100, 2) if close else 0.0,
        # Only snap packets carry open interest (spec 11.3); a Quote packet means none known.
        oi=tick.get("oi", 0),
    )
    if mode == MODE_QUOTE:
        return data
    bids = tick["bids"]
    asks = tick["asks"]
    data.update(
        oi_change_percent=tick["oi_change_pct"],
        ltt=tick["last_trade_ts"],
        upper_circuit=tick["upper_circuit"],
        lower_circuit=tick["lower_circuit"],
        high_52_week=tick["high_52w"],
        low_52_week=tick["low_52w"],
        bid_price=bids[0]["price"],
        bid_size=bids[0]["quantity"],
        ask_price=asks[0]["price"],
        ask_size=asks[0]["quantity"],
        depth={"buy": bids, "sell": asks},
    )
    return data

