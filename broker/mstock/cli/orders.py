"""CLI: ``order place|modify|cancel|status|smart``, ``orders``, ``trades``, ``positions``,
``holdings``, ``close-all``, ``cancel-all``.

Every command goes through the same OpenAlgo-facing functions OpenAlgo calls
(``api/order_api.py``) with the saved CLI session. ``order modify`` takes the order id and
only what changes (the rest comes from the order book, as Kite users expect). The two
account-wide commands act only with ``--yes``.
"""

from __future__ import annotations

import argparse
from typing import Any

from ..errors import MStockError, MStockRejected, OrderRejected
from .common import UsageError, auth, book_or_fail, fail, json_option, lookup
from .instruments import instrument_and
from .output import console, print_kv, print_table
from .table import Column, sign_style, status_style

ORDER_COLUMNS = (
    Column("orderid"),
    Column("symbol"),
    Column("exchange", "exch", priority=4),
    Column("action", "side"),
    Column("quantity", "qty"),
    Column("pricetype", "type"),
    Column("price"),
    Column("trigger_price", "trigger", priority=2),
    Column("product", priority=5),
    Column("order_status", "status", style=status_style),
    Column("filled_quantity", "filled", priority=3),
    Column("average_price", "avg price", priority=6),
    Column("timestamp", "time", priority=7),
)
TRADE_COLUMNS = (
    Column("orderid"),
    Column("symbol"),
    Column("exchange", "exch", priority=2),
    Column("product", priority=3),
    Column("action", "side"),
    Column("quantity", "qty"),
    Column("average_price", "price"),
    Column("trade_value", "value", priority=1),
    Column("timestamp", "time", priority=4),
)
POSITION_COLUMNS = (
    Column("symbol"),
    Column("exchange", "exch", priority=2),
    Column("product", priority=1),
    Column("quantity", "qty"),
    Column("average_price", "avg price"),
    Column("ltp"),
    Column("pnl", "P&L", style=sign_style),
)
HOLDING_COLUMNS = (
    Column("symbol"),
    Column("exchange", "exch", priority=2),
    Column("quantity", "qty"),
    Column("product", priority=3),
    Column("average_price", "avg price", priority=1),
    Column("ltp"),
    Column("pnl", "P&L", style=sign_style),
    Column("pnlpercent", "P&L %", style=sign_style),
)
_INSTRUMENT_USAGE = "SYMBOL:EXCHANGE ACTION QUANTITY"
_INSTRUMENT_HELP = "the instrument as SBIN:NSE, NSE:SBIN or SBIN NSE, then BUY or SELL, then the quantity in units"


def register(sub: argparse._SubParsersAction) -> None:
    order = sub.add_parser("order", help="place, modify, cancel, inspect or size (smart) one order")
    actions = order.add_subparsers(dest="order_command", metavar="ACTION", required=True)

    p = actions.add_parser(
        "place",
        help="place an order, e.g. `order place SBIN:NSE BUY 10 --pricetype LIMIT --price 570`",
        usage=f"%(prog)s {_INSTRUMENT_USAGE} [options]",
    )
    p.add_argument("words", nargs="+", metavar=_INSTRUMENT_USAGE, help=_INSTRUMENT_HELP)
    _order_options(p)
    p.add_argument("--amo", action="store_true", help="send as an after-market order (variety AMO)")
    json_option(p)
    p.set_defaults(func=_place)

    p = actions.add_parser(
        "modify",
        help="change an open order: give only what changes, e.g. `order modify 1161241105123 --price 802`",
    )
    p.add_argument("orderid")
    p.add_argument("--price", help="new limit price")
    p.add_argument("--quantity", help="new total quantity in units")
    p.add_argument("--trigger-price", help="new trigger price (SL, SL-M)")
    p.add_argument("--pricetype", type=str.upper, choices=("MARKET", "LIMIT", "SL", "SL-M"), help="new price type")
    p.add_argument("--disclosed-quantity", help="new disclosed quantity")
    json_option(p)
    p.set_defaults(func=_modify)

    p = actions.add_parser("cancel", help="cancel an open order")
    p.add_argument("orderid")
    json_option(p)
    p.set_defaults(func=_cancel)

    p = actions.add_parser("status", help="one order as the order book shows it now (status, fills, rejection reason)")
    p.add_argument("orderid")
    json_option(p)
    p.set_defaults(func=_status)

    p = actions.add_parser(
        "smart", help="trade to a target position (OpenAlgo smart order)", usage=f"%(prog)s {_INSTRUMENT_USAGE} --position-size N [options]"
    )
    p.add_argument("words", nargs="+", metavar=_INSTRUMENT_USAGE, help=_INSTRUMENT_HELP)
    _order_options(p)
    p.add_argument("--position-size", type=int, required=True, help="target net quantity in units (negative = short)")
    json_option(p)
    p.set_defaults(func=_smart)

    for name, helptext, func in (
        ("orders", "today's order book", _orders),
        ("trades", "today's trade book", _trades),
        ("positions", "today's positions with LTP and P&L", _positions),
        ("holdings", "demat holdings with P&L", _holdings),
    ):
        p = sub.add_parser(name, help=helptext)
        json_option(p)
        p.set_defaults(func=func)

    p = sub.add_parser("close-all", help="square off every open position with MARKET orders")
    p.add_argument("--yes", action="store_true", help="really send the orders")
    json_option(p)
    p.set_defaults(func=_close_all)
    p = sub.add_parser("cancel-all", help="cancel every open and trigger-pending order")
    p.add_argument("--yes", action="store_true", help="really cancel")
    json_option(p)
    p.set_defaults(func=_cancel_all)


