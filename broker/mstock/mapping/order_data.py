"""mStock books -> OpenAlgo rows (spec 4.7, 4.10, 5.1, 5.3; contract 5).

OpenAlgo calls these in a fixed order with fixed keyword names (contract 5.1):
``map_order_data(order_data=raw)`` -> ``calculate_order_statistics(m)`` ->
``transform_order_data(m)``; ``map_trade_data(trade_data=raw)`` ->
``transform_tradebook_data(m)``; ``map_position_data(raw)`` -> ``transform_positions_data(m)``;
``map_portfolio_data(raw)`` -> ``calculate_portfolio_statistics(m)`` ->
``transform_holdings_data(m)``. The intermediate ``m`` is a list of OpenAlgo-shaped rows.

Every row names its instrument the OpenAlgo way, found from the row's token, exchange and
instrument type with :func:`resolve_book_instrument` (books report derivatives under
NSE/BSE and use back-office names, spec 4.7). A row whose instrument is not in the symbol
table keeps the broker's name and is logged once: one odd row must not hide the others.
The symbol lookup is a parameter, defaulting to the host's.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from ..records import SymbolRecord
from .book_values import as_float, as_int, clean_order_id, lower_keys, rejection_reason, text, timestamp
from .codes import (
    CANCELLABLE_STATUSES,
    CANCELLED,
    COMPLETE,
    DERIVATIVE_EXCHANGES,
    OPEN,
    REJECTED,
    TRIGGER_PENDING,
    log_unknown_once,
    openalgo_action,
    openalgo_pricetype,
    openalgo_product,
    openalgo_status,
)
from .exchanges import openalgo_exchange_for_book
from .symbols import resolve_book_instrument

if TYPE_CHECKING:
    from ..host import SymbolLookup

def _lookup(lookup: "SymbolLookup | None") -> "SymbolLookup":
    if lookup is not None:
        return lookup
    from .. import host

    return host.symbols()


def book_rows(raw: Any) -> list[Mapping[str, Any]]:
    """The rows of a book as fetched: a list, ``None``/``[]`` for an empty day (spec 4.7),
    or (tolerated) a whole envelope with the rows under ``data``."""
    if raw is None:
        return []
    if isinstance(raw, Mapping):
        raw = raw.get("data")
        if raw is None:
            return []
    if isinstance(raw, list):
        return [row for row in raw if isinstance(row, Mapping)]
    return []


def resolve_row(row: Mapping[str, Any], lookup: "SymbolLookup") -> SymbolRecord | None:
    """The instrument of a lower-cased book row (``ValueError`` for an unknown segment)."""
    token = text(row.get("symboltoken") or row.get("sec_id"))
    itype = text(row.get("instrumenttype") or row.get("instrument_name"))
    return resolve_book_instrument(token, text(row.get("exchange")).upper(), itype, lookup)


def instrument_of(row: Mapping[str, Any], lookup: "SymbolLookup") -> tuple[str, str, SymbolRecord | None]:
    """(OpenAlgo symbol, OpenAlgo exchange, record) of a lower-cased book row."""
    token = text(row.get("symboltoken") or row.get("sec_id"))
    exchange = text(row.get("exchange")).upper()
    itype = text(row.get("instrumenttype") or row.get("instrument_name"))
    name = text(row.get("tradingsymbol") or row.get("symbolname") or row.get("symbol"))
    try:
        record = resolve_row(row, lookup)
    except ValueError as exc:
        log_unknown_once("book instrument", f"{exchange}/{itype}: {exc}")
        return name, exchange, None
    if record is not None:
        return record.symbol, record.exchange, record
    log_unknown_once("book instrument", f"token {token} on {exchange} ({itype or 'no type'})")
    try:
        oa_exchange = openalgo_exchange_for_book(exchange, itype) if exchange else "NSE"
    except ValueError:
        oa_exchange = exchange
    return name, oa_exchange, None


def _product(raw: Any, exchange: str) -> str:
    return openalgo_product(text(raw), derivative=exchange in DERIVATIVE_EXCHANGES)


def _map_rows(
    raw: Any, lookup: "SymbolLookup | None", convert: Callable[[dict[str, Any], "SymbolLookup"], dict[str, Any]]
) -> list[dict[str, Any]]:
    symbols = _lookup(lookup)
    return [convert(lower_keys(row), symbols) for row in book_rows(raw)]


# --- order book ---------------------------------------------------------------------------------


def order_row(row: dict[str, Any], lookup: "SymbolLookup") -> dict[str, Any]:
    """One order-book row (spec 4.7) as OpenAlgo's order row (contract 5.2)."""
    symbol, exchange, _ = instrument_of(row, lookup)
    status = openalgo_status(row.get("status") or row.get("orderstatus"))
    quantity = as_int(row.get("quantity"))
    filled = as_int(row.get("filledshares"))
    # unfilledshares is "0" even for open orders in mStock's own sample (spec 4.7)
    pending = max(0, quantity - filled - as_int(row.get("cancelsize"))) if status in CANCELLABLE_STATUSES else 0
    return {
        "symbol": symbol,
        "exchange": exchange,
        "action": openalgo_action(text(row.get("transactiontype"))),
        "quantity": quantity,
        "price": as_float(row.get("price")),
        "trigger_price": as_float(row.get("triggerprice")),
        "pricetype": openalgo_pricetype(text(row.get("ordertype"))),
        "product": _product(row.get("producttype"), exchange),
        "orderid": clean_order_id(row.get("orderid")),
        "order_status": status,
        "timestamp": timestamp(row.get("updatetime") or row.get("exchorderupdatetime")),
        "filled_quantity": filled,
        "pending_quantity": pending,
        "average_price": as_float(row.get("averageprice")),
        "rejection_reason": rejection_reason(row.get("text")) if status == REJECTED else "",
    }


