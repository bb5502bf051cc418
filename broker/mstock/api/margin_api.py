"""OpenAlgo's margin face: ``calculate_margin_api`` (contract 8).

A failure comes back as a non-200 ``(response, {"status": "error", "message": ...})``, so
OpenAlgo never relays a failure as a margin figure.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from .. import host
from ..orders.margin import calculate_margin
from ..transport.client import get_client
from .boundary import AuthToken, BrokerResponse, returns_response_pair


@returns_response_pair
def calculate_margin_api(positions: Sequence[Mapping[str, Any]], auth: AuthToken) -> tuple[BrokerResponse, dict[str, Any]]:
    """Returns ``(BrokerResponse(200), {"status": "success", "data": {...}})`` or a non-200 pair.

    ``data`` holds ``total_margin_required``, ``span_margin``, ``exposure_margin``,
    ``var_elm_margin``, ``trade_value`` and the raw ``breakup`` (lower-cased names).
    """
    response_data = calculate_margin(get_client(auth), positions, host.symbols())
    return BrokerResponse(200, response_data), response_data
