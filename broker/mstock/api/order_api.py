"""OpenAlgo's order functions for mStock Type B (contract 0 rows 3-13, 4.2; spec 4, 5).

A thin facade: each function gets the shared client and the host's symbol lookup, calls
the logic in :mod:`broker.mstock.orders`, and is wrapped by one boundary decorator that
turns exceptions into the shape OpenAlgo expects. Returns:

* ``place_order_api``, ``place_smartorder_api`` -> ``(BrokerResponse, dict, orderid | None)``;
  ``res.status`` is 200 only when mStock accepted the order.
* ``modify_order``, ``cancel_order``, ``close_all_positions`` -> ``(dict, status)``.
* ``cancel_all_orders_api`` -> ``(cancelled ids, failed ids)``.
* ``get_order_book`` & co. -> the raw rows, or ``{"status": "error", "message": ...}``.
* ``get_open_position`` -> net quantity as a string.

Smart orders hold a per-(symbol, exchange, product) lock around "read position, decide,
place", read positions through a ~1 s cache, and invalidate it after every placement
(contract 4.2, 15). The cache and the lock registry are bounded and thread-safe; a fetch
that started before an invalidation is never cached, so a smart order can never act on a
position book older than the last order it placed.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Iterator, Mapping
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from typing import Any

from .. import host
from ..mapping.codes import PRODUCT_FROM_MSTOCK
from ..mapping.symbols import require_instrument
from ..mapping.transform_data import tradable_instrument
from ..orders import bulk, placement, portfolio, smart
from .boundary import BrokerResponse, returns_dict_status, returns_error_dict, returns_order_tuple
from .client import get_client

log = host.get_logger(__name__)

POSITION_CACHE_TTL = 1.0  # seconds (contract 4.2)
_MAX_CACHED_SESSIONS = 16


# --- position cache ------------------------------------------------------------------------------


@dataclass
class _CachedPositions:
    fetched_at: float
    generation: int
    rows: list[Mapping[str, Any]]


_cache_lock = threading.Lock()
_position_cache: OrderedDict[str, _CachedPositions] = OrderedDict()
_generations: OrderedDict[str, int] = OrderedDict()


def _get_cached_positions(auth: str) -> list[Mapping[str, Any]]:
    """The position rows of ``auth``'s account, at most ``POSITION_CACHE_TTL`` seconds old.

    A failed fetch raises: a smart order must never assume a flat position (D2).
    """
    with _cache_lock:
        generation = _generations.get(auth, 0)
        cached = _position_cache.get(auth)
        if cached and cached.generation == generation and time.monotonic() - cached.fetched_at < POSITION_CACHE_TTL:
            return cached.rows
    rows = portfolio.fetch_positions(get_client(auth))
    with _cache_lock:
        # Cache only if no order was placed while we were fetching (the rows could predate it).
        if _generations.get(auth, 0) == generation:
            _position_cache[auth] = _CachedPositions(time.monotonic(), generation, rows)
            _position_cache.move_to_end(auth)
            while len(_position_cache) > _MAX_CACHED_SESSIONS:
                _position_cache.popitem(last=False)
    return rows


def _invalidate_position_cache(auth: str) -> None:
    """Forget ``auth``'s cached positions, including any fetch still in flight."""
    with _cache_lock:
        _position_cache.pop(auth, None)
        _generations[auth] = _generations.get(auth, 0) + 1
        _generations.move_to_end(auth)
        while len(_generations) > _MAX_CACHED_SESSIONS * 4:
            stale, _ = _generations.popitem(last=False)
            _position_cache.pop(stale, None)


# --- per-instrument locks ----------------------------------------------------------------------------


class _SymbolLocks:
    """One lock per (symbol, exchange, product), kept only while someone holds or waits on it."""

    def __init__(self) -> None:
        self._guard = threading.Lock()
        self._locks: dict[tuple[str, str, str], tuple[threading.Lock, int]] = {}

    @contextmanager
    def hold(self, key: tuple[str, str, str]) -> Iterator[None]:
        with self._guard:
            lock, users = self._locks.get(key, (None, 0))
            lock = lock or threading.Lock()
            self._locks[key] = (lock, users + 1)
        try:
            with lock:
                yield
        finally:
            with self._guard:
                _, users = self._locks[key]
                if users == 1:
                    del self._locks[key]
                else:
                    self._locks[key] = (lock, users - 1)

    def __len__(self) -> int:
        with self._guard:
            return len(self._locks)


_symbol_locks = _SymbolLocks()


def _get_symbol_lock(symbol: str, exchange: str, product: str) -> AbstractContextManager[None]:
    """A context manager serialising smart orders for one (symbol, exchange, product)."""
    return _symbol_locks.hold((symbol.upper(), exchange.upper(), product.upper()))


def reset_for_tests() -> None:
    with _cache_lock:
        _position_cache.clear()
        _generations.clear()


