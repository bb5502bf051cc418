"""OpenAlgo margin positions <-> ``margins/orders`` (spec 7; contract 8). Pure functions.

Request: one ``{"orders": [...]}`` body with every leg, each leg
``product_type, transaction_type, quantity, price, exchange, symbol_name, token,
trigger_price`` (strings except ``trigger_price``, a number, as in the DOC cURL).
``exchange`` is the instrument's ``brexchange`` and ``symbol_name`` its ``brsymbol``.

Reply: ``data.summary.total_charges`` is the total margin required (upstream reads it so;
the DOC sample's 5 x 2250 = 11250 for a delivery buy confirms it), and
``data.summary.breakup`` names the components (``SPANMARGIN``, ``EXPOMARGIN``,
``VARELMMARGIN``, brokerage lines).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from ..errors import BadResponse, ValidationError
from ..records import SymbolRecord
from .book_values import as_float
from .codes import ACTIONS, PRODUCT_TO_MSTOCK
from .transform_data import check_price_range, check_quantity_limit, tradable_instrument

if TYPE_CHECKING:
    from ..host import SymbolLookup

MAX_LEGS = 50  # OpenAlgo's MarginCalculatorSchema allows 1-50 positions (contract 8)

# breakup "name" -> OpenAlgo key. Unlisted names still appear under "breakup".
BREAKUP_TO_OPENALGO: dict[str, str] = {
    "SPANMARGIN": "span_margin",
    "EXPOMARGIN": "exposure_margin",
    "VARELMMARGIN": "var_elm_margin",
}


def _number_text(value: Any, field: str, record: SymbolRecord) -> str:
    """A price as the string mStock expects (``"194.50"`` kept as sent, ``0`` -> ``"0"``).

    0 means "no price" (a market leg); anything else must be finite and in the sane range
    orders are held to.
    """
    if value is None or value == "":
        return "0"
    number = as_float(value, float("nan"))
    if number != number or number < 0:
        raise ValidationError(f"{field} {value!r} of {record.symbol} is not a non-negative number")
    if number:
        check_price_range(Decimal(repr(number)), field, record)
    if isinstance(value, str):
        return value.strip()
    return format(number, "f").rstrip("0").rstrip(".") or "0"


def _json_number(value: Any, field: str, record: SymbolRecord) -> int | float:
    number = float(_number_text(value, field, record))
    return int(number) if number.is_integer() else number


def _quantity(value: Any, record: SymbolRecord) -> str:
    text = str(value).strip() if value is not None else ""
    number = as_float(text, float("nan"))
    if number != number or not number.is_integer() or number <= 0:
        raise ValidationError(f"quantity {value!r} of {record.symbol} must be a whole number above 0")
    check_quantity_limit(int(number), record, None)
    return str(int(number))


def margin_leg(position: Mapping[str, Any], lookup: "SymbolLookup") -> dict[str, Any]:
    """One ``orders`` entry for an OpenAlgo margin position (contract 8 keys)."""
    symbol = str(position.get("symbol") or "")
    # Margin is asked for orders, so only what can be traded is accepted (no indices).
    record = tradable_instrument(symbol, str(position.get("exchange") or ""), lookup)
    product = str(position.get("product") or "").strip().upper()
    if product not in PRODUCT_TO_MSTOCK:
        raise ValidationError(f"product {product or '<empty>'!r} of {symbol} is not one of {', '.join(PRODUCT_TO_MSTOCK)}")
    action = str(position.get("action") or "").strip().upper()
    if action not in ACTIONS:
        raise ValidationError(f"action {action or '<empty>'!r} of {symbol} must be BUY or SELL")
    return {
        "product_type": PRODUCT_TO_MSTOCK[product],
        "transaction_type": action,
        "quantity": _quantity(position.get("quantity"), record),
        "price": _number_text(position.get("price"), "price", record),
        "exchange": record.brexchange,
        "symbol_name": record.brsymbol,
        "token": str(record.token),
        "trigger_price": _json_number(position.get("trigger_price"), "trigger_price", record),
    }


def margin_request(positions: Sequence[Mapping[str, Any]], lookup: "SymbolLookup") -> dict[str, Any]:
    """The ``margins/orders`` body: every leg in one call (a basket margin, spec 7)."""
    if not positions:
        raise ValidationError("no positions to calculate margin for")
    if len(positions) > MAX_LEGS:
        raise ValidationError(f"at most {MAX_LEGS} positions per margin calculation (got {len(positions)})")
    return {"orders": [margin_leg(position, lookup) for position in positions]}


def margin_result(data: Any) -> dict[str, Any]:
    """OpenAlgo's margin answer (contract 8) from the reply's ``data``; ``BadResponse`` if unusable."""
    summary = data.get("summary") if isinstance(data, Mapping) else None
    if not isinstance(summary, Mapping) or summary.get("total_charges") in (None, ""):
        raise BadResponse("margins.orders: reply has no summary.total_charges", route="margins.orders")
    breakup: dict[str, float] = {}
    for item in summary.get("breakup") or []:
        if isinstance(item, Mapping) and item.get("name"):
            name = str(item["name"]).strip().upper()
            breakup[name] = breakup.get(name, 0.0) + as_float(item.get("amount"))
    result: dict[str, Any] = {"total_margin_required": as_float(summary.get("total_charges"))}
    for name, key in BREAKUP_TO_OPENALGO.items():
        result[key] = breakup.get(name, 0.0)
    result["trade_value"] = as_float(summary.get("trade_value"))
    result["breakup"] = {name.lower(): amount for name, amount in breakup.items()}
    return {"status": "success", "data": result}
