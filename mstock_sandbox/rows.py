"""Book rows in mStock's exact formats (spec 4.7, 4.9, 4.10, 4.11, 5.1, 5.3, 6).

Order book, positions, fund summary and trade history: every value a string. Order
details: prices as numbers. Trade book: UPPERCASE keys, mixed types. Holdings: numbers,
``exchange``/``product`` null, ``tradingsymbol`` = company name. Derivatives appear under
NSE/BSE with back-office names (``ACC-28Nov2024-2400-CE``).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from .instruments import Instrument, fmt_book_time, fmt_day, fmt_number
from .orders import BOOK_ORDER_TYPE, Order, Trade
from .portfolio import Holding, Portfolio, Position


def _money(value: float) -> str:
    return f"{value:.2f}"


def _strike(inst: Instrument) -> str:
    if inst.is_option:
        return fmt_number(inst.strike or 0.0)
    return "-0.01" if inst.is_future else "0"  # futures show -0.01 (spec 4.7)


def _option_type(inst: Instrument) -> str:
    return inst.option_type or "XX"


def _expiry(inst: Instrument, trade_day: datetime, style: str) -> str:
    # Equity rows carry the trade date as expiry in the order book (spec 4.7).
    if inst.expiry is not None:
        return fmt_day(inst.expiry, style)
    return fmt_day(trade_day.date(), style) if style == "ymd" else ""


def order_book_row(order: Order, *, ordertag: bool = True) -> dict[str, Any]:
    """A row of ``GET /orders`` (spec 4.7); ``ordertag=False`` leaves the tag out, as a
    server that does not echo it would (``SandboxConfig.ordertag_echo``)."""
    inst = order.inst
    limit_priced = order.ordertype in ("LIMIT", "STOPLOSS_LIMIT")
    at_exchange = order.exchange_time is not None
    row = {
        "variety": None,  # always null in the book (spec 4.1)
        "ordertype": BOOK_ORDER_TYPE[order.ordertype],
        "producttype": order.product,
        "duration": order.duration,
        "price": _money(order.price) if limit_priced else "0",
        "triggerprice": fmt_number(order.trigger),
        "quantity": str(order.quantity),
        "disclosedquantity": str(order.disclosed),
        "squareoff": "0",
        "stoploss": "0",
        "trailingstoploss": "0",
        "tradingsymbol": inst.backoffice_name,
        "transactiontype": order.side,
        "exchange": inst.book_exchange,
        "symboltoken": inst.token,
        "instrumenttype": inst.book_instrumenttype,
        "strikeprice": _strike(inst),
        "optiontype": _option_type(inst),
        "expirydate": _expiry(inst, order.placed, "ymd"),
        "lotsize": "",
        "cancelsize": str(order.cancelled),
        "averageprice": fmt_number(order.avg_price),
        "filledshares": str(order.filled),
        # The DOC sample shows "0" even for open orders (spec 4.7): clients must compute
        # pending = quantity - filledshares - cancelsize, so the sandbox keeps the quirk.
        "unfilledshares": "0",
        "orderid": order.orderid,
        "text": order.text,
        "status": order.status,
        "orderstatus": order.status,
        "updatetime": fmt_book_time(order.updated),
        "exchtime": fmt_book_time(order.exchange_time) if at_exchange else "",
        "exchorderupdatetime": fmt_book_time(order.updated) if at_exchange else "",
        "fillid": order.fill_id,
        "filltime": fmt_book_time(order.fill_time) if order.fill_time else "",
        "parentorderid": "",
        "ordertag": order.ordertag,
        "uniqueorderid": "",
        "exchangeorderid": order.exchange_orderid,
    }
    if not ordertag:
        del row["ordertag"]
    return row


def fill_row(order: Order, trade: Trade, *, ordertag: bool = True) -> dict[str, Any]:
    """A trade update's ``orderData`` (spec 11.4): the order's book row plus this fill's
    ``fillid``, ``filltime``, ``fillsize`` and ``fillprice`` (strings, like the row)."""
    row = order_book_row(order, ordertag=ordertag)
    row.update(
        fillid=trade.trade_no,
        filltime=fmt_book_time(trade.time),
        fillsize=str(trade.quantity),
        fillprice=fmt_number(trade.price),
    )
    return row


def order_details_row(order: Order) -> dict[str, Any]:
    """``order/details`` (spec 4.9): the book row with numeric prices and a 12-hour time;
    it always carries ``ordertag``."""
    row = order_book_row(order)
    row.update(
        price=round(order.price, 2),
        triggerprice=round(order.trigger, 2),
        squareoff=0,
        stoploss=0,
        trailingstoploss=0,
        strikeprice=float(order.inst.strike or 0) if order.inst.is_option else 0,
        optiontype=order.inst.option_type or "",
        updatetime=order.updated.strftime("%d-%m-%Y %I:%M:%S %p"),
    )
    return row


def trade_book_row(trade: Trade, number: int, client_code: str) -> dict[str, Any]:
    order, inst = trade.order, trade.order.inst
    return {
        "ALGO_ID": "0",
        "BUY_SELL": "Buy" if order.side == "BUY" else "Sell",
        "CLIENT_ID": client_code,
        "ENCASH_FLG": "N",
        "EXCHANGE": inst.book_exchange,
        "EXCH_ORDER_NUMBER": order.exchange_orderid,
        # [UNKNOWN] for derivatives; the sandbox uses the position book's DD-Mon-YYYY.
        "EXPIRY_DATE": fmt_day(inst.expiry, "dmy") if inst.expiry else "0",
        "FULL_SYMBOL": inst.company_name if inst.is_equity else inst.backoffice_name,
        "GTC_FLG": "N",
        "INSTRUMENT_NAME": inst.book_instrumenttype,
        "MKT_PROTECT_FLG": "N",
        "MKT_PROTECT_VAL": 0,
        "MKT_TYPE": "NL",
        "OPT_TYPE": _option_type(inst),
        "ORDER_DATE_TIME": trade.time.strftime("%d-%m-%Y %H:%M:%S"),
        "ORDER_NUMBER": order.orderid,
        "ORDER_TYPE": BOOK_ORDER_TYPE[order.ordertype],
        "PAN_NO": "ABCPXXXXXX",
        "PARTICIPANT_TYPE": "B",
        "PRICE": round(trade.price, 4),
        "PRODUCT": "CNC" if order.product == "DELIVERY" else order.product,
        "QUANTITY": trade.quantity,
        "R": number,
        "REMARKS1": "NA",
        "REMARKS2": "NA",
        "SEC_ID": inst.token,
        "SEGMENT": inst.segment,
        "SETTLOR": "90144",
        "SOURCE_FLG": "API",  # the DOC sample (a web order) says WEB; API orders' value is [UNKNOWN]
        "STRIKE_PRICE": float(inst.strike or 0) if inst.is_option else 0,
        "SYMBOL": inst.backoffice_name,
        "TRADE_NUMBER": trade.trade_no,
        "TRADE_VALUE": round(trade.price * trade.quantity, 2),
    }


def trade_history_row(trade: Trade) -> dict[str, str]:
    """``trades`` (spec 4.11): all strings; tradingsymbol holds the company name."""
    order, inst = trade.order, trade.order.inst
    return {
        "exchange": inst.book_exchange,
        "producttype": order.product,
        "tradingsymbol": inst.company_name if inst.is_equity else inst.backoffice_name,
        "instrumenttype": "" if inst.is_equity else inst.instrumenttype,
        "symbolgroup": "",
        "strikeprice": fmt_number(inst.strike) if inst.is_option and inst.strike else "",
        "optiontype": inst.option_type or "",
        "expirydate": fmt_day(inst.expiry, "dmy") if inst.expiry else "",
        "marketlot": "",
        "precision": "",
        "multiplier": "",
        "tradevalue": "",
        "transactiontype": order.side,
        "fillprice": fmt_number(trade.price),
        "fillsize": str(trade.quantity),
        "orderid": order.exchange_orderid,
        "fillid": trade.trade_no,
        "filltime": trade.time.strftime("%H:%M:%S"),
    }


def position_row(position: Position) -> dict[str, str]:
    inst = position.inst
    return {
        "exchange": inst.book_exchange,
        "symboltoken": inst.token,
        "producttype": position.product,
        "tradingsymbol": "",  # empty in the DOC sample: match positions by token (spec 5.1)
        "symbolname": inst.backoffice_name,
        "instrumenttype": inst.book_instrumenttype,
        "priceden": "",
        "pricenum": "",
        "genden": "",
        "gennum": "",
        "precision": "",
        "multiplier": "1",
        "boardlotsize": "",
        "buyqty": str(position.buy_qty),
        "sellqty": str(position.sell_qty),
        # Average prices, not values, despite the names (spec 5.1).
        "buyamount": fmt_number(position.buy_avg),
        "sellamount": fmt_number(position.sell_avg),
        "symbolgroup": "",
        "strikeprice": _strike(inst),
        "optiontype": _option_type(inst),
        "expirydate": fmt_day(inst.expiry, "dmy") if inst.expiry else "",
        "lotsize": str(inst.lotsize),
        "cfbuyqty": "0",
        "cfsellqty": "0",
        "cfbuyamount": "",
        "cfsellamount": "",
        "buyavgprice": fmt_number(position.buy_avg),
        "sellavgprice": fmt_number(position.sell_avg),
        "avgnetprice": fmt_number(position.net_price),
        "netvalue": fmt_number(position.sell_value - position.buy_value),
        "netqty": str(position.net_qty),
        "totalbuyvalue": fmt_number(position.buy_value),
        "totalsellvalue": fmt_number(position.sell_value),
        "cfbuyavgprice": "0",
        "cfsellavgprice": "0",
        "totalbuyavgprice": "",
        "totalsellavgprice": "",
        "netprice": fmt_number(position.net_price),
    }


def holding_row(holding: Holding, ltp: float, close: float) -> dict[str, Any]:
    inst = holding.inst
    return {
        "tradingsymbol": inst.company_name,
        "exchange": None,
        "isin": inst.isin,
        "t1quantity": 0,
        "realisedquantity": holding.quantity,
        "quantity": holding.quantity,
        "authorisedquantity": 0,
        "product": None,
        "collateralquantity": 0,
        "collateraltype": None,
        "haircut": 0,
        "averageprice": holding.avg_price,
        "ltp": ltp,
        "symboltoken": inst.token,
        "close": close,
        # Zero in the DOC sample even with ltp != average (spec 5.3): clients compute P&L.
        "profitandloss": 0,
        "pnlpercentage": 0,
    }


def fund_row(portfolio: Portfolio, *, available: float, used: float, unrealised: float) -> dict[str, str]:
    opening = portfolio.opening_balance
    realised = portfolio.realised()
    return {
        "ADDITIONAL_MARGIN": "0.0",
        "ADHOC_LIMIT": "0",
        "AMOUNT_UTILIZED": _money(used),
        "AVAILABLE_BALANCE": _money(available),
        "BANK_HOLDING": _money(opening),
        "CLEAR_BALANCE": _money(opening),
        "COLLATERALS": "0",
        "LIMIT_SOD": _money(opening),
        "LIMIT_TYPE": "CAPITAL",
        "MF_COLLATERAL": "0.0",
        "MTF_AVAILABLE_BALANCE": _money(available),
        "MTF_COLLATERAL": "0.0",
        "MTF_UTILIZE": "0.0",
        "MTM_COMBINED": _money(unrealised),
        "OFS_UTILIZED": "0.0",
        "OPT_BUY_PRIMIUM_UTILIZE": _money(portfolio.option_premium_used()),  # sic, spec 6
        "PAY_OUT_AMT": "0.0",
        "PEAK_MARGIN": _money(portfolio.peak_margin),
        "PHYSICAL_MARGIN": "0.0",
        "REALISED_PROFITS": _money(realised),
        "RECEIVABLES": "0",
        "SEG": "A",
        "SUM_OF_ALL": _money(opening + realised),
        "UNCLEAR_BALANCE": "0",
    }


def positions_rows(portfolio: Portfolio) -> list[dict[str, str]]:
    return [position_row(p) for p in portfolio.positions.values()]


def holdings_rows(portfolio: Portfolio, quote: Callable[[Instrument], tuple[float, float]]) -> list[dict[str, Any]]:
    rows = []
    for holding in portfolio.holdings.values():
        ltp, close = quote(holding.inst)
        rows.append(holding_row(holding, ltp, close))
    return rows