# --- orders ------------------------------------------------------------------------------------------


def _place(data: dict[str, Any], auth: str) -> tuple[BrokerResponse, dict[str, Any], str]:
    """Place through the shared client; the cached positions are stale afterwards, whatever happened."""
    try:
        orderid = placement.place(get_client(auth), data, host.symbols())
    finally:
        _invalidate_position_cache(auth)
    body = {"status": "success", "orderid": orderid}
    return BrokerResponse(200, body), body, orderid


@returns_order_tuple
def place_order_api(data: dict[str, Any], auth: str):
    """Place an order. Returns ``(res, response_data, orderid)``; ``res.status`` 200 = accepted."""
    return _place(data, auth)


@returns_order_tuple
def place_smartorder_api(data: dict[str, Any], auth: str):
    """Place whatever order brings the position to ``position_size`` (contract 4.2).

    Returns ``(None, {"status": "success", "message": "...No action needed..."}, None)``
    when nothing is to be done, else ``place_order_api``'s tuple.
    """
    request = smart.parse_smart(data)
    lookup = host.symbols()
    record = tradable_instrument(request.symbol, request.exchange, lookup)
    symbol_lock = _get_symbol_lock(record.symbol, record.exchange, request.product)
    with symbol_lock:
        current = smart.net_position(_get_cached_positions(auth), record, request.product, lookup)
        action, quantity = smart.decide(request.action, request.quantity, request.position_size, current)
        if action is None:
            return None, {"status": "success", "message": smart.NO_ACTION_MESSAGE}, None
        log.info("smart order %s %s %s: position %d -> %d, %s %d", record.symbol, record.exchange,
                 request.product, current, request.position_size, action, quantity)
        # _place invalidates the position cache (_invalidate_position_cache) before the lock
        # is released, so the next smart order for this instrument reads the book afresh.
        return _place({**data, "action": action, "quantity": quantity}, auth)


@returns_dict_status
def modify_order(data: dict[str, Any], auth: str):
    """Modify an open order. Returns ``({"status": "success", "orderid": ...}, 200)`` or an error pair."""
    try:
        return placement.modify(get_client(auth), data, host.symbols()), 200
    finally:
        _invalidate_position_cache(auth)  # a new price can fill the order at once


@returns_dict_status
def cancel_order(orderid: str, auth: str):
    """Cancel one order with its real variety. Returns ``(dict, status)``."""
    return placement.cancel(get_client(auth), orderid), 200


def cancel_all_orders_api(data: dict[str, Any], auth: str) -> tuple[list[str], list[str]]:
    """Cancel every open and trigger-pending order. Returns ``(cancelled ids, failed ids)``.

    No boundary decorator: OpenAlgo's contract has no error shape for this function, and
    ``([], [])`` would report "0 cancelled" as a success. An unreadable order book raises,
    which OpenAlgo reports as a failed cancel-all (contract 4.2).
    """
    return bulk.cancel_all(get_client(auth))


@returns_dict_status
def close_all_positions(api_key: str, auth: str):
    """Square off every open position. Returns ``(dict, status)``; partial failure is an error."""
    try:
        return bulk.close_all(get_client(auth), host.symbols())
    finally:
        _invalidate_position_cache(auth)


def get_open_position(tradingsymbol: str, exchange: str, product: str, auth: str) -> str:
    """Net quantity of (symbol, exchange, product) as a string, ``"0"`` when flat.

    ``product`` may be OpenAlgo's (CNC/MIS/NRML) or mStock's (DELIVERY/INTRADAY/CARRYFORWARD).
    A failed position fetch raises instead of answering "0" (D2).
    """
    lookup = host.symbols()
    record = require_instrument(tradingsymbol, exchange, lookup)
    oa_product = PRODUCT_FROM_MSTOCK.get(str(product or "").strip().upper(), str(product or "").strip().upper())
    return str(smart.net_position(_get_cached_positions(auth), record, oa_product, lookup))


# --- books --------------------------------------------------------------------------------------------


@returns_error_dict
def get_order_book(auth: str):
    """Today's order rows (``[]`` on an empty day) or ``{"status": "error", ...}``."""
    return get_client(auth).call("orders.list") or []


@returns_error_dict
def get_trade_book(auth: str):
    """Today's trade rows (``[]`` on an empty day) or ``{"status": "error", ...}``."""
    return get_client(auth).call("orders.trades") or []


@returns_error_dict
def get_positions(auth: str):
    """Position rows with ``ltp`` attached to the open ones, or ``{"status": "error", ...}``."""
    return portfolio.positions_with_ltp(get_client(auth), host.symbols())


@returns_error_dict
def get_holdings(auth: str):
    """Holding rows (``[]`` when there are none) or ``{"status": "error", ...}``."""
    return portfolio.fetch_holdings(get_client(auth))