def map_order_data(order_data: Any, lookup: "SymbolLookup | None" = None) -> list[dict[str, Any]]:
    """Order book (``get_order_book``'s result) -> OpenAlgo order rows."""
    return _map_rows(order_data, lookup, order_row)


def calculate_order_statistics(order_data: list[dict[str, Any]]) -> dict[str, int]:
    """Counts per side and status (contract 5.2); cancelled is not rejected (D20)."""
    counts = {OPEN: 0, TRIGGER_PENDING: 0, COMPLETE: 0, REJECTED: 0, CANCELLED: 0}
    buys = sells = 0
    for row in order_data or []:
        action = row.get("action")
        buys += action == "BUY"
        sells += action == "SELL"
        status = row.get("order_status")
        if status in counts:
            counts[status] += 1
    return {
        "total_buy_orders": buys,
        "total_sell_orders": sells,
        "total_completed_orders": counts[COMPLETE],
        # a trigger-pending stop order is a working order too
        "total_open_orders": counts[OPEN] + counts[TRIGGER_PENDING],
        "total_rejected_orders": counts[REJECTED],
        "total_cancelled_orders": counts[CANCELLED],
        "total_trigger_pending_orders": counts[TRIGGER_PENDING],
    }


def transform_order_data(orders: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The mapped rows as OpenAlgo's order book (copies; ``pricetype`` always a string)."""
    return [dict(row) for row in orders or []]


# --- trade book ---------------------------------------------------------------------------------


def trade_row(row: dict[str, Any], lookup: "SymbolLookup") -> dict[str, Any]:
    """One trade-book row (spec 4.10, UPPER CASE keys) as OpenAlgo's trade row (contract 5.2)."""
    symbol, exchange, _ = instrument_of(row, lookup)
    quantity = as_int(row.get("quantity"))
    price = as_float(row.get("price"))
    value = as_float(row.get("trade_value")) or quantity * price
    return {
        "symbol": symbol,
        "exchange": exchange,
        "product": _product(row.get("product"), exchange),
        "action": openalgo_action(text(row.get("buy_sell"))),
        "quantity": quantity,
        "average_price": price,
        "trade_value": round(value, 2),
        "orderid": clean_order_id(row.get("order_number")),
        "timestamp": timestamp(row.get("order_date_time")),
    }


def map_trade_data(trade_data: Any, lookup: "SymbolLookup | None" = None) -> list[dict[str, Any]]:
    """Trade book (``get_trade_book``'s result) -> OpenAlgo trade rows."""
    return _map_rows(trade_data, lookup, trade_row)


def transform_tradebook_data(trades: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [dict(row) for row in trades or []]


# --- positions ----------------------------------------------------------------------------------


def _side(row: dict[str, Any]) -> tuple[int, float, float, int, float, float]:
    """(buy qty, buy avg, buy value, sell qty, sell avg, sell value), carried-forward included.

    Whether mStock's ``buyqty`` already includes ``cfbuyqty`` is not documented (spec 5.1);
    whichever reading agrees with ``netqty`` is used. Values are the broker's totals when
    they agree with quantity x average (they are exact, the averages are rounded), else
    quantity x average (the totals' scale for currency multipliers is undocumented).
    """
    bq, sq = as_int(row.get("buyqty")), as_int(row.get("sellqty"))
    cbq, csq = as_int(row.get("cfbuyqty")), as_int(row.get("cfsellqty"))
    if (cbq or csq) and bq + cbq - sq - csq == as_int(row.get("netqty")):
        buy_qty, sell_qty = bq + cbq, sq + csq
        buy_avg = as_float(row.get("totalbuyavgprice")) or _weighted(
            bq, as_float(row.get("buyavgprice")), cbq, as_float(row.get("cfbuyavgprice"))
        )
        sell_avg = as_float(row.get("totalsellavgprice")) or _weighted(
            sq, as_float(row.get("sellavgprice")), csq, as_float(row.get("cfsellavgprice"))
        )
    else:
        buy_qty, sell_qty = bq, sq
        buy_avg = as_float(row.get("totalbuyavgprice")) or as_float(row.get("buyavgprice"))
        sell_avg = as_float(row.get("totalsellavgprice")) or as_float(row.get("sellavgprice"))
    buy_value = _value(buy_qty, buy_avg, as_float(row.get("totalbuyvalue")))
    sell_value = _value(sell_qty, sell_avg, as_float(row.get("totalsellvalue")))
    return buy_qty, buy_avg, buy_value, sell_qty, sell_avg, sell_value


def _weighted(q1: int, p1: float, q2: int, p2: float) -> float:
    total = q1 + q2
    return (q1 * p1 + q2 * p2) / total if total else 0.0


def _value(quantity: int, average: float, reported: float) -> float:
    estimate = quantity * average
    if reported and abs(reported - estimate) <= max(0.01, abs(estimate) * 0.005):
        return reported
    return estimate


def position_pnl(row: dict[str, Any], ltp: float | None) -> tuple[float, float | None]:
    """(realised, unrealised) P&L of a lower-cased position row, in rupees, unrounded.

    Realised is the matched quantity's profit, min(bought, sold) x (sell avg - buy avg);
    unrealised is the rest of multiplier x (sell value - buy value + net qty x LTP), so the
    two always add up to the P&L :func:`position_figures` reports. Without an LTP the
    unrealised part of an open position is unknown (``None``); a flat one has none.
    """
    net = as_int(row.get("netqty"))
    buy_qty, buy_avg, buy_value, sell_qty, sell_avg, sell_value = _side(row)
    multiplier = as_float(row.get("multiplier"), 1.0) or 1.0
    realised = min(buy_qty, sell_qty) * (sell_avg - buy_avg) * multiplier
    if ltp is None:
        return realised, (0.0 if net == 0 else None)
    return realised, (sell_value - buy_value + net * ltp) * multiplier - realised


def position_figures(row: dict[str, Any], ltp: float | None) -> tuple[int, float, float]:
    """(net quantity, average price of the open side, P&L) of a lower-cased position row.

    P&L = realised + unrealised = multiplier x (sell value - buy value + net qty x LTP):
    real profit and loss, not ``netvalue`` (D21). Without an LTP only the realised part
    (the matched quantity) can be known, and that is what is reported.
    """
    net = as_int(row.get("netqty"))
    _, buy_avg, _, _, sell_avg, _ = _side(row)
    average = buy_avg if net > 0 else sell_avg if net < 0 else 0.0
    realised, unrealised = position_pnl(row, ltp)
    return net, round(average, 4), round(realised + (unrealised or 0.0), 2)


def known_ltp(row: dict[str, Any]) -> float | None:
    """The LTP ``get_positions`` attached to a (lower-cased) row, ``None`` when it has none."""
    ltp = as_float(row.get("ltp"), -1.0)
    return ltp if ltp >= 0 and "ltp" in row else None


def position_row(row: dict[str, Any], lookup: "SymbolLookup") -> dict[str, Any]:
    """One position (spec 5.1, plus the ``ltp`` ``get_positions`` attaches) as OpenAlgo's row."""
    symbol, exchange, _ = instrument_of(row, lookup)
    ltp = known_ltp(row)
    net, average, pnl = position_figures(row, ltp)
    return {
        "symbol": symbol,
        "exchange": exchange,
        "product": _product(row.get("producttype"), exchange),
        "quantity": net,
        "average_price": average,
        "ltp": ltp if ltp is not None else 0.0,
        "pnl": pnl,
    }


def map_position_data(position_data: Any, lookup: "SymbolLookup | None" = None) -> list[dict[str, Any]]:
    """Position book (``get_positions``'s result) -> OpenAlgo position rows."""
    return _map_rows(position_data, lookup, position_row)


def transform_positions_data(positions: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [dict(row) for row in positions or []]


# --- holdings -----------------------------------------------------------------------------------


def holding_row(row: dict[str, Any], lookup: "SymbolLookup") -> dict[str, Any]:
    """One holding (spec 5.3: numbers, ``exchange``/``product`` null, company name as symbol)."""
    symbol, exchange, _ = instrument_of(row, lookup)
    quantity = as_int(row.get("quantity"))
    average = as_float(row.get("averageprice"))
    ltp = as_float(row.get("ltp"))
    # mStock sends 0 for both even when LTP and cost differ (spec 5.3 sample): compute them.
    pnl = as_float(row.get("profitandloss"))
    if not pnl and ltp:
        pnl = (ltp - average) * quantity
    pnl_percent = as_float(row.get("pnlpercentage"))
    if not pnl_percent and ltp and average:
        pnl_percent = (ltp - average) / average * 100
    return {
        "symbol": symbol,
        "exchange": exchange,
        "quantity": quantity,
        # holdings are delivery positions; mStock sends product null (spec 5.3)
        "product": openalgo_product(text(row.get("product")), derivative=False),
        "pnl": round(pnl, 2),
        "pnlpercent": round(pnl_percent, 2),
        "average_price": average,
        "ltp": ltp,
    }


def map_portfolio_data(portfolio_data: Any, lookup: "SymbolLookup | None" = None) -> list[dict[str, Any]]:
    """Holdings (``get_holdings``'s result) -> OpenAlgo holding rows."""
    return _map_rows(portfolio_data, lookup, holding_row)


def calculate_portfolio_statistics(holdings: list[dict[str, Any]]) -> dict[str, float]:
    """Totals over the holdings (contract 5.2)."""
    holding_value = sum(row["quantity"] * row["ltp"] for row in holdings or [])
    invested = sum(row["quantity"] * row["average_price"] for row in holdings or [])
    pnl = sum(row["pnl"] for row in holdings or [])
    return {
        "totalholdingvalue": round(holding_value, 2),
        "totalinvvalue": round(invested, 2),
        "totalprofitandloss": round(pnl, 2),
        "totalpnlpercentage": round(pnl / invested * 100, 2) if invested else 0.0,
    }


def transform_holdings_data(holdings: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [dict(row) for row in holdings or []]
