"""CLI: ``quote``, ``depth``, ``history``, ``margin`` (market data and order margin).

Everything goes through the same functions OpenAlgo calls (``BrokerData``,
``calculate_margin_api``), with the saved CLI session (``mstock-openalgo login``) and the
symbols of ``mstock-openalgo contract download``. An instrument may be written
``SBIN:NSE``, ``NSE:SBIN`` or ``SBIN NSE``.
"""

from __future__ import annotations

import argparse
import csv
import sys
from collections.abc import Sequence
from contextlib import nullcontext
from datetime import datetime, timezone
from typing import Any

from ..errors import ValidationError
from .common import auth, fail, json_option, lookup
from .instruments import instrument_and, parse_instrument_list, take_instrument
from .output import console, print_kv, print_table
from .progress import ProgressBar
from .table import Column

QUOTE_COLUMNS = (
    Column("symbol"),
    Column("exchange", "exch", priority=3),
    Column("ltp"),
    Column("open", priority=5),
    Column("high", priority=6),
    Column("low", priority=7),
    Column("prev_close", "prev close", priority=4),
    Column("volume", priority=2),
    Column("bid", priority=1),
    Column("ask", priority=1),
    Column("oi", priority=8),
)
HISTORY_COLUMNS = ("time (IST)", "open", "high", "low", "close", "volume", Column("oi", priority=1))
CANDLE_FIELDS = ("timestamp", "open", "high", "low", "close", "volume", "oi")
HISTORY_TABLE_LIMIT = 40  # rows printed in full; longer results show head and tail
INDEX_EXCHANGES = frozenset({"NSE_INDEX", "BSE_INDEX", "MCX_INDEX"})


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("quote", help="quote one or more instruments: SBIN:NSE NSE:RELIANCE NIFTY NSE_INDEX ...")
    p.add_argument("items", nargs="+", metavar="SYMBOL:EXCHANGE", help="e.g. SBIN:NSE, NSE:SBIN or 'SBIN NSE'")
    json_option(p)
    p.set_defaults(func=_quote)

    p = sub.add_parser("depth", help="five-level market depth of one instrument", usage="%(prog)s SYMBOL:EXCHANGE [--json]")
    p.add_argument("instrument", nargs="+", metavar="SYMBOL:EXCHANGE", help="e.g. SBIN:NSE, NSE:SBIN or 'SBIN NSE'")
    json_option(p)
    p.set_defaults(func=_depth)

    p = sub.add_parser(
        "history",
        help="historical candles (FROM and TO are inclusive IST dates, YYYY-MM-DD)",
        usage="%(prog)s SYMBOL:EXCHANGE INTERVAL FROM TO [--csv FILE] [--json]",
    )
    p.add_argument("words", nargs="+", metavar="SYMBOL:EXCHANGE INTERVAL FROM TO",
                   help="e.g. SBIN:NSE D 2026-01-01 2026-01-31; intervals 1m 3m 5m 10m 15m 30m 1h D W M")
    p.add_argument("--csv", metavar="FILE", help="write all candles to FILE as CSV ('-' for standard output)")
    json_option(p)
    p.set_defaults(func=_history)

    p = sub.add_parser(
        "margin",
        help="margin required for an order (add --leg for a basket)",
        usage="%(prog)s SYMBOL:EXCHANGE ACTION QUANTITY [options]",
    )
    p.add_argument("words", nargs="+", metavar="SYMBOL:EXCHANGE ACTION QUANTITY",
                   help="e.g. SBIN:NSE BUY 10 or NIFTY28NOV24FUT NFO SELL 75")
    p.add_argument("--product", type=str.upper, default="MIS", choices=("CNC", "MIS", "NRML"))
    p.add_argument("--pricetype", type=str.upper, default="MARKET", choices=("MARKET", "LIMIT", "SL", "SL-M"))
    p.add_argument("--price", default="0")
    p.add_argument("--trigger-price", default="0")
    p.add_argument(
        "--leg",
        action="append",
        default=[],
        metavar="SPEC",
        help="another leg: SYMBOL:EXCHANGE:ACTION:QTY[:PRODUCT[:PRICE[:TRIGGER]]]",
    )
    json_option(p)
    p.set_defaults(func=_margin)


# ------------------------------------------------------------------ helpers


def parse_instrument_args(items: Sequence[str]) -> list[dict[str, str]]:
    """``["SBIN", "NSE", "NSE_INDEX:NIFTY"]`` -> ``[{"symbol": "SBIN", "exchange": "NSE"}, ...]``."""
    return parse_instrument_list(items, lookup())


def _broker_data():
    from ..api.data import BrokerData

    return BrokerData(auth())


def _ist_text(epoch: int, daily: bool) -> str:
    if daily:
        return datetime.fromtimestamp(epoch, timezone.utc).strftime("%Y-%m-%d")
    from ..clock import IST

    return datetime.fromtimestamp(epoch, IST).strftime("%Y-%m-%d %H:%M")


# ------------------------------------------------------------------ commands


def _quote(args: argparse.Namespace) -> int:
    wanted = parse_instrument_args(args.items)
    results = _broker_data().get_multiquotes(wanted)
    rows = [{"symbol": r["symbol"], "exchange": r["exchange"], **r.get("data", {}), "error": r.get("error", "")} for r in results]
    quoted = [r for r in rows if not r["error"]]
    failed = [r for r in rows if r["error"]]
    console().show(rows, lambda: print_table(quoted, QUOTE_COLUMNS) if quoted else None)
    if failed:
        raise ValidationError("; ".join(f"{r['symbol']} {r['exchange']}: {r['error']}" for r in failed))
    return 0


