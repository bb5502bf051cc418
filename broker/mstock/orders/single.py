"""One order of today's book in OpenAlgo's words, and Kite-style modifications of it.

A trader modifying an order names the order and what changes ("price 802"); everything
else (instrument, side, product, the other prices) is the order as it stands. OpenAlgo's
``modify_order`` wants every field, so :func:`amended` fills the rest from
:func:`current_order`. The modification itself still goes through ``modify_order``,
which reads the order again and refuses one that is no longer working.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from ..errors import NotFound, ValidationError
from ..mapping.book_values import as_int, clean_order_id, lower_keys
from ..mapping.order_data import book_rows, order_row
from ..transport.client import MStockClient

if TYPE_CHECKING:
    from ..host import SymbolLookup

#: What a modification may change (OpenAlgo's modify fields other than the instrument).
CHANGEABLE = ("quantity", "price", "trigger_price", "pricetype", "disclosed_quantity")


def current_order(client: MStockClient, lookup: "SymbolLookup", orderid: Any) -> dict[str, Any]:
    """The order's OpenAlgo order-book row, plus ``disclosed_quantity``; :class:`NotFound` if absent."""
    wanted = clean_order_id(orderid)
    if not wanted:
        raise ValidationError("an order id is required")
    for raw in book_rows(client.call("orders.list")):
        fields = lower_keys(raw)
        if clean_order_id(fields.get("orderid")) == wanted:
            row = order_row(fields, lookup)
            row["disclosed_quantity"] = as_int(fields.get("disclosedquantity"))
            return row
    raise NotFound(f"order {wanted} is not in today's order book")


def amended(current: Mapping[str, Any], changes: Mapping[str, Any]) -> dict[str, Any]:
    """OpenAlgo ``modify_order`` data: ``current`` with only the given ``changes`` replaced.

    Changing the price type clears what the new type does not use (a MARKET order has no
    limit price, a LIMIT order no trigger) unless that value is given too.
    """
    given = {k: v for k, v in changes.items() if v is not None and v != ""}
    unknown = sorted(set(given) - set(CHANGEABLE))
    if unknown:
        raise ValidationError(f"a modification cannot change {', '.join(unknown)}")
    if not given:
        raise ValidationError(
            "nothing to change: give a new price, quantity, trigger price, price type or disclosed quantity"
        )
    pricetype = str(given.get("pricetype", current.get("pricetype") or "")).strip().upper()
    data: dict[str, Any] = {
        "orderid": current["orderid"],
        "symbol": current["symbol"],
        "exchange": current["exchange"],
        "action": current["action"],
        "product": current["product"],
        "pricetype": pricetype,
        "quantity": given.get("quantity", current.get("quantity")),
        "price": given.get("price", current.get("price")),
        "trigger_price": given.get("trigger_price", current.get("trigger_price")),
        "disclosed_quantity": given.get("disclosed_quantity", current.get("disclosed_quantity") or 0),
    }
    if pricetype in ("MARKET", "SL-M") and "price" not in given:
        data["price"] = 0
    if pricetype in ("MARKET", "LIMIT") and "trigger_price" not in given:
        data["trigger_price"] = 0
    return data
