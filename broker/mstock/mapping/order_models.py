"""Validated OpenAlgo order input (contract 4.1), checked before anything is sent.

OpenAlgo's callers pass the same order in different dress: the REST path sends schema-typed
values, the basket path lowercase actions, the split path ``quantity`` as a string, the UI
strings everywhere and ``None`` for missing numbers (contract 4.1). These pydantic models
accept all of them, normalise once, and reject what cannot be an order with a message that
names the field. Defaults are OpenAlgo's schema defaults (MARKET, MIS, 0).

Cross-field rules that need the instrument (lot size, tick size, product per segment) live
in :mod:`.transform_data`; this module knows nothing about symbols.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationInfo, field_validator
from pydantic import ValidationError as PydanticValidationError

from ..errors import ValidationError
from .codes import ACTIONS, AMO_VARIETY, ORDER_TYPE_TO_MSTOCK

_TRUTHY = frozenset({"1", "true", "yes", "y", "on"})


def parse_decimal(value: Any, error: str) -> Decimal:
    """``value`` as an exact ``Decimal``, or ``ValueError(error)``.

    ``str()`` first: ``Decimal(0.1)`` would carry the float's binary noise into the request.
    """
    if isinstance(value, bool):
        raise ValueError(error)
    try:
        return Decimal(str(value).strip())
    except InvalidOperation:
        raise ValueError(error) from None


def whole_units(number: Decimal, field: str, original: Any) -> int:
    """``number`` as an int if it is finite and whole (``10.0`` is, ``10.5`` is not)."""
    if not number.is_finite():
        raise ValueError(f"{field} must be a finite number, got {original!r}")
    if number != number.to_integral_value():
        raise ValueError(f"{field} must be a whole number of units, got {original!r}")
    return int(number)


def to_decimal(value: Any, field: str) -> Decimal:
    """A price as an exact ``Decimal``; ``None``/``""`` mean 0 (OpenAlgo's default)."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return Decimal(0)
    number = parse_decimal(value, f"{field} must be a number, got {value!r}")
    if not number.is_finite():
        raise ValueError(f"{field} must be a finite number, got {value!r}")
    if number < 0:
        raise ValueError(f"{field} cannot be negative, got {value!r}")
    return number


def to_whole_number(value: Any, field: str, *, allow_zero: bool) -> int:
    """A quantity as an int; ``"10"``, ``10.0`` and ``"10.0"`` are fine, ``10.5`` is not."""
    if value is None or (isinstance(value, str) and not value.strip()):
        if allow_zero:
            return 0
        raise ValueError(f"{field} is required")
    whole = whole_units(parse_decimal(value, f"{field} must be a whole number, got {value!r}"), field, value)
    if whole < 0 or (whole == 0 and not allow_zero):
        raise ValueError(f"{field} must be a positive whole number, got {value!r}")
    return whole


class _Order(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")

    symbol: str
    exchange: str
    action: str
    product: str = "MIS"
    pricetype: str = "MARKET"
    price: Decimal = Decimal(0)
    trigger_price: Decimal = Decimal(0)
    disclosed_quantity: int = 0

    @field_validator("symbol", "exchange", mode="before")
    @classmethod
    def _upper_required(cls, value: Any, info: ValidationInfo) -> str:
        # OpenAlgo symbols and exchanges are upper case (contract 14.2); "sbin" means SBIN.
        text = "" if value is None else str(value).strip().upper()
        if not text:
            raise ValueError(f"{info.field_name} is required")
        return text

    @field_validator("action", mode="before")
    @classmethod
    def _action(cls, value: Any) -> str:
        text = "" if value is None else str(value).strip().upper()
        if text not in ACTIONS:
            raise ValueError(f"action must be BUY or SELL, got {value!r}")
        return text

    @field_validator("product", mode="before")
    @classmethod
    def _product(cls, value: Any) -> str:
        text = "MIS" if value is None or not str(value).strip() else str(value).strip().upper()
        if text not in ("CNC", "MIS", "NRML"):
            raise ValueError(f"product must be CNC, MIS or NRML, got {value!r}")
        return text

    @field_validator("pricetype", mode="before")
    @classmethod
    def _pricetype(cls, value: Any) -> str:
        text = "MARKET" if value is None or not str(value).strip() else str(value).strip().upper()
        if text not in ORDER_TYPE_TO_MSTOCK:
            raise ValueError(f"pricetype must be MARKET, LIMIT, SL or SL-M, got {value!r}")
        return text

    @field_validator("price", "trigger_price", mode="before")
    @classmethod
    def _prices(cls, value: Any, info: ValidationInfo) -> Decimal:
        return to_decimal(value, info.field_name or "price")

    @field_validator("disclosed_quantity", mode="before")
    @classmethod
    def _disclosed(cls, value: Any) -> int:
        return to_whole_number(value, "disclosed_quantity", allow_zero=True)

    @field_validator("quantity", mode="before", check_fields=False)
    @classmethod
    def _quantity(cls, value: Any) -> int:
        return to_whole_number(value, "quantity", allow_zero=False)


class PlaceOrder(_Order):
    """An order to place (contract 4.1 place/basket/split/close-all shapes)."""

    quantity: int
    # OpenAlgo has no AMO flag. Only an internal caller (our CLI's --amo) can ask for one by
    # passing ``variety="AMO"``; REST requests cannot carry the key (their schema rejects it).
    amo: bool = False


class ModifyOrder(_Order):
    """A modification (contract 4.1 modify; the UI sends any JSON type, possibly ``None``)."""

    orderid: str
    quantity: int

    @field_validator("orderid", mode="before")
    @classmethod
    def _orderid(cls, value: Any) -> str:
        # mStock ids may arrive with spaces (spec 4.4: " 1191241106101") or as numbers.
        if isinstance(value, bool) or not isinstance(value, (str, int, type(None))):
            raise ValueError(f"orderid must be text or a number, got {type(value).__name__}")
        text = "" if value is None else str(value).strip()
        if not text:
            raise ValueError("orderid is required")
        return text


def _first_message(exc: PydanticValidationError) -> str:
    messages = []
    for error in exc.errors():
        text = str(error.get("msg", "invalid value"))
        text = text.removeprefix("Value error, ")
        if error.get("type") == "missing":
            text = f"{'.'.join(map(str, error.get('loc', ())))} is required"
        messages.append(text)
    return "; ".join(messages) or "invalid order"


def parse_place(data: dict[str, Any]) -> PlaceOrder:
    """Validate an OpenAlgo place-order dict; raises our :class:`ValidationError`."""
    fields = dict(data)
    fields["amo"] = str(data.get("variety", "")).strip().upper() == AMO_VARIETY or (
        str(data.get("amo", "")).strip().lower() in _TRUTHY
    )
    try:
        return PlaceOrder.model_validate(fields)
    except PydanticValidationError as exc:
        raise ValidationError(f"invalid order: {_first_message(exc)}") from None


def parse_modify(data: dict[str, Any]) -> ModifyOrder:
    """Validate an OpenAlgo modify-order dict; raises our :class:`ValidationError`."""
    try:
        return ModifyOrder.model_validate(dict(data))
    except PydanticValidationError as exc:
        raise ValidationError(f"invalid modification: {_first_message(exc)}") from None