def _order_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--pricetype", default="MARKET", help="MARKET (default), LIMIT, SL or SL-M")
    p.add_argument("--product", default="MIS", help="MIS (default), CNC or NRML")
    p.add_argument("--price", default="0", help="limit price (LIMIT, SL)")
    p.add_argument("--trigger-price", default="0", help="trigger price (SL, SL-M)")
    p.add_argument("--disclosed-quantity", default="0", help="disclosed quantity")


def _order_data(args: argparse.Namespace) -> dict[str, Any]:
    symbol, exchange, (action, quantity) = instrument_and(args.words, ("ACTION", "QUANTITY"), lookup())
    return {
        "strategy": "cli", "symbol": symbol, "exchange": exchange, "action": action.upper(),
        "quantity": quantity, "pricetype": args.pricetype, "product": args.product, "price": args.price,
        "trigger_price": args.trigger_price, "disclosed_quantity": args.disclosed_quantity,
    }


def _current(orderid: str) -> dict[str, Any]:
    from ..orders.single import current_order
    from ..transport.client import get_client

    return current_order(get_client(auth()), lookup(), orderid)


# ------------------------------------------------------------------ one order


def _place(args: argparse.Namespace) -> int:
    from ..api.order_api import place_order_api

    data = _order_data(args)
    if args.amo:
        data["variety"] = "AMO"
    res, body, orderid = place_order_api(data, auth())
    if res.status != 200:
        fail(body, res.status)
    return _report_placed(str(orderid), body, title="Order placed")


def _report_placed(orderid: str, body: dict[str, Any], *, title: str) -> int:
    """Show the accepted order's id and, from one look at the book, what became of it.

    mStock accepts an order before its risk checks and the exchange have seen it; a
    rejection a moment later must not read as a success.
    """
    result: dict[str, Any] = {**body, "order_status": None, "rejection_reason": ""}
    try:
        row = _current(orderid)
        result.update(order_status=row["order_status"], rejection_reason=row["rejection_reason"])
    except MStockError as exc:
        console().note(f"order {orderid} was accepted; its status could not be read yet ({exc})")
    shown = {"orderid": orderid, "status": result["order_status"] or "accepted (status not yet known)"}
    console().show(result, lambda: print_kv(shown, title=title))
    if result["order_status"] == "rejected":
        raise OrderRejected(f"order {orderid} was rejected: {result['rejection_reason'] or 'no reason given'}")
    return 0


def _modify(args: argparse.Namespace) -> int:
    from ..api.order_api import modify_order
    from ..orders.single import CHANGEABLE, amended

    changes = {
        "price": args.price, "quantity": args.quantity, "trigger_price": args.trigger_price,
        "pricetype": args.pricetype, "disclosed_quantity": args.disclosed_quantity,
    }
    if all(v is None for v in changes.values()):
        raise UsageError("nothing to change: give --price, --quantity, --trigger-price, --pricetype or --disclosed-quantity")
    current = _current(args.orderid)
    data = amended(current, changes)
    body, status = modify_order(data, auth())
    if status != 200:
        fail(body, status)
    changed = {
        k: {"from": _value(current.get(k)), "to": _value(data[k])}
        for k in CHANGEABLE
        if _value(data.get(k)) != _value(current.get(k))
    }
    result = {**body, "changes": changed}
    shown = {"orderid": body.get("orderid", current["orderid"])}
    shown.update({k.replace("_", " "): f"{_text(k, v['from'])} -> {_text(k, v['to'])}" for k, v in changed.items()})
    console().show(result, lambda: print_kv(shown, title="Order modified"))
    return 0


def _value(value: Any) -> Any:
    """A number as a number (the book has floats, the command line strings), text as upper case."""
    try:
        number = float(str(value).replace(",", ""))
    except ValueError:
        return str(value or "").upper()
    return int(number) if number.is_integer() else number


def _text(field: str, value: Any) -> str:
    if field in ("price", "trigger_price") and isinstance(value, (int, float)):
        return f"{value:,.2f}"
    return str(value)