def _depth(args: argparse.Namespace) -> int:
    (symbol, exchange), rest = take_instrument(args.instrument, lookup())
    if rest:
        raise ValidationError(f"depth takes one instrument; unexpected {' '.join(rest)!r}")
    if exchange in INDEX_EXCHANGES:
        raise ValidationError(
            f"{symbol} on {exchange} is an index: indices are not traded, so they have no market depth "
            f"(try `mstock-openalgo quote {symbol}:{exchange}`)"
        )
    depth = _broker_data().get_depth(symbol, exchange)
    levels = [
        {"level": i + 1, "bid qty": bid["quantity"], "bid": bid["price"], "ask": ask["price"], "ask qty": ask["quantity"]}
        for i, (bid, ask) in enumerate(zip(depth["bids"], depth["asks"]))
    ]

    def human() -> None:
        print_table(levels, ["level", "bid qty", "bid", "ask", "ask qty"], title=f"{symbol} {exchange} depth")
        console().line()
        print_kv({k: v for k, v in depth.items() if k not in ("bids", "asks")})

    console().show(depth, human)
    return 0


def _history(args: argparse.Namespace) -> int:
    from ..mapping.symbols import require_instrument
    from ..market.history import fetch_history, to_ist_date
    from ..market.intervals import interval_for
    from ..transport.client import get_client

    symbol, exchange, (interval_text, start, end) = instrument_and(args.words, ("INTERVAL", "FROM", "TO"), lookup())
    interval = interval_for(interval_text)
    first, last = to_ist_date(start), to_ist_date(end)
    if first > last:
        raise ValidationError(f"FROM {first} is after TO {last}: give the earlier date first")
    record = require_instrument(symbol, exchange, lookup())
    with ProgressBar() as bar:
        frame = fetch_history(get_client(auth()), record, exchange, interval.key, first, last, progress=bar.for_stage("history"))
    rows = [
        {"time (IST)": _ist_text(int(r["timestamp"]), interval.daily), **{k: r[k] for k in CANDLE_FIELDS}}
        for r in frame.to_dict(orient="records")
    ]
    if args.csv:
        _write_csv(rows, args.csv)
        if args.csv != "-":
            console().note(f"{len(rows)} candles written to {args.csv}")
        return 0
    if console().json_mode:
        console().json([{k: r[k] for k in CANDLE_FIELDS} for r in rows])
        return 0
    shown: list[dict[str, Any]] = rows
    if len(rows) > HISTORY_TABLE_LIMIT:
        half = HISTORY_TABLE_LIMIT // 2
        gap = {"time (IST)": f"... {len(rows) - 2 * half} more (use --csv) ..."}
        shown = rows[:half] + [gap] + rows[-half:]
    print_table(shown, HISTORY_COLUMNS, title=f"{record.symbol} {exchange} {interval.key}: {len(rows)} candles")
    return 0


def _write_csv(rows: list[dict[str, Any]], target: str) -> None:
    columns = ["timestamp", "time (IST)", *CANDLE_FIELDS[1:]]
    with nullcontext(sys.stdout) if target == "-" else open(target, "w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=columns)
        writer.writeheader()
        writer.writerows(rows)


def _leg_from_spec(spec: str, defaults: argparse.Namespace) -> dict[str, str]:
    parts = [p.strip() for p in spec.split(":")]
    if len(parts) < 4:
        raise ValidationError(f"leg {spec!r}: expected SYMBOL:EXCHANGE:ACTION:QTY[:PRODUCT[:PRICE[:TRIGGER]]]")
    parts += [""] * (7 - len(parts))
    first, second, action, quantity, product, price, trigger = parts[:7]
    symbol, exchange, _ = instrument_and([f"{first}:{second}"], (), lookup())
    return {
        "symbol": symbol,
        "exchange": exchange,
        "action": action.upper(),
        "quantity": quantity,
        "product": (product or defaults.product).upper(),
        "pricetype": "LIMIT" if price else defaults.pricetype,
        "price": price or "0",
        "trigger_price": trigger or "0",
    }


def _margin(args: argparse.Namespace) -> int:
    from ..api.margin_api import calculate_margin_api

    symbol, exchange, (action, quantity) = instrument_and(args.words, ("ACTION", "QUANTITY"), lookup())
    positions = [
        {
            "symbol": symbol,
            "exchange": exchange,
            "action": action.upper(),
            "quantity": quantity,
            "product": args.product,
            "pricetype": args.pricetype,
            "price": args.price,
            "trigger_price": args.trigger_price,
        }
    ]
    positions += [_leg_from_spec(spec, args) for spec in args.leg]
    response, data = calculate_margin_api(positions, auth())
    if response.status != 200:
        fail(data, response.status)
    figures = data["data"]

    def human() -> None:
        # Only what mStock reported: zero components say nothing (its breakup lists every
        # component, most of them 0).
        shown = {"total margin required": figures["total_margin_required"]}
        if figures.get("trade_value"):
            shown["trade value"] = figures["trade_value"]
        for name, amount in (figures.get("breakup") or {}).items():
            if amount:
                shown[name.replace("_", " ")] = amount
        print_kv(shown, title=f"Margin for {len(positions)} leg(s) (INR)")
        if len(shown) == 1:
            console().line("(mStock gave no breakdown of this amount)")

    console().show(figures, human)
    return 0
