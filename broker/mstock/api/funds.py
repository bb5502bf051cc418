"""Funds (spec 6; contract 7) and the session-resume check (contract 2.6).

``get_margin_data`` returns ``{}`` on *any* failure: that is how OpenAlgo recognises a
dead session (dashboard logout, session resume). It must never return a dict of zeros
for an authentication error, or OpenAlgo would resume a dead session.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

from ..host import get_logger
from .boundary import returns_empty_dict
from .client import get_client
from .errors import BadResponse, MStockError

log = get_logger(__name__)

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


def fetch_funds(auth: str) -> dict[str, str]:
    """Funds as OpenAlgo's five 2-decimal strings; raises :class:`MStockError` on failure."""
    return funds_from_summary(get_client(auth).call("user.funds"))


@returns_empty_dict
def get_margin_data(auth):
    """OpenAlgo funds: ``{availablecash, collateral, m2munrealized, m2mrealized, utiliseddebits}`` or ``{}``."""
    return fetch_funds(auth)


def test_auth_token(auth):
    """``(True, None)`` when the stored token still works, else ``(False, reason)`` (contract 2.6)."""
    if not auth:
        return False, "no mStock token stored"
    try:
        fetch_funds(auth)
    except MStockError as exc:
        return False, str(exc)
    return True, None
