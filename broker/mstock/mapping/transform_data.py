"""OpenAlgo order -> mStock request bodies (spec 4.3-4.5; contract 4.1, 6). Pure.

The symbol lookup is passed in; nothing here talks HTTP. Every check that can reject an
order happens here, before anything is sent, with a message naming what to change.

Rules (stated once, applied to place and modify):

* Instruments: the OpenAlgo (symbol, exchange) must be in the symbol table; index
  exchanges (NSE_INDEX, BSE_INDEX) are quote-only. The request carries the row's
  ``brsymbol`` as ``tradingsymbol``, its ``token`` and its ``brexchange`` (see
  ``mapping/exchanges.py``).
* Quantities are units (contract 4.1) and must be a positive multiple of the lot size, at
  most the instrument's freeze quantity when the host knows one (OpenAlgo keeps them in its
  freeze-quantity table; the mStock master has no such column), else at most
  ``MAX_ORDER_QUANTITY`` (10,000,000 units): a sanity cap far above any real order, so that
  a typo such as 10^12 is refused here instead of reaching mStock's risk checks.
* Numbers must be finite (no NaN, no infinity), and every price that is sent (limit price,
  trigger price) must be more than 0 and at most ``MAX_PRICE`` (10,000,000 rupees per
  unit), far above any instrument traded in India.
* Products: CNC only for cash equity, NRML only for derivatives, MIS for both.
* Prices: LIMIT and SL need ``price > 0``; SL and SL-M need ``trigger_price > 0``; a buy
  stop-limit needs trigger <= price, a sell stop-limit trigger >= price. MARKET sends
  price "0"; MARKET and LIMIT send trigger "0".
* Tick size: a price within one millionth of a tick of a valid price is that price (this
  only absorbs float noise such as ``101.15000000000001``, D22). Any other off-tick price
  is **rejected** with the two nearest valid prices in the message: rounding it would
  silently change the limit a trader chose. Prices are formatted from ``Decimal`` with the
  tick's decimals (at least 2), e.g. ``"101.15"``, ``"83.2525"``.
* Variety: NORMAL for MARKET/LIMIT, STOPLOSS for SL/SL-M. AMO only when an internal caller
  asks for it with ``variety="AMO"`` (OpenAlgo has no AMO flag; the CLI's ``--amo``).
* Order types are ``STOPLOSS_LIMIT`` / ``STOPLOSS_MARKET``, never ``STOP_LOSS`` (D4).
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_FLOOR, Decimal
from typing import TYPE_CHECKING, Any

from ..errors import ValidationError
from ..records import SymbolRecord
from .codes import (
    AMO_VARIETY,
    DERIVATIVE_EXCHANGES,
    ORDER_TYPE_TO_MSTOCK,
    PRODUCT_TO_MSTOCK,
    VARIETY_FOR_PRICETYPE,
    openalgo_product,
)
from .symbols import require_instrument

if TYPE_CHECKING:
    from types import ModuleType

    from ..host import SymbolLookup
    from .order_models import ModifyOrder, PlaceOrder

INDEX_EXCHANGES = frozenset({"NSE_INDEX", "BSE_INDEX"})
CASH_EXCHANGES = frozenset({"NSE", "BSE"})
TRADABLE_EXCHANGES = CASH_EXCHANGES | DERIVATIVE_EXCHANGES

DURATION = "DAY"
_SNAP_TOLERANCE = Decimal("0.000001")  # in ticks

# Sanity limits (module rules above): no real order comes near them.
MAX_ORDER_QUANTITY = 10_000_000
MAX_PRICE = Decimal("10000000")


@dataclass(frozen=True)
class PreparedOrder:
    """A validated order: what was asked, the instrument it resolved to, and the body to send."""

    order: PlaceOrder
    record: SymbolRecord
    body: dict[str, str]

    @property
    def ordertag(self) -> str:
        return self.body["ordertag"]


# --- vocabulary helpers (contract 6 conventions) --------------------------------------------


def map_product_type(product: str) -> str:
    """OpenAlgo product -> mStock product (CNC->DELIVERY, MIS->INTRADAY, NRML->CARRYFORWARD)."""
    key = (product or "").strip().upper()
    try:
        return PRODUCT_TO_MSTOCK[key]
    except KeyError:
        raise ValidationError(f"product must be CNC, MIS or NRML, got {product!r}") from None


def reverse_map_product_type(product: str, exchange: str | None = None) -> str:
    """mStock product -> OpenAlgo product; ``exchange`` (OpenAlgo) decides MARGIN (D20)."""
    return openalgo_product(product, derivative=(exchange or "").upper() in DERIVATIVE_EXCHANGES)


def map_order_type(pricetype: str) -> str:
    """OpenAlgo price type -> mStock ``ordertype``."""
    try:
        return ORDER_TYPE_TO_MSTOCK[(pricetype or "").strip().upper()]
    except KeyError:
        raise ValidationError(f"pricetype must be MARKET, LIMIT, SL or SL-M, got {pricetype!r}") from None


def map_variety(pricetype: str, *, amo: bool = False) -> str:
    """mStock ``variety`` for an OpenAlgo price type."""
    if amo:
        return AMO_VARIETY
    try:
        return VARIETY_FOR_PRICETYPE[(pricetype or "").strip().upper()]
    except KeyError:
        raise ValidationError(f"pricetype must be MARKET, LIMIT, SL or SL-M, got {pricetype!r}") from None


# --- checks ----------------------------------------------------------------------------------


def tradable_instrument(symbol: str, exchange: str, lookup: "SymbolLookup") -> SymbolRecord:
    """The symbol row of a tradable instrument, or a :class:`ValidationError` saying why not."""
    code = (exchange or "").strip().upper()
    if code in INDEX_EXCHANGES:
        raise ValidationError(f"{symbol} on {code} is an index: indices can be quoted but not traded")
    if code not in TRADABLE_EXCHANGES:
        allowed = ", ".join(sorted(TRADABLE_EXCHANGES))
        raise ValidationError(f"exchange {exchange!r} cannot be traded through mStock (use one of {allowed})")
    record = require_instrument(symbol, code, lookup)
    if (record.instrumenttype or "").upper() == "INDEX":
        raise ValidationError(f"{symbol} on {code} is an index: indices can be quoted but not traded")
    return record


def is_derivative(record: SymbolRecord) -> bool:
    return record.exchange.upper() in DERIVATIVE_EXCHANGES


def check_quantity(quantity: int, record: SymbolRecord) -> None:
    lot = int(record.lotsize or 1)
    if lot > 1 and quantity % lot:
        lower = quantity // lot * lot
        options = " or ".join(str(q) for q in (lower, lower + lot) if q > 0)
        raise ValidationError(
            f"quantity {quantity} is not a multiple of the lot size {lot} for {record.symbol} on "
            f"{record.exchange} (quantities are in units, not lots: use {options})"
        )


def check_quantity_limit(quantity: int, record: SymbolRecord, freeze: int | None) -> None:
    """At most the freeze quantity (when known), else at most :data:`MAX_ORDER_QUANTITY`."""
    if freeze is not None and freeze > 0:
        if quantity > freeze:
            raise ValidationError(
                f"quantity {quantity} of {record.symbol} on {record.exchange} is above its freeze quantity "
                f"{freeze}: the exchange refuses larger orders; split it into orders of at most {freeze}"
            )
        return
    if quantity > MAX_ORDER_QUANTITY:
        raise ValidationError(
            f"quantity {quantity} of {record.symbol} on {record.exchange} is above {MAX_ORDER_QUANTITY} units, "
            "the most one order may carry when the instrument has no known freeze quantity: check the quantity"
        )


def check_price_range(value: Decimal, field: str, record: SymbolRecord) -> None:
    """A price that will be sent must be more than 0 and at most :data:`MAX_PRICE`."""
    if not 0 < value <= MAX_PRICE:
        raise ValidationError(
            f"{field} {format(value.normalize(), 'f')} of {record.symbol} on {record.exchange} is outside the sane "
            f"range of more than 0 and at most {MAX_PRICE} rupees: check the {field.replace('_', ' ')}"
        )


def check_product(product: str, record: SymbolRecord) -> None:
    if product == "CNC" and is_derivative(record):
        raise ValidationError(
            f"product CNC is for cash equity; use NRML or MIS for {record.symbol} on {record.exchange}"
        )
    if product == "NRML" and not is_derivative(record):
        raise ValidationError(
            f"product NRML is for derivatives; use CNC or MIS for {record.symbol} on {record.exchange}"
        )


def check_prices(pricetype: str, action: str | None, price: Decimal, trigger: Decimal) -> None:
    """Prices the price type needs; ``action=None`` skips the side-dependent stop-limit rule."""
    if pricetype in ("LIMIT", "SL") and price <= 0:
        raise ValidationError(f"a {pricetype} order needs a price greater than 0")
    if pricetype in ("SL", "SL-M") and trigger <= 0:
        raise ValidationError(f"a {pricetype} order needs a trigger_price greater than 0")
    if pricetype == "SL":
        if action == "BUY" and trigger > price:
            raise ValidationError(
                f"buy stop-limit: trigger_price {trigger} must not be above the limit price {price}"
            )
        if action == "SELL" and trigger < price:
            raise ValidationError(
                f"sell stop-limit: trigger_price {trigger} must not be below the limit price {price}"
            )


def _decimals(tick: Decimal) -> int:
    exponent = tick.normalize().as_tuple().exponent
    return max(2, -exponent if isinstance(exponent, int) else 2)


def format_price(value: Decimal, tick_size: float, *, field: str, record: SymbolRecord) -> str:
    """``value`` on the instrument's tick, as mStock's string; see the module rules."""
    tick = Decimal(str(tick_size or 0))
    if value == 0:
        return "0"
    if tick <= 0:
        # No tick in the symbol row: send the value as given, without float noise.
        return format(value.normalize(), "f")
    ratio = value / tick
    nearest = ratio.to_integral_value()
    if abs(ratio - nearest) > _SNAP_TOLERANCE:
        lower = ratio.to_integral_value(rounding=ROUND_FLOOR) * tick
        places = _decimals(tick)
        raise ValidationError(
            f"{field} {format(value.normalize(), 'f')} is not on the tick size {format(tick.normalize(), 'f')} "
            f"of {record.symbol} on {record.exchange}: use {lower:.{places}f} or {lower + tick:.{places}f}"
        )
    return f"{nearest * tick:.{_decimals(tick)}f}"


def _priced(order: PlaceOrder | ModifyOrder, record: SymbolRecord, *, side_known: bool = True) -> tuple[str, str]:
    check_prices(order.pricetype, order.action if side_known else None, order.price, order.trigger_price)
    sends_price = order.pricetype in ("LIMIT", "SL")
    sends_trigger = order.pricetype in ("SL", "SL-M")
    if sends_price:
        check_price_range(order.price, "price", record)
    if sends_trigger:
        check_price_range(order.trigger_price, "trigger_price", record)
    price = format_price(order.price, record.tick_size, field="price", record=record) if sends_price else "0"
    trigger = (
        format_price(order.trigger_price, record.tick_size, field="trigger_price", record=record) if sends_trigger else "0"
    )
    return price, trigger


def _disclosed(order: PlaceOrder | ModifyOrder) -> str:
    if order.disclosed_quantity > order.quantity:
        raise ValidationError(
            f"disclosed_quantity {order.disclosed_quantity} cannot exceed quantity {order.quantity}"
        )
    return str(order.disclosed_quantity)


def _validated(order: PlaceOrder | ModifyOrder, lookup: "SymbolLookup") -> tuple[SymbolRecord, str, str]:
    record = tradable_instrument(order.symbol, order.exchange, lookup)
    check_product(order.product, record)
    check_quantity(order.quantity, record)
    check_quantity_limit(order.quantity, record, lookup.freeze_quantity(record))
    price, trigger = _priced(order, record)
    return record, price, trigger


def load_order_models() -> ModuleType:
    """The order validators (:mod:`.order_models`), imported on first use.

    They are pydantic models: importing pydantic and building them costs about a tenth of a
    second, which OpenAlgo would otherwise pay whenever it imports a face, order or not.
    ``account.login`` calls this after a login so that the first order does not pay it.
    """
    from . import order_models

    return order_models


def check_order_terms(data: dict[str, Any], record: SymbolRecord) -> None:
    """Everything about an order but its side and size (product, price type, prices).

    A smart order decides side and size only after reading the position book; its other
    terms are checked before that read, so bad input is refused without a round trip.
    """
    order = load_order_models().parse_place({**data, "action": "BUY", "quantity": max(1, int(record.lotsize or 1))})
    check_product(order.product, record)
    _priced(order, record, side_known=False)


# --- request bodies ----------------------------------------------------------------------------


def prepare_place(data: dict[str, Any], lookup: "SymbolLookup", *, ordertag: str) -> PreparedOrder:
    """Validate an OpenAlgo order and build the ``orders/regular`` body (spec 4.3)."""
    order = load_order_models().parse_place(data)
    record, price, trigger = _validated(order, lookup)
    body = {
        "variety": map_variety(order.pricetype, amo=order.amo),
        "tradingsymbol": record.brsymbol,
        "symboltoken": record.token,
        "exchange": record.brexchange,
        "transactiontype": order.action,
        "ordertype": map_order_type(order.pricetype),
        "quantity": str(order.quantity),
        "producttype": map_product_type(order.product),
        "price": price,
        "triggerprice": trigger,
        "squareoff": "0",
        "stoploss": "0",
        # camelCase in the API, unlike every other field (spec 4.3)
        "trailingStopLoss": "",
        "disclosedquantity": _disclosed(order),
        "duration": DURATION,
        "ordertag": ordertag,
    }
    return PreparedOrder(order=order, record=record, body=body)


def transform_data(data: dict[str, Any], lookup: "SymbolLookup", *, ordertag: str) -> dict[str, str]:
    """The ``orders/regular`` body for an OpenAlgo order (contract 6 convention)."""
    return prepare_place(data, lookup, ordertag=ordertag).body


@dataclass(frozen=True)
class PreparedModify:
    order: ModifyOrder
    record: SymbolRecord
    body: dict[str, str]


def prepare_modify(data: dict[str, Any], lookup: "SymbolLookup", *, variety: str | None = None) -> PreparedModify:
    """Validate an OpenAlgo modification and build the ``PUT orders/regular/{id}`` body (spec 4.4).

    ``variety`` is the order's real variety when the caller knows it (an AMO order stays
    AMO); otherwise it follows the new price type.
    """
    order = load_order_models().parse_modify(data)
    record, price, trigger = _validated(order, lookup)
    body = {
        "variety": variety or map_variety(order.pricetype),
        "tradingsymbol": record.brsymbol,
        "symboltoken": record.token,
        "exchange": record.brexchange,
        "transactiontype": order.action,
        "orderid": order.orderid,
        "ordertype": map_order_type(order.pricetype),
        "quantity": str(order.quantity),
        "producttype": map_product_type(order.product),
        "duration": DURATION,
        "price": price,
        "triggerprice": trigger,
        "disclosedquantity": _disclosed(order),
        # "remaining quantity" field; "0" lets the new total quantity stand (spec 4.4)
        "modqty_remng": "0",
    }
    return PreparedModify(order=order, record=record, body=body)


def transform_modify_order_data(
    data: dict[str, Any], lookup: "SymbolLookup", *, variety: str | None = None
) -> dict[str, str]:
    """The modify body for an OpenAlgo modification (contract 6 convention)."""
    return prepare_modify(data, lookup, variety=variety).body


def cancel_request(orderid: str, variety: str) -> dict[str, str]:
    """The ``DELETE orders/regular/{id}`` body (spec 4.5) with the order's real variety (D22)."""
    return {"variety": variety, "orderid": str(orderid).strip()}
