"""What happened to a write whose answer was lost (invariant 1; spec 4.3-4.5, 4.9).

The client raises :class:`OutcomeUnknown` when a place/modify/cancel request may have
reached mStock but no answer came back. Resending could duplicate an order, so instead the
order book is read a few times over about three seconds:

* place: our ``ordertag`` finds the order. If the book does not echo tags at all (spec
  4.7's sample has no such field), every order that could be ours (same instrument, side
  and quantity, last updated no earlier than the request was sent, give or take
  :data:`CLOCK_SKEW` between our clock and mStock's) is checked through ``order/details``,
  which does report the tag (spec 4.9). mStock lists the newest order first, so the book's
  order is the lookup order; each order is looked up at most once however often the book
  is read, and lookups are paced at :data:`DETAIL_LOOKUPS_PER_SECOND`;
* modify: the order shows the requested quantity, price and trigger (and is not rejected);
* cancel: the order shows ``cancelled``.

If the book settles it, the caller gets the real answer; otherwise
:class:`OrderStateUnknown` tells the user to look before retrying.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from decimal import Decimal

from ..errors import MStockError, OrderRejected, OrderStateUnknown, RateLimited
from ..host import get_logger
from ..mapping.codes import CANCELLED, FINAL_STATUSES, REJECTED
from ..mapping.transform_data import PreparedModify, PreparedOrder
from ..transport.client import MStockClient
from ..transport.ratelimit import LazyLimiter, RateLimiter
from ..transport.routes import Category
from .book import BookOrder, book_carries_tags, details_tag, fetch_orders, find_by_tag, find_order

log = get_logger(__name__)

# Pauses before each look at the book: about 3 s in all, then give up honestly.
RECONCILE_DELAYS: tuple[float, ...] = (0.2, 0.4, 0.8, 1.6)
# How far mStock's clock (the book's update times) may be behind ours: an order updated
# this long before we sent the request is still examined. Wider only costs lookups.
CLOCK_SKEW = timedelta(seconds=120)
# order/details is a non-trading route, whose per-second limit spec 2.1 leaves garbled:
# stay well below the smallest documented per-second budget of a trading route (quotes 20/s).
DETAIL_LOOKUPS_PER_SECOND = 10
_sleep: Callable[[float], None] = time.sleep

_pace = LazyLimiter(lambda: RateLimiter({Category.OTHER: ((DETAIL_LOOKUPS_PER_SECOND, 1.0),)}, margins={}))


def _detail_pace() -> RateLimiter:
    return _pace()


def reset_for_tests() -> None:
    _pace.replace(None)


def _books(client: MStockClient, errors: list[MStockError]) -> Iterator[list[BookOrder]]:
    """Each successful read of the order book, after its pause; failed reads are remembered."""
    for delay in RECONCILE_DELAYS:
        _sleep(delay)
        try:
            yield fetch_orders(client)
        except MStockError as exc:
            errors.append(exc)
            log.warning("order book unavailable while reconciling: %s", exc)


def _last_error(errors: list[MStockError]) -> str:
    return f" (last order-book error: {errors[-1]})" if errors else ""


def _could_be_ours(order: BookOrder, prepared: PreparedOrder, sent_at: datetime | None) -> bool:
    body = prepared.body
    if (order.token, order.action, order.quantity) != (
        body["symboltoken"], body["transactiontype"], int(body["quantity"])
    ):
        return False
    # An order last changed before our request was sent was placed before it, too.
    return sent_at is None or order.updated is None or order.updated >= sent_at - CLOCK_SKEW


def _tagged_via_details(
    client: MStockClient,
    orders: list[BookOrder],
    prepared: PreparedOrder,
    sent_at: datetime | None,
    examined: set[str],
) -> list[BookOrder]:
    """Look up, newest first, every candidate not yet examined; ``[order]`` once the tag matches."""
    for order in orders:
        if order.orderid in examined or not _could_be_ours(order, prepared, sent_at):
            continue
        try:
            _detail_pace().acquire(Category.OTHER, max_wait=60.0)
        except RateLimited:
            return []  # hundreds of candidates: what remains unchecked ends as "state unknown"
        try:
            tag = details_tag(client, order.orderid)
        except MStockError as exc:
            log.warning("order details for %s unavailable while reconciling: %s", order.orderid, exc)
            continue  # looked up again on the next read of the book
        examined.add(order.orderid)
        if tag == prepared.ordertag:
            return [order]
    return []


def reconcile_place(client: MStockClient, prepared: PreparedOrder, *, sent_at: datetime | None = None) -> str:
    """The id of the order placed with ``prepared``'s tag, or :class:`OrderStateUnknown`.

    ``sent_at`` (aware) is when the request was sent: older orders are not candidates.
    """
    tag = prepared.ordertag
    errors: list[MStockError] = []
    examined: set[str] = set()
    for orders in _books(client, errors):
        found = find_by_tag(orders, tag)
        if not found and not book_carries_tags(orders):
            found = _tagged_via_details(client, orders, prepared, sent_at, examined)
        if not found:
            continue
        if len(found) > 1:
            log.error("ordertag %s matches %d orders: %s", tag, len(found), [o.orderid for o in found])
        order = found[0]
        if order.status == REJECTED:
            raise OrderRejected(
                f"order {order.orderid} (tag {tag}) was rejected: {order.reason or 'no reason given'}",
                route="orders.place",
            )
        log.warning("place outcome was unknown; the order book shows order %s for tag %s", order.orderid, tag)
        return order.orderid
    raise OrderStateUnknown(
        f"order state unknown (tag {tag}): check the order book before retrying{_last_error(errors)}",
        route="orders.place",
    )


def _shows_modification(order: BookOrder, prepared: PreparedModify) -> bool:
    body = prepared.body
    if order.quantity != int(body["quantity"]) or order.pricetype != prepared.order.pricetype:
        return False
    if prepared.order.pricetype in ("LIMIT", "SL") and order.price != Decimal(body["price"]):
        return False
    if prepared.order.pricetype in ("SL", "SL-M") and order.trigger_price != Decimal(body["triggerprice"]):
        return False
    return True


def _sightings(client: MStockClient, orderid: str, errors: list[MStockError]) -> Iterator[BookOrder]:
    """The order as each successful read of the book shows it (reads that miss it are skipped)."""
    for orders in _books(client, errors):
        order = find_order(orders, orderid)
        if order is not None:
            yield order


def _outcome_unknown(verb: str, orderid: str, seen: BookOrder | None, errors: list[MStockError]) -> OrderStateUnknown:
    shown = f"the order book shows {seen.describe()}" if seen else "the order is not in the order book"
    return OrderStateUnknown(
        f"{verb} outcome unknown for order {orderid}: {shown}; check before retrying{_last_error(errors)}",
        route=f"orders.{verb}",
    )


def reconcile_modify(client: MStockClient, prepared: PreparedModify) -> dict[str, str]:
    """Success if the book shows the requested values; :class:`OrderRejected` if it shows the
    order rejected; else :class:`OrderStateUnknown`."""
    orderid = prepared.order.orderid
    errors: list[MStockError] = []
    seen: BookOrder | None = None
    for seen in _sightings(client, orderid, errors):
        if seen.status == REJECTED:
            # Whatever values it shows, a rejected order is not a working, modified one.
            raise OrderRejected(
                f"order {orderid} is now rejected: {seen.reason or 'no reason given'} "
                "(the answer to the modification was lost)",
                route="orders.modify",
            )
        if _shows_modification(seen, prepared):
            log.warning("modify outcome was unknown; the order book shows order %s modified", orderid)
            return {"status": "success", "orderid": orderid, "message": "modification confirmed in the order book"}
        if seen.status in FINAL_STATUSES:
            break
    raise _outcome_unknown("modify", orderid, seen, errors)


def reconcile_cancel(client: MStockClient, orderid: str) -> dict[str, str]:
    """Success if the book shows the order cancelled; an error if it completed instead."""
    errors: list[MStockError] = []
    seen: BookOrder | None = None
    for seen in _sightings(client, orderid, errors):
        if seen.status == CANCELLED:
            log.warning("cancel outcome was unknown; the order book shows order %s cancelled", orderid)
            return {"status": "success", "orderid": orderid, "message": "cancellation confirmed in the order book"}
        if seen.status in FINAL_STATUSES:
            raise OrderRejected(f"order {orderid} was not cancelled: it is {seen.status}", route="orders.cancel")
    raise _outcome_unknown("cancel", orderid, seen, errors)
