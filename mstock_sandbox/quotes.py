"""``instruments/quote`` (spec 8.1): LTP, OHLC and FULL modes over ``exchangeTokens``.

Keys of ``exchangeTokens`` are the master's exchanges (NSE, BSE, NFO, BFO; currency rows
are tagged NSE/BSE, spec 8.4); NSE index spots are quotable under NSE. Unknown tokens go
to ``unfetched`` with ``{exchange, symbolToken, message, errorCode}`` (the values are
[INVENTED]). At most ``quote_token_cap`` tokens per call (a sandbox choice; spec 8.1 says
the real cap is [UNKNOWN]).

FULL mode's layout is [UNKNOWN] in the sources; by default the sandbox answers
[INFERRED] the SmartAPI-like shape the Node SDK hints at (``quote_full="smartapi"``): OHLC
plus ``lastTradeQty``, ``exchFeedTime``, ``exchTradeTime``, ``netChange``,
``percentChange``, ``avgPrice``, ``tradeVolume``, ``opnInterest``, ``lowerCircuit``,
``upperCircuit``, ``totBuyQuan``, ``totSellQuan``, ``52WeekLow``, ``52WeekHigh`` and
``depth: {buy: [{price, quantity, orders}] x5, sell: ...}``. The other layouts of
``SandboxConfig.quote_full``: "no-depth" (the same without ``depth``), "ohlc" (FULL
accepted, answered like OHLC) and "refuse" (FULL refused like an unknown mode, HTTP 400
IA400, [INVENTED] text).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from .envelopes import ApiError, Reply, bad_input, ok_str, problem_details
from .instruments import MONTHS, Instrument
from .market import MarketSnapshot
from .state import SandboxState

MODES = ("LTP", "OHLC", "FULL")


def _feed_time(moment: datetime) -> str:
    return f"{moment.day:02d}-{MONTHS[moment.month - 1]}-{moment.year} {moment:%H:%M:%S}"


def quote_row(inst: Instrument, snap: MarketSnapshot, mode: str, full_layout: str = "smartapi") -> dict[str, Any]:
    digits = inst.decimals()
    row: dict[str, Any] = {
        "exchange": inst.exch_seg,
        "tradingSymbol": inst.name,
        "symbolToken": inst.token,
        "ltp": round(snap.ltp, digits),
    }
    if mode == "LTP":
        return row
    row.update(
        open=round(snap.open, digits),
        high=round(snap.high, digits),
        low=round(snap.low, digits),
        close=round(snap.close, digits),  # the previous session's close (spec 8.1)
    )
    if mode == "OHLC" or full_layout == "ohlc":
        return row
    change = snap.ltp - snap.close
    row.update({
        "lastTradeQty": snap.last_qty,
        "exchFeedTime": _feed_time(snap.exchange_time),
        "exchTradeTime": _feed_time(snap.last_trade_time),
        "netChange": round(change, digits),
        "percentChange": round(change / snap.close * 100, 2) if snap.close else 0.0,
        "avgPrice": round(snap.avg_price, digits),
        "tradeVolume": snap.volume,
        "opnInterest": snap.oi,
        "lowerCircuit": round(snap.lower_circuit, digits),
        "upperCircuit": round(snap.upper_circuit, digits),
        "totBuyQuan": int(snap.total_buy_qty),
        "totSellQuan": int(snap.total_sell_qty),
        "52WeekLow": round(snap.low_52w, digits),
        "52WeekHigh": round(snap.high_52w, digits),
    })
    if full_layout != "no-depth":
        row["depth"] = {
            "buy": [{"price": p, "quantity": q, "orders": n} for p, q, n in snap.bids],
            "sell": [{"price": p, "quantity": q, "orders": n} for p, q, n in snap.asks],
        }
    return row


def quote(state: SandboxState, body: Any) -> Reply:
    if not isinstance(body, dict) or not isinstance(body.get("exchangeTokens"), dict):
        raise ApiError(problem_details({"exchangeTokens": ["The exchangeTokens field is required."]}))
    mode = str(body.get("mode") or "").strip().upper()
    layout = state.config.quote_full
    modes = MODES if layout != "refuse" else tuple(m for m in MODES if m != "FULL")
    if mode not in modes:
        valid = ", ".join(modes[:-1]) + " and " + modes[-1]
        raise bad_input(f"Invalid mode {body.get('mode')}. Valid modes are {valid}.")  # [INVENTED]
    requested: list[tuple[str, str]] = []
    for exchange, tokens in body["exchangeTokens"].items():
        if not isinstance(tokens, list):
            raise ApiError(problem_details({f"exchangeTokens.{exchange}": ["The value must be an array of tokens."]}))
        requested.extend((str(exchange).strip().upper(), str(t).strip()) for t in tokens)
    cap = state.config.quote_token_cap
    if len(requested) > cap:
        raise bad_input(f"Maximum {cap} tokens are allowed per request.")  # [INVENTED]
    fetched, unfetched = [], []
    with state.lock:
        for exchange, token in requested:
            inst = state.book.get(exchange, token)
            if inst is None:
                unfetched.append({
                    "exchange": exchange, "symbolToken": token,
                    "message": "Invalid symbol token", "errorCode": "IA404",
                })
                continue
            fetched.append(quote_row(inst, state.market.snapshot_of(inst), mode, layout))
    outcome = f"{mode} {len(fetched)} fetched, {len(unfetched)} unfetched"
    return ok_str({"fetched": fetched, "unfetched": unfetched}, outcome=outcome)
