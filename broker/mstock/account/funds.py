"""Funds in OpenAlgo's five keys (contract 7): cash and margins from mStock's fund summary
(spec 6), the day's P&L from the position book (spec 5.1).

``m2mrealized`` and ``m2munrealized`` are computed from the positions, exactly as the
position book computes each position's P&L (:func:`..mapping.order_data.position_pnl`):
realised is what the matched quantity made, unrealised the rest at the last traded
price. Brokers' own summary MTM fields were seen reading 0.00 on live accounts while the
position book showed the real P&L, so the best OpenAlgo plugins derive both from the
positions too. The summary's ``REALISED_PROFITS`` / ``MTM_COMBINED`` are used only when
the positions cannot be read (or, for the unrealised part, when an open position has no
LTP), and the log says which source was used.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING

from .. import host
from ..errors import AuthError, BadResponse, MStockError, SessionExpired
from ..mapping.book_values import lower_keys
from ..mapping.order_data import known_ltp, position_pnl
from ..orders.portfolio import positions_with_ltp
from ..transport.client import MStockClient

if TYPE_CHECKING:
    from ..host import SymbolLookup

log = host.get_logger(__name__)

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


def _money(value: Decimal | float) -> str:
    return f"{Decimal(str(value)).quantize(Decimal('0.01')):.2f}"


def funds_from_summary(data: object) -> dict[str, str]:
    """Map the ``user/fundsummary`` data (a 1-element list, spec 6) to OpenAlgo's five keys."""
    row = data[0] if isinstance(data, list) and data else data
    if not isinstance(row, dict) or not row:
        raise BadResponse("fund summary is empty", route="user.funds")
    return {key: _money(_amount(row.get(field))) for key, field in FUND_FIELDS.items()}


def pnl_from_positions(rows: list) -> tuple[float, float | None]:
    """(realised, unrealised) over position rows as ``get_positions`` returns them.

    Unrealised is ``None`` when an open position has no LTP: it cannot be known then.
    """
    realised = 0.0
    unrealised: float | None = 0.0
    for row in rows:
        fields = lower_keys(row)
        row_realised, row_unrealised = position_pnl(fields, known_ltp(fields))
        realised += row_realised
        unrealised = None if unrealised is None or row_unrealised is None else unrealised + row_unrealised
    return realised, unrealised


def fetch_funds(client: MStockClient, lookup: "SymbolLookup | None" = None) -> dict[str, str]:
    """Funds as OpenAlgo's five 2-decimal strings; raises :class:`MStockError` on failure.

    ``lookup`` resolves position rows for their LTP (default: the host's symbols, looked
    up here so that a symbol-table problem only costs the P&L source, never the answer).
    """
    funds = funds_from_summary(client.call("user.funds"))
    try:
        rows = positions_with_ltp(client, lookup if lookup is not None else host.symbols())
    except AuthError:
        raise  # the session died: OpenAlgo must see a dead session, not a summary
    except MStockError as exc:
        log.warning("funds: P&L from the fund summary: the position book could not be read (%s)", exc)
        return funds
    realised, unrealised = pnl_from_positions(rows)
    funds["m2mrealized"] = _money(round(realised, 2))
    if unrealised is None:
        log.warning("funds: realised P&L from the position book, unrealised from the fund summary "
                    "(an open position has no last traded price)")
    else:
        funds["m2munrealized"] = _money(round(unrealised, 2))
        log.info("funds: P&L from the position book (%d positions)", len(rows))
    return funds


def check_session(client: MStockClient) -> None:
    """Raise unless the client's token still works (one cheap authenticated read)."""
    if not client.access_token:
        raise SessionExpired("no mStock token stored")
    funds_from_summary(client.call("user.funds"))
