"""CLI: ``quote``, ``depth``, ``history``, ``margin`` (market data and order margin).

Everything goes through the same functions OpenAlgo calls (``BrokerData``,
``calculate_margin_api``), with the saved CLI session (``mstock-openalgo login``) and the
symbols of ``mstock-openalgo contract download``.
"""

from __future__ import annotations

import argparse
import csv
import sys
from collections.abc import Sequence
from datetime import datetime, timezone
from typing import Any

from ..errors import ValidationError
from .progress import ProgressBar
from .table import print_kv, print_table

QUOTE_COLUMNS = ("symbol", "exchange", "ltp", "open", "high", "low", "prev_close", "volume", "bid", "ask", "oi", "error")
HISTORY_TABLE_LIMIT = 40  # rows printed in full; longer results show head and tail


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("quote", help="quote one or more instruments: SYMBOL EXCHANGE ... or SYMBOL:EXCHANGE ...")
    p.add_argument("items", nargs="+", metavar="SYMBOL EXCHANGE", help="pairs like 'SBIN NSE' or 'SBIN:NSE NIFTY:NSE_INDEX'")
    p.set_defaults(func=_quote)

    p = sub.add_parser("depth", help="five-level market depth of one instrument")
    p.add_argument("symbol")
    p.add_argument("exchange")
    p.set_defaults(func=_depth)

    p = sub.add_parser("history", help="historical candles (FROM and TO are inclusive IST dates, YYYY-MM-DD)")
    p.add_argument("symbol")
    p.add_argument("exchange")
    p.add_argument("interval", help="1m 3m 5m 10m 15m 30m 1h D W M")
    p.add_argument("start", metavar="FROM")
    p.add_argument("end", metavar="TO")
    p.add_argument("--csv", metavar="FILE", help="write all candles to FILE as CSV ('-' for standard output)")
    p.set_defaults(func=_history)

    p = sub.add_parser("margin", help="margin required for an order (add --leg for a basket)")
    p.add_argument("symbol")
    p.add_argument("exchange")
    p.add_argument("action", type=str.upper, choices=("BUY", "SELL"))
    p.add_argument("quantity")
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
    p.set_defaults(func=_margin)


# ------------------------------------------------------------------ helpers


def parse_instrument_args(items: Sequence[str]) -> list[dict[str, str]]:
    """``["SBIN", "NSE", "NIFTY:NSE_INDEX"]`` -> ``[{"symbol": "SBIN", "exchange": "NSE"}, ...]``."""
    out: list[dict[str, str]] = []
    index = 0
    while index < len(items):
        item = items[index].strip()
        if ":" in item:
            symbol, _, exchange = item.rpartition(":")
            index += 1
        elif index + 1 < len(items):
            symbol, exchange = item, items[index + 1].strip()
            index += 2
        else:
            raise ValidationError(f"{item!r} has no exchange: write '{item} NSE' or '{item}:NSE'")
        if not symbol or not exchange:
            raise ValidationError(f"cannot read an instrument from {item!r}")
        out.append({"symbol": symbol.strip().upper(), "exchange": exchange.strip().upper()})
    return out


def _broker_data():
    from ..account.session import current_auth_token
    from ..api.data import BrokerData

    return BrokerData(current_auth_token())


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
    print_table(rows, QUOTE_COLUMNS)
    return 1 if any(r.get("error") for r in results) else 0


def _depth(args: argparse.Namespace) -> int:
    depth = _broker_data().get_depth(args.symbol.upper(), args.exchange.upper())
    levels = [
        {"level": i + 1, "bid qty": bid["quantity"], "bid": bid["price"], "ask": ask["price"], "ask qty": ask["quantity"]}
        for i, (bid, ask) in enumerate(zip(depth["bids"], depth["asks"]))
    ]
    print_table(levels, ["level", "bid qty", "bid", "ask", "ask qty"], title=f"{args.symbol.upper()} {args.exchange.upper()} depth")
    print()
    print_kv({k: v for k, v in depth.items() if k not in ("bids", "asks")})
    return 0


