"""Order vocabulary, the order and trade records, id formats and request-body checks (spec 4).

The checks mirror what mStock answers before an order reaches its OMS: model-binding
failures (ProblemDetails), parameter errors (HTTP 400 IA400 / bare "400") and instrument
errors (HTTP 200 ``status:"false"``). Texts marked [INVENTED] are the sandbox's choice.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from .envelopes import ApiError, bad_input, fail_str, problem_details
from .instruments import Instrument

VARIETIES = frozenset({"NORMAL", "STOPLOSS", "AMO"})
ORDER_TYPES = frozenset({"MARKET", "LIMIT", "STOPLOSS_LIMIT", "STOPLOSS_MARKET"})
STOP_TYPES = frozenset({"STOPLOSS_LIMIT", "STOPLOSS_MARKET"})
PRODUCTS = frozenset({"DELIVERY", "INTRADAY", "CARRYFORWARD", "MARGIN"})
SIDES = frozenset({"BUY", "SELL"})
DURATIONS = frozenset({"DAY", "IOC"})
ORDER_EXCHANGES = frozenset({"NSE", "BSE", "NFO", "BFO", "MCX"})

# How the order book echoes the type (spec 4.1: "SL" for stop-limit in the DOC sample).
# Stop-market's spelling is [UNKNOWN]; the sandbox shows "SL-M" (a client must accept
# that as well as the "STOPLOSS_MARKET" it sent).
BOOK_ORDER_TYPE = {"MARKET": "MARKET", "LIMIT": "LIMIT", "STOPLOSS_LIMIT": "SL", "STOPLOSS_MARKET": "SL-M"}

# Working orders show "Pending", "O-Pending", "O-Modified" or "Trigger Pending" (or a
# configured partial-fill status, SandboxConfig.partial_fill_status); "Transit" is an
# order not yet past RMS and exchange; these are final:
FINAL_STATUSES = frozenset({"Traded", "Rejected", "Cancelled", "O-Cancelled"})

# [INVENTED] codes for rejections no source shows (the RS- prefix marks RMS/OMS answers).
CODE_BAD_INSTRUMENT = "RS-0016"
CODE_LOT_SIZE = "RS-0023"
CODE_NO_HOLDINGS = "RS-0103"
CODE_FUNDS = "RS-0111"  # spec 4.3
CODE_NOT_OPEN = "RS-0034"  # spec 4.4 (modify); cancel uses RS-00093 (spec 4.5)
CODE_EXCHANGE_MODIFY = "RS-0048"

INVALID_PRODUCT = "Invalid product. valid product types allowed are DELIVERY, INTRADAY and CARRYFORWARD."
ORDER_CLOSED = "Order is Cancelled.Kindly refresh your OrderBook"
EXCH_PRICE_BAND = "EXCH:16284:The order price is out of the days price range."
EXCH_TICK = "EXCH:16283:The order price is not multiple of the tick size."  # [INVENTED] code/text
# Defaults of RejectRule (mstock_sandbox.config) when a rule names no reason: [INVENTED].
RULE_RMS_REASON = "SECURITY IS NOT ALLOWED FOR TRADING"
RULE_EXCHANGE_REASON = "EXCH:16388:Security is not allowed to trade in this market."


@dataclass
class Order:
    orderid: str
    inst: Instrument
    variety: str
    side: str
    ordertype: str
    product: str
    duration: str
    quantity: int
    price: float
    trigger: float
    disclosed: int
    ordertag: str
    placed: datetime
    updated: datetime
    status: str = "Transit"  # accepted, not yet past RMS and exchange (spec 4.8)
    text: str = ""
    filled: int = 0
    avg_price: float = 0.0
    cancelled: int = 0
    exchange_orderid: str = "0"
    exchange_time: datetime | None = None
    fill_id: str = ""
    fill_time: datetime | None = None
    triggered: bool = False

    @property
    def is_open(self) -> bool:
        return self.status not in FINAL_STATUSES and self.status != "Transit"

    @property
    def is_stop(self) -> bool:
        return self.ordertype in STOP_TYPES

    @property
    def pending_qty(self) -> int:
        return self.quantity - self.filled - self.cancelled

    @property
    def acts_as_market(self) -> bool:
        return self.ordertype == "MARKET" or (self.ordertype == "STOPLOSS_MARKET" and self.triggered)


@dataclass(frozen=True)
class Trade:
    trade_no: str
    order: Order
    quantity: int
    price: float
    time: datetime


# ---------------------------------------------------------------------- ids


class IdSource:
    """Order ids per spec 4.2: node prefix + segment digit + YYMMDD + running number."""

    _NODES = ("111", "113", "114", "115", "116", "118", "119")

    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        self._orders = 0
        self._exchange = 17270
        self._trades = 206465040

    def order_id(self, inst: Instrument, day: datetime) -> str:
        node = self._NODES[self._orders % len(self._NODES)]
        running = 100 + self._orders  # 3 digits, then 4: ids are 13-14 characters
        self._orders += 1
        segment = "2" if inst.is_derivative else "1"
        return f"{node}{segment}{day:%y%m%d}{running}"

    def exchange_order_id(self, inst: Instrument) -> str:
        self._exchange += 1
        return f"1{'0' if inst.is_derivative else '1'}{self._exchange:014d}"

    def trade_no(self) -> str:
        self._trades += 1
        return str(self._trades)


# ---------------------------------------------------------------------- body checks


def as_text(body: dict[str, Any], key: str) -> str:
    value = body.get(key)
    return "" if value is None else str(value).strip()


def as_int(text: str, field_name: str) -> int:
    try:
        number = float(text)
    except ValueError:
        raise bad_input(f"Invalid {field_name}.") from None
    if not math.isfinite(number) or number != int(number) or number <= 0:
        raise bad_input(f"Invalid {field_name}.")
    return int(number)


def as_price(text: str, field_name: str) -> float:
    if text == "":
        return 0.0
    try:
        number = float(text)
    except ValueError:
        raise bad_input(f"Invalid {field_name}.") from None
    if not math.isfinite(number) or number < 0:
        raise bad_input(f"Invalid {field_name}.")
    return number


def require_fields(body: Any, names: tuple[str, ...]) -> dict[str, Any]:
    """Model binding: a JSON object with every required member, else ProblemDetails."""
    if not isinstance(body, dict):
        raise ApiError(problem_details({"$": ["The JSON value could not be converted to the request model."]}))
    missing = {n: [f"The {n} field is required."] for n in names if body.get(n) in (None, "")}
    if missing:
        raise ApiError(problem_details(missing))
    return body


def check_vocabulary(variety: str, side: str, ordertype: str, product: str, duration: str) -> None:
    if variety not in VARIETIES:
        raise bad_input("Invalid variety. Valid varieties are NORMAL, STOPLOSS and AMO.")  # [INVENTED]
    if side not in SIDES:
        raise bad_input("Invalid transaction type.")
    if ordertype not in ORDER_TYPES:
        # The docs' "STOP_LOSS" spelling (spec 4.1 [CONFLICT]) is refused here on purpose.
        raise bad_input(
            f"Invalid order type {ordertype}. Valid order types are MARKET, LIMIT, STOPLOSS_LIMIT and STOPLOSS_MARKET."
        )
    if product not in PRODUCTS:
        raise bad_input(INVALID_PRODUCT, "400")
    if duration not in DURATIONS:
        raise bad_input("Invalid duration. Valid durations are DAY and IOC.")  # [INVENTED]
    if (ordertype in STOP_TYPES) != (variety == "STOPLOSS"):
        # [INVENTED]: stop orders travel as variety STOPLOSS, others as NORMAL/AMO (spec 4.1).
        raise bad_input(f"Invalid variety {variety} for order type {ordertype}.")


def check_prices(ordertype: str, side: str, price: float, trigger: float) -> None:
    if ordertype in ("LIMIT", "STOPLOSS_LIMIT") and price <= 0:
        raise bad_input("Price can not be blank.")  # [INVENTED], modelled on the trigger text
    if ordertype in STOP_TYPES:
        if trigger <= 0:
            raise bad_input("Trigger price can not be blank.")  # spec 4.4 (IA400)
        if ordertype == "STOPLOSS_LIMIT":
            wrong_side = trigger > price if side == "BUY" else trigger < price
            if wrong_side:
                raise bad_input("Enter valid trigger price.", "400")  # spec 4.4


def check_ordertag(tag: str) -> str:
    # Spec 4.3: optional, fewer than 20 alphanumeric characters. The sandbox refuses
    # anything else rather than cutting it, so a client's tag is never silently changed.
    if tag and (len(tag) >= 20 or not tag.isalnum() or not tag.isascii()):
        raise bad_input("Invalid ordertag. Use fewer than 20 letters and digits.")  # [INVENTED]
    return tag


def instrument_error(message: str) -> ApiError:
    return ApiError(fail_str(message, CODE_BAD_INSTRUMENT))


def on_tick(value: float, tick: float) -> bool:
    steps = value / tick
    return abs(steps - round(steps)) < 1e-6


def rms_message(order: Order, client: str, reason: str, ref_price: float) -> str:
    """The comma list of spec 4.3's RMS rejection, ending with the reason (and its figures)."""
    inst = order.inst
    segment = "EQUITY" if inst.segment == "E" else "DERIVATIVE"
    side = "B" if order.side == "BUY" else "S"
    return (
        f"RMS:{order.orderid}:{inst.book_exchange},{segment},{inst.token},{inst.backoffice_name},{order.product},,"
        f"{inst.series},XXXXX,{side},{order.quantity},I,{inst.token},{inst.backoffice_name},{order.product},"
        f"{ref_price:.2f},{reason}"
    )
