"""Reading today's order book for the order logic (spec 4.7, 4.8, 4.9).

Cancel, modify, cancel-all and reconciliation all need the same facts about an order:
its id, its OpenAlgo status (one status table, :mod:`..mapping.codes`), the variety it was
placed with, its instrument token, and our ``ordertag`` when mStock echoes it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import cached_property
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from ..mapping.book_values import as_int, book_time, clean_order_id, lower_keys, rejection_reason, text
from ..mapping.codes import openalgo_pricetype, openalgo_status, variety_of_book_order
from ..mapping.order_data import book_rows
from ..transport.client import MStockClient


@dataclass(frozen=True)
class BookOrder:
    """The facts about one order-book row that the order logic acts on."""

    orderid: str
    status: str
    variety: str
    token: str
    action: str
    pricetype: str
    quantity: int
    filled: int
    price: Decimal
    trigger_price: Decimal
    ordertag: str | None
    reason: str
    row: Mapping[str, Any] = field(repr=False, compare=False)

    @cached_property
    def updated(self) -> datetime | None:
        """Last change as the book reports it (IST); ``None`` when missing or unreadable.

        Parsed on first use: only reconciliation reads it, while every modify, cancel and
        cancel-all parses the whole book.
        """
        return book_time(lower_keys(self.row).get("updatetime"))

    def describe(self) -> str:
        parts = [f"status {self.status}", f"{self.pricetype} {self.action} {self.quantity}"]
        if self.price:
            parts.append(f"price {self.price}")
        if self.trigger_price:
            parts.append(f"trigger {self.trigger_price}")
        if self.reason:
            parts.append(f"reason: {self.reason}")
        return ", ".join(parts)


def _decimal(value: Any) -> Decimal:
    try:
        return Decimal(text(value) or "0")
    except InvalidOperation:
        return Decimal(0)


def parse_book_order(row: Mapping[str, Any]) -> BookOrder:
    fields = lower_keys(row)
    status = openalgo_status(fields.get("status") or fields.get("orderstatus"))
    tag = text(fields.get("ordertag")) if "ordertag" in fields else None
    return BookOrder(
        orderid=clean_order_id(fields.get("orderid")),
        status=status,
        variety=variety_of_book_order(text(fields.get("variety")), text(fields.get("ordertype"))),
        token=text(fields.get("symboltoken")),
        action=text(fields.get("transactiontype")).upper(),
        pricetype=openalgo_pricetype(text(fields.get("ordertype"))),
        quantity=as_int(fields.get("quantity")),
        filled=as_int(fields.get("filledshares")),
        price=_decimal(fields.get("price")),
        trigger_price=_decimal(fields.get("triggerprice")),
        ordertag=tag,
        reason=rejection_reason(fields.get("text")) if status == "rejected" else "",
        row=row,
    )


def order_rows(client: MStockClient) -> list[Any]:
    """Today's order rows as mStock sends them (``[]`` on an empty day); failures raise."""
    return client.call("orders.list") or []


def trade_rows(client: MStockClient) -> list[Any]:
    """Today's trade rows as mStock sends them (``[]`` on an empty day); failures raise."""
    return client.call("orders.trades") or []


def fetch_orders(client: MStockClient) -> list[BookOrder]:
    """Today's orders; raises on failure (an unreadable book is never "no orders")."""
    return [parse_book_order(row) for row in book_rows(client.call("orders.list"))]


def find_order(orders: Iterable[BookOrder], orderid: str) -> BookOrder | None:
    wanted = clean_order_id(orderid)
    for order in orders:
        if order.orderid == wanted:
            return order
    return None


def find_by_tag(orders: Iterable[BookOrder], tag: str) -> list[BookOrder]:
    return [order for order in orders if order.ordertag == tag]


def book_carries_tags(orders: Iterable[BookOrder]) -> bool:
    """Whether this book echoes ``ordertag`` at all (spec 4.7's sample has no such field).

    A field that is always empty echoes nothing: only a non-empty tag counts.
    """
    return any(order.ordertag for order in orders)


def details_tag(client: MStockClient, orderid: str) -> str | None:
    """The ``ordertag`` of one order from ``order/details`` (spec 4.9), if it reports one."""
    rows = book_rows(client.call("orders.details", json={"order_no": orderid}))
    for row in rows:
        fields = lower_keys(row)
        if "ordertag" in fields:
            return text(fields.get("ordertag"))
    return None
