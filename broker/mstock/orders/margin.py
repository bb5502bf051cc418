"""Order margin for a basket of legs in one ``margins/orders`` call (spec 7; contract 8).

mStock computes a basket margin, so all legs go in one request. A rejection, including an
HTTP-200 ``status:false`` and ASP.NET ProblemDetails (spec 1.4), is raised by the client,
so a failure is never relayed as a margin figure.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from ..mapping.margin_data import margin_request, margin_result
from ..transport.client import MStockClient

if TYPE_CHECKING:
    from ..host import SymbolLookup


def calculate_margin(client: MStockClient, positions: Sequence[Mapping[str, Any]], lookup: "SymbolLookup") -> dict[str, Any]:
    """``{"status": "success", "data": {...}}`` for the legs, or raises."""
    body = margin_request(positions, lookup)
    return margin_result(client.call("margins.orders", json=body))
