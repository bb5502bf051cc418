"""Funds from mStock's fund summary (spec 6) in OpenAlgo's five keys (contract 7)."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

from ..errors import BadResponse, SessionExpired
from ..transport.client import MStockClient

# OpenAlgo key -> mStock fund-summary field (contract 7).
FUND_FIELDS: dict[str, str] = {
    "availablecash": "AVAILABLE_BALANCE",
    "collateral": "COLLATERALS",
    "m2munrealized": "MTM_COMBINED",
    "m2mrealized": "REALISED_PROFITS",
    "utiliseddebits": "AMOUNT_UTILIZED",
}

_NULLS = ("", "none", "null", "nan")


def _amount(value: object) -> Decimal:
    # Fields can be null, or the string "None" in SDK mocks (spec 6).
    if value is None or (isinstance(value, str) and value.strip().lower() in _NULLS):
        return Decimal(0)
    try:
        return Decimal(str(value).replace(",", "").strip())
    except InvalidOperation:
        raise BadResponse(f"fund summary holds a non-numeric amount: {value!r}", route="user.funds") from None


def funds_from_summary(data: object) -> dict[str, str]:
    """Map the ``user/fundsummary`` data (a 1-element list, spec 6) to OpenAlgo's five keys."""
    row = data[0] if isinstance(data, list) and data else data
    if not isinstance(row, dict) or not row:
        raise BadResponse("fund summary is empty", route="user.funds")
    return {key: f"{_amount(row.get(field)):.2f}" for key, field in FUND_FIELDS.items()}


def fetch_funds(client: MStockClient) -> dict[str, str]:
    """Funds as OpenAlgo's five 2-decimal strings; raises :class:`MStockError` on failure."""
    return funds_from_summary(client.call("user.funds"))


def check_session(client: MStockClient) -> None:
    """Raise unless the client's token still works (one cheap authenticated read)."""
    if not client.access_token:
        raise SessionExpired("no mStock token stored")
    fetch_funds(client)
