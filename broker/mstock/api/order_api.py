"""OpenAlgo's order functions for mStock Type B (contract 0 rows 3-13, 4.2; spec 4, 5).

Each function gets the shared client and the host's symbol lookup, calls one function of
:mod:`broker.mstock.orders`, and is wrapped by one boundary decorator that turns
exceptions into the shape OpenAlgo expects. Returns:

* ``place_order_api``, ``place_smartorder_api`` -> ``(BrokerResponse, dict, orderid | None)``;
  ``res.status`` is 200 only when mStock accepted the order.
* ``modify_order``, ``cancel_order``, ``close_all_positions`` -> ``(dict, status)``.
* ``cancel_all_orders_api`` -> ``(cancelled ids, failed ids)``.
* ``get_order_book`` & co. -> the raw rows, or ``{"status": "error", "message": ...}``.
* ``get_open_position`` -> net quantity as a string.

Smart orders: OpenAlgo's test/test_smartorder_logic.py reads this file's text for the
infrastructure every broker has, the ~1 s position cache (``_get_cached_positions``,
``_invalidate_position_cache``) and the per-instrument ``_get_symbol_lock`` held as a
``symbol_lock`` around "read position, decide, place". Here they are
``get_cached_positions``, ``invalidate_position_cache`` and ``get_symbol_lock`` in
``orders/positions.py``, the order logic's module that does ``import threading`` and
``import time``; ``get_open_position`` reads positions through that cache.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .. import host
from ..orders import book, bulk, placement, portfolio, smart
from ..transport.client import get_client
from .boundary import (
    AuthToken,
    BrokerResponse,
    checks_arguments,
    returns_dict_status,
    returns_error_dict,
    returns_order_tuple,
)


def _accepted(orderid: str) -> tuple[BrokerResponse, dict[str, Any], str]:
    body = {"status": "success", "orderid": orderid}
    return BrokerResponse(200, body), body, orderid


@returns_order_tuple
def place_order_api(data: Mapping[str, Any], auth: AuthToken):
    """Place an order. Returns ``(res, response_data, orderid)``; ``res.status`` 200 = accepted."""
    return _accepted(placement.place(get_client(auth), data, host.symbols()))


@returns_order_tuple
def place_smartorder_api(data: Mapping[str, Any], auth: AuthToken):
    """Place whatever order brings the position to ``position_size`` (contract 4.2).

    Returns ``(None, {"status": "success", "message": "...No action needed..."}, None)``
    when nothing is to be done, else ``place_order_api``'s tuple.
    """
    orderid = smart.place_smart_order(get_client(auth), data, host.symbols())
    if orderid is None:
        return None, {"status": "success", "message": smart.NO_ACTION_MESSAGE}, None
    return _accepted(orderid)


@returns_dict_status
def modify_order(data: Mapping[str, Any], auth: AuthToken):
    """Modify an open order. Returns ``({"status": "success", "orderid": ...}, 200)`` or an error pair."""
    return placement.modify(get_client(auth), data, host.symbols()), 200


@returns_dict_status
def cancel_order(orderid: str | int | None, auth: AuthToken):
    """Cancel one order with its real variety. Returns ``(dict, status)``."""
    return placement.cancel(get_client(auth), orderid), 200


@checks_arguments
def cancel_all_orders_api(data: Any, auth: AuthToken) -> tuple[list[str], list[str]]:
    """Cancel every open and trigger-pending order. Returns ``(cancelled ids, failed ids)``.

    No boundary decorator: OpenAlgo's contract has no error shape for this function, and
    ``([], [])`` would report "0 cancelled" as a success. An unreadable order book raises,
    which OpenAlgo reports as a failed cancel-all (contract 4.2).
    """
    return bulk.cancel_all(get_client(auth))


@returns_dict_status
def close_all_positions(api_key: Any, auth: AuthToken):
    """Square off every open position. Returns ``(dict, status)``; partial failure is an error."""
    return bulk.close_all(get_client(auth), host.symbols())


@checks_arguments
def get_open_position(tradingsymbol: str, exchange: str, product: str, auth: AuthToken) -> str:
    """Net quantity of (symbol, exchange, product) as a string, ``"0"`` when flat.

    ``product`` may be OpenAlgo's (CNC/MIS/NRML) or mStock's (DELIVERY/INTRADAY/CARRYFORWARD).
    A failed position fetch raises instead of answering "0" (D2).
    """
    return str(smart.open_position(get_client(auth), host.symbols(), tradingsymbol, exchange, product))


@returns_error_dict
def get_order_book(auth: AuthToken):
    """Today's order rows (``[]`` on an empty day) or ``{"status": "error", ...}``."""
    return book.order_rows(get_client(auth))


@returns_error_dict
def get_trade_book(auth: AuthToken):
    """Today's trade rows (``[]`` on an empty day) or ``{"status": "error", ...}``."""
    return book.trade_rows(get_client(auth))


@returns_error_dict
def get_positions(auth: AuthToken):
    """Position rows with ``ltp`` attached to the open ones, or ``{"status": "error", ...}``."""
    return portfolio.positions_with_ltp(get_client(auth), host.symbols())


@returns_error_dict
def get_holdings(auth: AuthToken):
    """Holding rows (``[]`` when there are none) or ``{"status": "error", ...}``."""
    return portfolio.fetch_holdings(get_client(auth))
