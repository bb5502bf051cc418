"""Positions (with LTP) and holdings as fetched for OpenAlgo (spec 5.1, 5.3, 8.1).

mStock's positions carry no LTP (spec 5.1), and P&L needs one (D21). ``positions_with_ltp``
therefore quotes every open position in one ``instruments/quote`` batch (LTP mode, tokens
grouped under each instrument's ``brexchange``; up to 500 tokens per request, as upstream
sends) and attaches ``ltp`` to a copy of each row. A failed quote does not hide the
positions: the rows go out without ``ltp`` and the mapping reports realised P&L only.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

from ..errors import MStockError
from ..host import get_logger
from ..mapping.book_values import as_float, as_int, lower_keys, text
from ..mapping.order_data import book_rows, resolve_row
from ..transport.client import MStockClient

if TYPE_CHECKING:
    from ..host import SymbolLookup

log = get_logger(__name__)

QUOTE_BATCH = 500


def fetch_positions(client: MStockClient) -> list[Mapping[str, Any]]:
    """Today's position rows; ``data: null`` is an empty book (spec 5.1), failures raise."""
    return book_rows(client.call("portfolio.positions"))


def fetch_holdings(client: MStockClient) -> list[Mapping[str, Any]]:
    return book_rows(client.call("portfolio.holdings"))


def quote_ltps(client: MStockClient, instruments: Iterable[tuple[str, str]]) -> dict[tuple[str, str], float]:
    """LTP per (REST exchange, token), fetched in as few quote requests as possible."""
    wanted = sorted(set(instruments))
    ltps: dict[tuple[str, str], float] = {}
    for start in range(0, len(wanted), QUOTE_BATCH):
        chunk = wanted[start : start + QUOTE_BATCH]
        requested = set(chunk)
        grouped: dict[str, list[str]] = defaultdict(list)
        for exchange, token in chunk:
            grouped[exchange].append(token)
        data = client.call("market.quote", json={"mode": "LTP", "exchangeTokens": dict(grouped)})
        fetched = data.get("fetched") if isinstance(data, Mapping) else None
        for item in fetched or []:
            fields = lower_keys(item)
            token = text(fields.get("symboltoken"))
            exchange = text(fields.get("exchange")).upper()
            if (exchange, token) in requested:
                ltps[(exchange, token)] = as_float(fields.get("ltp"))
            else:
                # mStock does not say whether "exchange" echoes the key we sent (spec 8.1):
                # fall back to the token when it is unambiguous within this request.
                owners = [key for key in chunk if key[1] == token]
                if len(owners) == 1:
                    ltps[owners[0]] = as_float(fields.get("ltp"))
    return ltps


def positions_with_ltp(client: MStockClient, lookup: "SymbolLookup") -> list[dict[str, Any]]:
    """Position rows, each open one with the ``ltp`` of its instrument attached."""
    rows = [dict(row) for row in fetch_positions(client)]
    keys: dict[int, tuple[str, str]] = {}
    for index, row in enumerate(rows):
        fields = lower_keys(row)
        if as_int(fields.get("netqty")) == 0:
            continue
        try:
            record = resolve_row(fields, lookup)
        except ValueError as exc:
            log.warning("no LTP for a position: %s", exc)
            continue
        if record is not None:
            keys[index] = (record.brexchange.upper(), record.token)
    if not keys:
        return rows
    try:
        ltps = quote_ltps(client, keys.values())
    except MStockError as exc:
        log.warning("positions shown without LTP: the quote request failed (%s)", exc)
        return rows
    for index, key in keys.items():
        if key in ltps:
            rows[index]["ltp"] = ltps[key]
    return rows
