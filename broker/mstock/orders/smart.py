"""Smart-order sizing (contract 4.2) and the current position it starts from (D2).

``decide`` is OpenAlgo's rules table, written out so that each rule reads like the table.
``net_position`` reads the position book the way mStock writes it: derivatives under
NSE/BSE, no trading symbol (spec 5.1), so each row is resolved to its OpenAlgo instrument
with :func:`resolve_book_instrument` and matched on (symbol, exchange, product).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..errors import BadResponse, ValidationError
from ..host import get_logger
from ..mapping.book_values import as_int, lower_keys, text
from ..mapping.codes import DERIVATIVE_EXCHANGES, PRODUCT_FROM_MSTOCK, openalgo_product
from ..mapping.order_data import resolve_row
from ..mapping.symbols import require_instrument
from ..mapping.transform_data import (
    MAX_ORDER_QUANTITY,
    check_order_terms,
    check_quantity_limit,
    load_order_models,
    tradable_instrument,
)
from ..records import SymbolRecord
from ..transport.client import MStockClient
from .placement import place
from .positions import get_cached_positions, get_symbol_lock

if TYPE_CHECKING:
    from ..host import SymbolLookup

log = get_logger(__name__)

NO_ACTION_MESSAGE = "Positions Already Matched. No action needed."


@dataclass(frozen=True)
class SmartRequest:
    symbol: str
    exchange: str
    product: str
    action: str
    quantity: int
    position_size: int


def parse_position_size(value: Any) -> int:
    """``position_size`` arrives as float, int or string ("0" from the UI), maybe negative."""
    if value is None or (isinstance(value, str) and not value.strip()):
        raise ValidationError("invalid smart order: position_size is required")
    models = load_order_models()
    try:
        number = models.parse_decimal(value, f"position_size must be a number, got {value!r}")
        return models.whole_units(number, "position_size", value)
    except ValueError as exc:
        raise ValidationError(f"invalid smart order: {exc}") from None


def parse_smart(data: Mapping[str, Any]) -> SmartRequest:
    """The fields the sizing needs; the order itself is validated again when placed."""
    symbol = text(data.get("symbol")).upper()
    exchange = text(data.get("exchange")).upper()
    action = text(data.get("action")).upper()
    product = text(data.get("product")).upper() or "MIS"
    if not symbol or not exchange:
        raise ValidationError("invalid smart order: symbol and exchange are required")
    if action not in ("BUY", "SELL"):
        raise ValidationError(f"invalid smart order: action must be BUY or SELL, got {data.get('action')!r}")
    if product not in ("CNC", "MIS", "NRML"):
        raise ValidationError(f"invalid smart order: product must be CNC, MIS or NRML, got {data.get('product')!r}")
    try:
        quantity = load_order_models().to_whole_number(data.get("quantity"), "quantity", allow_zero=True)
    except ValueError as exc:
        raise ValidationError(f"invalid smart order: {exc}") from None
    return SmartRequest(symbol, exchange, product, action, quantity, parse_position_size(data.get("position_size")))


def decide(action: str, quantity: int, position_size: int, current: int) -> tuple[str | None, int]:
    """(action, quantity) to reach ``position_size`` from ``current``; ``(None, 0)`` for none."""
    if position_size == 0 and current == 0 and quantity != 0:
        return action, quantity  # no position and no target: a plain order
    if position_size == current:
        return None, 0
    if position_size == 0:
        return ("SELL" if current > 0 else "BUY"), abs(current)  # flatten
    if current == 0:
        return ("BUY" if position_size > 0 else "SELL"), abs(position_size)
    if position_size > current:
        return "BUY", position_size - current
    return "SELL", current - position_size


def net_position(
    rows: Iterable[Mapping[str, Any]], record: SymbolRecord, product: str, lookup: "SymbolLookup"
) -> int:
    """Net quantity of ``record`` in ``product`` (OpenAlgo code) across the position rows."""
    derivative = record.exchange in DERIVATIVE_EXCHANGES
    net = 0
    for row in rows:
        fields = lower_keys(row)
        if text(fields.get("symboltoken")) != record.token:
            continue  # cheap pre-filter; the exchange decides below (tokens repeat across segments)
        try:
            held = resolve_row(fields, lookup)
        except ValueError as exc:
            # It may be this very position: reading it as flat could double the exposure (D2).
            raise BadResponse(
                f"position row for token {record.token} on {text(fields.get('exchange'))} cannot be read ({exc}); "
                f"refusing to assume it is not {record.symbol} on {record.exchange}",
                route="portfolio.positions",
            ) from None
        if held is None or (held.symbol, held.exchange) != (record.symbol, record.exchange):
            continue
        if openalgo_product(text(fields.get("producttype")), derivative=derivative) != product:
            continue
        net += as_int(fields.get("netqty"))
    return net


def place_smart_order(client: MStockClient, data: Mapping[str, Any], lookup: "SymbolLookup") -> str | None:
    """Place whatever order brings the position to ``position_size``; ``None`` when none is needed.

    Holds the instrument's lock around "read position, decide, place"; :func:`place`
    invalidates the position cache before the lock is released, so the next smart order
    for this instrument reads the book afresh.
    """
    request = parse_smart(data)
    record = tradable_instrument(request.symbol, request.exchange, lookup)
    # Absurd sizes are refused before the position book is read (the order placed later is
    # checked again, against the freeze quantity too).
    check_quantity_limit(request.quantity, record, lookup.freeze_quantity(record))
    check_order_terms(dict(data), record)
    if abs(request.position_size) > MAX_ORDER_QUANTITY:
        raise ValidationError(
            f"invalid smart order: position_size {request.position_size} is beyond {MAX_ORDER_QUANTITY} units: "
            "check the target position"
        )
    with get_symbol_lock(record.symbol, record.exchange, request.product):
        current = net_position(get_cached_positions(client), record, request.product, lookup)
        action, quantity = decide(request.action, request.quantity, request.position_size, current)
        if action is None:
            return None
        log.info("smart order %s %s %s: position %d -> %d, %s %d", record.symbol, record.exchange,
                 request.product, current, request.position_size, action, quantity)
        return place(client, {**data, "action": action, "quantity": quantity}, lookup)


def open_position(client: MStockClient, lookup: "SymbolLookup", symbol: str, exchange: str, product: str) -> int:
    """Net quantity of (symbol, exchange, product); ``product`` may be OpenAlgo's or mStock's code.

    A failed position fetch raises instead of answering 0 (D2).
    """
    record = require_instrument(symbol, exchange, lookup)
    code = str(product or "").strip().upper()
    return net_position(get_cached_positions(client), record, PRODUCT_FROM_MSTOCK.get(code, code), lookup)
