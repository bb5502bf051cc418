"""``calculate_margin_api`` (contract 8) on ``POST margins/orders`` (spec 7).

All legs go in one call (mStock computes a basket margin). A rejection, including an
HTTP-200 ``status:false`` and ASP.NET ProblemDetails (spec 1.4), is raised by the client
and turned into a non-200 ``(response, {"status": "error", "message": ...})`` by the
boundary, so OpenAlgo never relays a failure as a margin figure.
"""

from __future__ import annotations

from typing import Any

from .. import host
from ..mapping.margin_data import margin_request, margin_result
from .boundary import BrokerResponse, returns_response_pair
from .client import get_client


@returns_response_pair
def calculate_margin_api(positions: list[dict[str, Any]], auth: str) -> tuple[BrokerResponse, dict[str, Any]]:
    """Returns ``(BrokerResponse(200), {"status": "success", "data": {...}})`` or a non-200 pair.

    ``data`` holds ``total_margin_required``, ``span_margin``, ``exposure_margin``,
    ``var_elm_margin``, ``trade_value`` and the raw ``breakup`` (lower-cased names).
    """
    body = margin_request(positions, host.symbols())
    data = get_client(auth).call("margins.orders", json=body)
    response_data = margin_result(data)
    return BrokerResponse(200, response_data), response_data