def _history(args: argparse.Namespace) -> int:
    from .. import host
    from ..account.session import current_auth_token
    from ..mapping.symbols import require_instrument
    from ..market.history import fetch_history
    from ..market.intervals import interval_for
    from ..transport.client import get_client

    exchange = args.exchange.upper()
    interval = interval_for(args.interval)
    record = require_instrument(args.symbol.upper(), exchange, host.symbols())
    frame = fetch_history(
        get_client(current_auth_token()), record, exchange, interval.key, args.start, args.end, progress=ProgressBar().for_stage("history")
    )
    rows = [
        {"time (IST)": _ist_text(int(r["timestamp"]), interval.daily), **{k: r[k] for k in ("timestamp", "open", "high", "low", "close", "volume", "oi")}}
        for r in frame.to_dict(orient="records")
    ]
    if args.csv:
        _write_csv(rows, args.csv)
        if args.csv != "-":
            print(f"{len(rows)} candles written to {args.csv}", file=sys.stderr)
        return 0
    shown: list[dict[str, Any]] = rows
    if len(rows) > HISTORY_TABLE_LIMIT:
        half = HISTORY_TABLE_LIMIT // 2
        gap = {"time (IST)": f"... {len(rows) - 2 * half} more (use --csv) ..."}
        shown = rows[:half] + [gap] + rows[-half:]
    print_table(shown, ["time (IST)", "open", "high", "low", "close", "volume", "oi"],
                title=f"{record.symbol} {exchange} {interval.key}: {len(rows)} candles")
    return 0


def _write_csv(rows: list[dict[str, Any]], target: str) -> None:
    columns = ["timestamp", "time (IST)", "open", "high", "low", "close", "volume", "oi"]
    if target == "-":
        writer = csv.DictWriter(sys.stdout, fieldnames=columns)
        writer.writeheader()
        writer.writerows(rows)
        return
    with open(target, "w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=columns)
        writer.writeheader()
        writer.writerows(rows)


def _leg_from_spec(spec: str, defaults: argparse.Namespace) -> dict[str, str]:
    parts = [p.strip() for p in spec.split(":")]
    if len(parts) < 4:
        raise ValidationError(f"leg {spec!r}: expected SYMBOL:EXCHANGE:ACTION:QTY[:PRODUCT[:PRICE[:TRIGGER]]]")
    parts += [""] * (7 - len(parts))
    symbol, exchange, action, quantity, product, price, trigger = parts[:7]
    return {
        "symbol": symbol.upper(),
        "exchange": exchange.upper(),
        "action": action.upper(),
        "quantity": quantity,
        "product": (product or defaults.product).upper(),
        "pricetype": "LIMIT" if price else defaults.pricetype,
        "price": price or "0",
        "trigger_price": trigger or "0",
    }


def _margin(args: argparse.Namespace) -> int:
    from ..account.session import current_auth_token
    from ..api.margin_api import calculate_margin_api

    positions = [
        {
            "symbol": args.symbol.upper(),
            "exchange": args.exchange.upper(),
            "action": args.action,
            "quantity": args.quantity,
            "product": args.product,
            "pricetype": args.pricetype,
            "price": args.price,
            "trigger_price": args.trigger_price,
        }
    ]
    positions += [_leg_from_spec(spec, args) for spec in args.leg]
    response, data = calculate_margin_api(positions, current_auth_token())
    if response.status != 200:
        print(f"error: {data.get('message')}", file=sys.stderr)
        return 1
    figures = {k: v for k, v in data["data"].items() if k != "breakup"}
    print_kv(figures, title=f"Margin for {len(positions)} leg(s) (INR)")
    breakup = data["data"].get("breakup") or {}
    if breakup:
        print()
        print_table([{"component": k, "amount": v} for k, v in breakup.items()], ["component", "amount"])
    return 0