def _cancel(args: argparse.Namespace) -> int:
    from ..api.order_api import cancel_order

    body, status = cancel_order(args.orderid, auth())
    if status != 200:
        fail(body, status)
    console().show(body, lambda: print_kv({"orderid": body.get("orderid", args.orderid), "status": "cancel accepted"},
                                          title="Order cancelled"))
    return 0


def _status(args: argparse.Namespace) -> int:
    row = _current(args.orderid)
    shown = {k: v for k, v in row.items() if v not in ("", None) or k == "order_status"}
    console().show(row, lambda: print_kv(shown, title=f"Order {row['orderid']}"))
    return 0


def _smart(args: argparse.Namespace) -> int:
    from ..api.order_api import place_smartorder_api

    res, body, orderid = place_smartorder_api({**_order_data(args), "position_size": args.position_size}, auth())
    if res is not None and res.status != 200:
        fail(body, res.status)
    if not orderid:  # already at the target position
        console().show(body, lambda: console().line(str(body.get("message", "no order needed"))))
        return 0
    return _report_placed(str(orderid), body, title="Smart order placed")


# ------------------------------------------------------------------ books


def _book(fetch_name: str) -> Any:
    from ..api import order_api

    return book_or_fail(getattr(order_api, fetch_name)(auth()))


def _summary(stats: dict[str, int]) -> str:
    total = stats["total_buy_orders"] + stats["total_sell_orders"]
    return (f"{total} orders: {stats['total_open_orders']} open ({stats['total_trigger_pending_orders']} trigger pending), "
            f"{stats['total_completed_orders']} complete, {stats['total_rejected_orders']} rejected, "
            f"{stats['total_cancelled_orders']} cancelled; {stats['total_buy_orders']} buy, {stats['total_sell_orders']} sell")


def _orders(args: argparse.Namespace) -> int:
    from ..mapping import order_data

    mapped = order_data.map_order_data(order_data=_book("get_order_book"))
    rows = order_data.transform_order_data(mapped)
    stats = order_data.calculate_order_statistics(mapped)

    def human() -> None:
        print_table(rows, ORDER_COLUMNS, title="Orders")
        for row in rows:
            if row.get("rejection_reason"):
                console().paragraph(f"{row['orderid']} rejected: {row['rejection_reason']}")
        console().paragraph(_summary(stats))

    console().show({"orders": rows, "statistics": stats}, human)
    return 0


def _trades(args: argparse.Namespace) -> int:
    from ..mapping import order_data

    rows = order_data.transform_tradebook_data(order_data.map_trade_data(trade_data=_book("get_trade_book")))
    console().show(rows, lambda: print_table(rows, TRADE_COLUMNS, title="Trades"))
    return 0


def _positions(args: argparse.Namespace) -> int:
    from ..mapping import order_data

    rows = order_data.transform_positions_data(order_data.map_position_data(_book("get_positions")))
    console().show(rows, lambda: print_table(rows, POSITION_COLUMNS, title="Positions"))
    return 0


def _holdings(args: argparse.Namespace) -> int:
    from ..mapping import order_data

    mapped = order_data.map_portfolio_data(_book("get_holdings"))
    rows = order_data.transform_holdings_data(mapped)
    totals = order_data.calculate_portfolio_statistics(mapped)

    def human() -> None:
        print_table(rows, HOLDING_COLUMNS, title="Holdings")
        console().line()
        print_kv(totals, title="Totals")

    console().show({"holdings": rows, "statistics": totals}, human)
    return 0


# ------------------------------------------------------------------ account-wide


def _close_all(args: argparse.Namespace) -> int:
    from ..api.order_api import close_all_positions

    if not args.yes:
        raise UsageError("close-all sends a MARKET order for every open position; add --yes to do it")
    body, status = close_all_positions(None, auth())

    def human() -> None:
        if body.get("orders"):
            print_table(body["orders"], ("position", "orderid"), title="Exit orders")
        if body.get("failed"):
            print_table(body["failed"], ("position", "reason"), title="Not closed")
        if status == 200:
            console().line(str(body.get("message", "")))

    console().show(body, human)
    if status != 200:
        fail(body, status)
    return 0


def _cancel_all(args: argparse.Namespace) -> int:
    from ..api.order_api import cancel_all_orders_api

    if not args.yes:
        raise UsageError("cancel-all cancels every open and trigger-pending order; add --yes to do it")
    cancelled, failed = cancel_all_orders_api({}, auth())
    rows = [{"orderid": oid, "result": "cancelled"} for oid in cancelled]
    rows += [{"orderid": oid, "result": "FAILED"} for oid in failed]
    console().show({"cancelled": list(cancelled), "failed": list(failed)},
                   lambda: print_table(rows, ("orderid", "result"), title=f"Cancelled {len(cancelled)}, failed {len(failed)}"))
    if failed:
        raise MStockRejected(f"{len(failed)} order(s) could not be cancelled: {', '.join(failed)}")
    return 0
