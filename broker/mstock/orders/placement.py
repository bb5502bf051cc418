"""Place, modify and cancel one order (spec 4.3-4.5; contract 4.2).

Each function validates first (nothing invalid is sent), sends exactly once, turns an
HTTP-200 rejection into an exception carrying mStock's reason made readable, and, when the
answer is lost (:class:`OutcomeUnknown`), reconciles from the order book instead of
resending (:mod:`.reconcile`).
"""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING, Any

from ..clock import now_ist
from ..errors import MStockRejected, NotFound, OutcomeUnknown, ValidationError
from ..host import get_logger
from ..mapping.book_values import clean_order_id, lower_keys
from ..mapping.codes import AMO_VARIETY, CANCELLABLE_STATUSES
from ..mapping.order_data import resolve_row
from ..mapping.transform_data import cancel_request, prepare_modify, prepare_place
from ..transport.client import MStockClient, Reply
from ..transport.error_codes import readable_reason
from .book import BookOrder, fetch_orders, find_order
from .positions import invalidate_position_cache
from .reconcile import reconcile_cancel, reconcile_modify, reconcile_place
from .tags import new_ordertag

if TYPE_CHECKING:
    from ..host import SymbolLookup
    from ..records import SymbolRecord

log = get_logger(__name__)


def readable_rejection(exc: MStockRejected) -> MStockRejected:
    """The same rejection with the broker's text made readable (RMS lists -> one sentence)."""
    reason = readable_reason(exc.message)
    return type(exc)(reason or exc.message, http_status=exc.http_status, code=exc.code, route=exc.route)


def _reply_order_id(reply: Reply) -> str:
    data = reply.data
    if isinstance(data, list) and data and isinstance(data[0], dict):
        data = data[0]
    if isinstance(data, dict):
        # "orderid" (docs) or "order_id" (SDK mock), spec 4.3
        return clean_order_id(data.get("orderid") or data.get("order_id"))
    return ""


def place(client: MStockClient, data: dict[str, Any], lookup: "SymbolLookup", *, ordertag: str | None = None) -> str:
    """Place an OpenAlgo order; return mStock's order id or raise (never a silent failure).

    The cached positions are stale afterwards, whatever happened.
    """
    try:
        return _place(client, data, lookup, ordertag)
    finally:
        invalidate_position_cache(client)


def _place(client: MStockClient, data: dict[str, Any], lookup: "SymbolLookup", ordertag: str | None) -> str:
    prepared = prepare_place(data, lookup, ordertag=ordertag or new_ordertag())
    sent_at = now_ist()
    try:
        reply = client.call("orders.place", json=prepared.body, full=True)
    except OutcomeUnknown as exc:
        log.warning("place %s: %s; reconciling by tag %s", prepared.record.symbol, exc, prepared.ordertag)
        return reconcile_place(client, prepared, sent_at=sent_at)
    except MStockRejected as exc:
        raise readable_rejection(exc) from None
    orderid = _reply_order_id(reply)
    if not orderid:
        # Accepted without an id: the tag is the only way to learn which order it is.
        log.warning("place %s accepted without an order id; reconciling by tag %s",
                    prepared.record.symbol, prepared.ordertag)
        return reconcile_place(client, prepared, sent_at=sent_at)
    log.info("placed %s %s %s on %s: order %s", prepared.order.action, prepared.order.quantity,
             prepared.record.symbol, prepared.record.exchange, orderid)
    return orderid


def _working_order(client: MStockClient, orderid: str, verb: str) -> BookOrder:
    """The order as the book shows it now; it must exist and still be working."""
    order = find_order(fetch_orders(client), orderid)
    if order is None:
        raise NotFound(f"order {orderid} is not in today's order book")
    if order.status not in CANCELLABLE_STATUSES:
        raise ValidationError(f"order {orderid} is {order.status}: only open or trigger-pending orders can be {verb}")
    return order


def _same_instrument(order: BookOrder, record: "SymbolRecord", lookup: "SymbolLookup") -> bool:
    """Whether a book order is for ``record``: its token *and* segment, since tokens repeat
    across segments (NSE-tagged currency contracts share numbers with NSE equity, D5)."""
    try:
        held = resolve_row(lower_keys(order.row), lookup)
    except ValueError:
        return False
    return held is not None and (held.symbol, held.exchange) == (record.symbol, record.exchange)


def modify(client: MStockClient, data: dict[str, Any], lookup: "SymbolLookup") -> dict[str, str]:
    """Modify an open order; returns ``{"status": "success", "orderid": ...}`` or raises."""
    try:
        return _modify(client, data, lookup)
    finally:
        invalidate_position_cache(client)  # a new price can fill the order at once


def _modify(client: MStockClient, data: dict[str, Any], lookup: "SymbolLookup") -> dict[str, str]:
    # Everything the request alone can tell is checked before the book is read: with a
    # dead session the read would fail first and hide the real mistake.
    prepared = prepare_modify(data, lookup)
    orderid = prepared.order.orderid
    current = _working_order(client, orderid, "modified")
    if current.variety == AMO_VARIETY:
        prepared = replace(prepared, body={**prepared.body, "variety": AMO_VARIETY})  # an AMO order stays AMO
    if current.token and not _same_instrument(current, prepared.record, lookup):
        raise ValidationError(
            f"order {orderid} is not for {prepared.record.symbol} on {prepared.record.exchange}; "
            "a modification cannot change the instrument"
        )
    if current.action and current.action != prepared.order.action:
        raise ValidationError(
            f"order {orderid} is a {current.action} order; a modification cannot change it to {prepared.order.action}"
        )
    try:
        reply = client.call("orders.modify", path={"orderid": orderid}, json=prepared.body, full=True)
    except OutcomeUnknown as exc:
        log.warning("modify %s: %s; reading the order back", orderid, exc)
        return reconcile_modify(client, prepared)
    except MStockRejected as exc:
        raise readable_rejection(exc) from None
    # The reply's id carries a leading blank (spec 4.4); OpenAlgo echoes the request's id anyway.
    return {"status": "success", "orderid": _reply_order_id(reply) or orderid}


def cancel_known(client: MStockClient, order: BookOrder) -> dict[str, str]:
    """Cancel an order already read from the book, with the variety it was placed with (D22)."""
    body = cancel_request(order.orderid, order.variety)
    try:
        client.call("orders.cancel", path={"orderid": order.orderid}, json=body, full=True)
    except OutcomeUnknown as exc:
        log.warning("cancel %s: %s; reading the order back", order.orderid, exc)
        return reconcile_cancel(client, order.orderid)
    except MStockRejected as exc:
        raise readable_rejection(exc) from None
    return {"status": "success", "orderid": order.orderid}


def cancel(client: MStockClient, orderid: Any) -> dict[str, str]:
    """Cancel one order by id; returns ``{"status": "success", "orderid": ...}`` or raises."""
    wanted = clean_order_id(orderid)
    if not wanted:
        raise ValidationError("orderid is required")
    return cancel_known(client, _working_order(client, wanted, "cancelled"))
