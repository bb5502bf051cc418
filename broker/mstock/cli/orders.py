"""CLI: ``order place|modify|cancel|smart``, ``orders``, ``trades``, ``positions``,
``holdings``, ``close-all``, ``cancel-all``.

Every command goes through the same OpenAlgo-facing functions OpenAlgo calls
(``api/order_api.py``) with the saved CLI session, and prints their result as a table.
The two account-wide commands act only with ``--yes``.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from .table import print_kv, print_table

ORDER_COLUMNS = ("orderid", "symbol", "exchange", "action", "quantity", "pricetype", "price", "trigger_price",
                 "product", "order_status", "filled_quantity", "pending_quantity", "average_price", "timestamp",
                 "rejection_reason")
TRADE_COLUMNS = ("orderid", "symbol", "exchange", "product", "action", "quantity", "average_price", "trade_value",
                 "timestamp")
POSITION_COLUMNS = ("symbol", "exchange", "product", "quantity", "average_price", "ltp", "pnl")
HOLDING_COLUMNS = ("symbol", "exchange", "quantity", "product", "average_price", "ltp", "pnl", "pnlpercent")


def register(sub: argparse._SubParsersAction) -> None:
    order = sub.add_parser("order", help="place, modify, cancel or size (smart) one order")
    actions = order.add_subparsers(dest="order_command", metavar="ACTION", required=True)

    p = actions.add_parser(
        "place", help="place an order, e.g. `order place SBIN NSE BUY 10 --pricetype LIMIT --price 570`"
    )
    _order_arguments(p)
    p.add_argument("--amo", action="store_true", help="send as an after-market order (variety AMO)")
    p.set_defaults(func=_place)

    p = actions.add_parser("modify", help="modify an open order")
    p.add_argument("orderid")
    _order_arguments(p)
    p.set_defaults(func=_modify)

    p = actions.add_parser("cancel", help="cancel an open order")
    p.add_argument("orderid")
    p.set_defaults(func=_cancel)

    p = actions.add_parser("smart", help="trade to a target position (OpenAlgo smart order)")
    _order_arguments(p)
    p.add_argument("--position-size", type=int, required=True, help="target net quantity in units (negative = short)")
    p.set_defaults(func=_smart)

    sub.add_parser("orders", help="today's order book").set_defaults(func=_orders)
    sub.add_parser("trades", help="today's trade book").set_defaults(func=_trades)
    sub.add_parser("positions", help="today's positions with LTP and P&L").set_defaults(func=_positions)
    sub.add_parser("holdings", help="demat holdings with P&L").set_defaults(func=_holdings)

    p = sub.add_parser("close-all", help="square off every open position with MARKET orders")
    p.add_argument("--yes", action="store_true", help="really send the orders")
    p.set_defaults(func=_close_all)
    p = sub.add_parser("cancel-all", help="cancel every open and trigger-pending order")
    p.add_argument("--yes", action="store_true", help="really cancel")
    p.set_defaults(func=_cancel_all)


def _order_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("symbol", help="OpenAlgo symbol, e.g. SBIN or NIFTY28NOV24FUT")
    p.add_argument("exchange", help="NSE, BSE, NFO, BFO, CDS, BCD or MCX")
    p.add_argument("action", help="BUY or SELL")
    p.add_argument("quantity", help="units (shares or contracts), a multiple of the lot size")
    p.add_argument("--pricetype", default="MARKET", help="MARKET (default), LIMIT, SL or SL-M")
    p.add_argument("--product", default="MIS", help="MIS (default), CNC or NRML")
    p.add_argument("--price", default="0")
    p.add_argument("--trigger", default="0", help="trigger price for SL / SL-M")
    p.add_argument("--disclosed", default="0", help="disclosed quantity")


def _order_data(args: argparse.Namespace) -> dict[str, Any]:
    return {
        "strategy": "cli", "symbol": args.symbol, "exchange": args.exchange, "action": args.action,
        "quantity": args.quantity, "pricetype": args.pricetype, "product": args.product, "price": args.price,
        "trigger_price": args.trigger, "disclosed_quantity": args.disclosed,
    }


def _auth() -> str:
    from ..account.session import current_auth_token

    return current_auth_token()


def _report(body: dict[str, Any], status: int, *, title: str) -> int:
    if status == 200:
        print_kv(body, title=title)
        return 0
    print(f"error ({status}): {body.get('message', body)}", file=sys.stderr)
    return 1


def _place(args: argparse.Namespace) -> int:
    from ..api.order_api import place_order_api

    data = _order_data(args)
    if args.amo:
        data["variety"] = "AMO"
    res, body, _ = place_order_api(data, _auth())
    return _report(body, res.status, title="Order placed")


def _modify(args: argparse.Namespace) -> int:
    from ..api.order_api import modify_order

    body, status = modify_order({**_order_data(args), "orderid": args.orderid}, _auth())
    return _report(body, status, title="Order modified")


def _cancel(args: argparse.Namespace) -> int:
    from ..api.order_api import cancel_order

    body, status = cancel_order(args.orderid, _auth())
    return _report(body, status, title="Order cancelled")


def _smart(args: argparse.Namespace) -> int:
    from ..api.order_api import place_smartorder_api

    res, body, _ = place_smartorder_api({**_order_data(args), "position_size": args.position_size}, _auth())
    return _report(body, 200 if res is None else res.status, title="Smart order")


def _book(fetch_name: str) -> Any:
    from ..api import order_api

    raw = getattr(order_api, fetch_name)(_auth())
    if isinstance(raw, dict) and raw.get("status") == "error":
        print(f"error: {raw.get('message')}", file=sys.stderr)
        return None
    return raw


def _orders(args: argparse.Namespace) -> int:
    from ..mapping import order_data

    raw = _book("get_order_book")
    if raw is None:
        return 1
    mapped = order_data.map_order_data(order_data=raw)
    print_table(order_data.transform_order_data(mapped), ORDER_COLUMNS, title="Orders")
    print()
    print_kv(order_data.calculate_order_statistics(mapped), title="Statistics")
    return 0


def _trades(args: argparse.Namespace) -> int:
    from ..mapping import order_data

    raw = _book("get_trade_book")
    if raw is None:
        return 1
    print_table(order_data.transform_tradebook_data(order_data.map_trade_data(trade_data=raw)), TRADE_COLUMNS,
                title="Trades")
    return 0


def _positions(args: argparse.Namespace) -> int:
    from ..mapping import order_data

    raw = _book("get_positions")
    if raw is None:
        return 1
    print_table(order_data.transform_positions_data(order_data.map_position_data(raw)), POSITION_COLUMNS,
                title="Positions")
    return 0


def _holdings(args: argparse.Namespace) -> int:
    from ..mapping import order_data

    raw = _book("get_holdings")
    if raw is None:
        return 1
    mapped = order_data.map_portfolio_data(raw)
    print_table(order_data.transform_holdings_data(mapped), HOLDING_COLUMNS, title="Holdings")
    print()
    print_kv(order_data.calculate_portfolio_statistics(mapped), title="Totals")
    return 0


def _close_all(args: argparse.Namespace) -> int:
    from ..api.order_api import close_all_positions

    if not args.yes:
        print("close-all sends a MARKET order for every open position; add --yes to do it", file=sys.stderr)
        return 2
    body, status = close_all_positions(None, _auth())
    if body.get("orders"):
        print_table(body["orders"], ("position", "orderid"), title="Exit orders")
    if body.get("failed"):
        print_table(body["failed"], ("position", "reason"), title="Not closed")
    print(body.get("message", ""), file=sys.stdout if status == 200 else sys.stderr)
    return 0 if status == 200 else 1


def _cancel_all(args: argparse.Namespace) -> int:
    from ..api.order_api import cancel_all_orders_api

    if not args.yes:
        print("cancel-all cancels every open and trigger-pending order; add --yes to do it", file=sys.stderr)
        return 2
    cancelled, failed = cancel_all_orders_api({}, _auth())
    rows = [{"orderid": oid, "result": "cancelled"} for oid in cancelled]
    rows += [{"orderid": oid, "result": "FAILED"} for oid in failed]
    print_table(rows, ("orderid", "result"), title=f"Cancelled {len(cancelled)}, failed {len(failed)}")
    return 1 if failed else 0
