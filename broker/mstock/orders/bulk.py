"""Cancel all and close all, concurrently and truthfully (contract 4.2; D5, D23).

Both read the book first (a failed read is an error, never "nothing to do"), then send one
request per order in a small thread pool, so fifty requests take about as long as the
limits allow rather than fifty round trips in a row. Every outcome is reported; nothing
is assumed.

Close-all never sends an exit twice: runs are serialised, and quantity already covered by
working MARKET orders in the exit direction (the exits of an earlier run that have not
filled yet) is subtracted before anything is sent.

Pacing: the broker counts requests by arrival time, and requests sent in a burst arrive
spread by network jitter; the shared limiter tolerates 0.1 s of it for orders (see
``transport/ratelimit.py``), and a refused write is never retried. Bursts of dozens
of writes are only produced here, so bulk writes also pass a private limiter of
:data:`BULK_PACE` (25 per 1.2 s): it absorbs more jitter and leaves room for single orders
other threads place meanwhile. Fifty writes then take about 1.2 s instead of 1 s.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

from ..errors import MStockError, http_status_for
from ..host import get_logger
from ..mapping.book_values import as_int, lower_keys, text
from ..mapping.codes import CANCELLABLE_STATUSES, DERIVATIVE_EXCHANGES, openalgo_product
from ..mapping.order_data import resolve_row
from ..transport.client import MStockClient
from ..transport.ratelimit import LazyLimiter, RateLimiter
from ..transport.routes import Category
from .book import BookOrder, fetch_orders
from .placement import cancel_known, place
from .portfolio import fetch_positions

if TYPE_CHECKING:
    from ..host import SymbolLookup

log = get_logger(__name__)

MAX_WORKERS = 10
# Bulk cancel/close also pass this stricter private pace on top of the shared order
# limiter: it leaves a few slots of mStock's 30/s for orders that strategies fire while a
# flatten is running, and extra slack for arrival jitter (a refused order is not retried).
BULK_PACE: tuple[int, float] = (25, 1.2)  # requests per window, window seconds
NO_POSITIONS = {"message": "No Open Positions Found"}

_pace = LazyLimiter(lambda: RateLimiter({Category.ORDER: (BULK_PACE,)}))
# One close-all at a time: a second click must read the positions after the first one's
# exits, never the same open positions (it would send every exit twice, reversing them).
_close_all_lock = threading.Lock()


def _bulk_pace() -> RateLimiter:
    return _pace()


def reset_for_tests() -> None:
    _pace.replace(None)


T = TypeVar("T")
R = TypeVar("R")


def run_concurrently(items: Sequence[T], work: Callable[[T], R]) -> list[R | MStockError]:
    """``work(item)`` for every item in a bounded pool; results (or errors) in input order."""
    if not items:
        return []

    def attempt(item: T) -> R | MStockError:
        try:
            _bulk_pace().acquire(Category.ORDER)
            return work(item)
        except MStockError as exc:
            return exc

    with ThreadPoolExecutor(max_workers=min(MAX_WORKERS, len(items)), thread_name_prefix="mstock-bulk") as pool:
        return list(pool.map(attempt, items))


def cancel_all(client: MStockClient) -> tuple[list[str], list[str]]:
    """Cancel every open and trigger-pending order; return (cancelled ids, failed ids).

    mStock orders carry no OpenAlgo strategy, so the request's ``strategy`` cannot narrow
    the selection: like the broker's own cancel-all, this covers the whole account.
    """
    targets = [order for order in fetch_orders(client) if order.status in CANCELLABLE_STATUSES]
    outcomes = run_concurrently(targets, lambda order: cancel_known(client, order))
    cancelled, failed = [], []
    for order, outcome in zip(targets, outcomes):
        if isinstance(outcome, MStockError):
            log.warning("cancel-all: order %s not cancelled: %s", order.orderid, outcome)
            failed.append(order.orderid)
        else:
            cancelled.append(order.orderid)
    return cancelled, failed


@dataclass(frozen=True)
class _Exit:
    label: str
    order: dict[str, Any] | None
    problem: str | None = None
    key: tuple[str, str, str, str] | None = None  # (symbol, exchange, product, action)


def _exits_in_flight(orders: Sequence[BookOrder], lookup: "SymbolLookup") -> Counter[tuple[str, str, str, str]]:
    """Unfilled quantity of working MARKET orders per (symbol, exchange, product, action).

    Only MARKET orders count as exits in flight: a resting stop-loss or target is not an
    exit, and close-all must still flatten the position now.
    """
    pending: Counter[tuple[str, str, str, str]] = Counter()
    for order in orders:
        if order.pricetype != "MARKET" or order.status not in CANCELLABLE_STATUSES:
            continue
        fields = lower_keys(order.row)
        try:
            record = resolve_row(fields, lookup)
        except ValueError:
            record = None
        if record is None:
            log.warning("close-all: working MARKET order %s is for an unknown instrument", order.orderid)
            continue
        product = openalgo_product(text(fields.get("producttype")), derivative=record.exchange in DERIVATIVE_EXCHANGES)
        unfilled = order.quantity - order.filled - as_int(fields.get("cancelsize"))
        if unfilled > 0:
            pending[(record.symbol, record.exchange, product, order.action)] += unfilled
    return pending


def _exit_for(row: dict[str, Any], lookup: "SymbolLookup") -> _Exit:
    fields = lower_keys(row)
    itype = text(fields.get("instrumenttype")) or "no type"
    label = f"token {text(fields.get('symboltoken'))} ({text(fields.get('exchange'))} {itype})"
    try:
        record = resolve_row(fields, lookup)
    except ValueError as exc:
        return _Exit(label, None, str(exc))
    if record is None:
        # Never fall back to the token under another exchange: it may be another instrument (D5).
        return _Exit(label, None, "instrument not in the symbol table; close it manually")
    net = as_int(fields.get("netqty"))
    derivative = record.exchange in DERIVATIVE_EXCHANGES
    product = openalgo_product(text(fields.get("producttype")), derivative=derivative)
    order = {
        "symbol": record.symbol,
        "exchange": record.exchange,
        "action": "SELL" if net > 0 else "BUY",
        "quantity": str(abs(net)),
        "pricetype": "MARKET",
        "product": product,
        "price": "0",
        "trigger_price": "0",
        "disclosed_quantity": "0",
    }
    return _Exit(f"{record.symbol} {record.exchange} {product}", order, key=(record.symbol, record.exchange, product, order["action"]))


def _less_in_flight(exit_: _Exit, in_flight: Counter[tuple[str, str, str, str]]) -> _Exit:
    """The exit reduced by what working exit orders already cover (``order=None`` if all of it)."""
    if exit_.order is None or exit_.key is None or not in_flight[exit_.key]:
        return exit_
    remaining = int(exit_.order["quantity"]) - in_flight[exit_.key]
    if remaining <= 0:
        return _Exit(exit_.label, None, key=exit_.key)
    return _Exit(exit_.label, {**exit_.order, "quantity": str(remaining)}, key=exit_.key)


def close_all(client: MStockClient, lookup: "SymbolLookup") -> tuple[dict[str, Any], int]:
    """An opposite MARKET order for every non-zero position; an honest account of the result."""
    with _close_all_lock:
        return _close_all(client, lookup)


def _close_all(client: MStockClient, lookup: "SymbolLookup") -> tuple[dict[str, Any], int]:
    rows = [row for row in fetch_positions(client) if as_int(lower_keys(row).get("netqty")) != 0]
    if not rows:
        return dict(NO_POSITIONS), 200
    in_flight = _exits_in_flight(fetch_orders(client), lookup)
    exits = [_less_in_flight(_exit_for(dict(row), lookup), in_flight) for row in rows]
    sendable = [e for e in exits if e.order is not None]
    outcomes = run_concurrently(sendable, lambda e: place(client, e.order, lookup))
    closed: list[dict[str, str]] = [
        {"position": e.label, "orderid": "", "note": "already being closed by a working MARKET order"}
        for e in exits
        if e.order is None and e.problem is None
    ]
    failed: list[dict[str, str]] = [{"position": e.label, "reason": e.problem} for e in exits if e.problem is not None]
    status = 400 if failed else 200
    for exit_, outcome in zip(sendable, outcomes):
        if isinstance(outcome, MStockError):
            failed.append({"position": exit_.label, "reason": str(outcome)})
            status = status if status != 200 else http_status_for(outcome)
        else:
            closed.append({"position": exit_.label, "orderid": outcome})
    if not failed:
        placed = sum(1 for c in closed if c["orderid"])
        return {"status": "success", "message": f"All Open Positions Squared Off ({placed} orders placed)",
                "orders": closed}, 200
    summary = "; ".join(f"{f['position']}: {f['reason']}" for f in failed)
    message = f"closed {len(closed)} of {len(exits)} positions; failed: {summary}"
    log.warning("close-all: %s", message)
    return {"status": "error", "message": message, "orders": closed, "failed": failed}, status
