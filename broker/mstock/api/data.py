"""``BrokerData``: OpenAlgo's market-data entry point (contract 9) for mStock Type B.

OpenAlgo builds one per request, with one, two or three positional arguments depending on
the caller (contract 9.1), so ``__init__`` only stores the token and looks up the shared
client. The work lives in :mod:`broker.mstock.market`: quotes and multi-quotes (spec 8.1),
depth (REST FULL quote or one feed snapshot, spec 11.3), history (spec 8.2, 8.3).

Methods raise typed :mod:`.errors` on failure; OpenAlgo's services turn an exception into
a 500 carrying its message (contract 9.2-9.5), which is the documented behaviour.

Quote fields: ``ltp``, ``open``, ``high``, ``low``, ``prev_close`` (mStock's ``close``),
``volume``, ``bid``, ``ask``, ``oi``, ``bid_qty``, ``ask_qty``. When mStock answers in
OHLC mode (its only documented layout), ``volume``, ``bid``, ``ask``, ``bid_qty``,
``ask_qty`` and ``oi`` are 0; ``get_depth`` has the full picture from the feed.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from .. import host
from ..market import depth as depth_module
from ..market import history as history_module
from ..market import quotes as quotes_module
from ..market.intervals import TIMEFRAME_MAP
from ..redact import register_secret
from ..transport.client import MStockClient, get_client
from .boundary import AuthToken, check_arguments, checks_arguments

if TYPE_CHECKING:
    import pandas as pd


class BrokerData:
    """Quotes, depth and history for one mStock session (``auth_token`` = access token)."""

    def __init__(self, auth_token: AuthToken, feed_token: Any = None, user_id: Any = None) -> None:
        # Checked, not wrapped: OpenAlgo counts this function's parameters (``__code__.co_argcount``).
        check_arguments(BrokerData.__init__, self, auth_token, feed_token, user_id)
        register_secret(auth_token, feed_token)
        self._auth_token = auth_token
        self._user_id = user_id
        self._client: MStockClient = get_client(auth_token)
        # Keys are what get_history serves (contract 9.6); values are mStock intervals.
        self.timeframe_map: dict[str, str] = dict(TIMEFRAME_MAP)

    def __repr__(self) -> str:
        return "<BrokerData mstock>"

    @checks_arguments
    def get_quotes(self, symbol: str, exchange: str) -> dict[str, float | int]:
        """The quote dict of contract 9.2 (see the module docstring for which fields may be 0)."""
        return quotes_module.get_quote(self._client, host.symbols(), symbol, exchange)

    @checks_arguments
    def get_multiquotes(self, symbols: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
        """Contract 9.3: ``[{"symbol", "exchange", "data"|"error"}, ...]`` in input order."""
        return quotes_module.get_multiquotes(self._client, host.symbols(), symbols)

    @checks_arguments
    def get_depth(self, symbol: str, exchange: str) -> dict[str, Any]:
        """Contract 9.4: five bid/ask levels (zero-padded) plus the day's figures."""
        return depth_module.get_depth(self._client, host.symbols(), self._auth_token, symbol, exchange)

    @checks_arguments
    def get_history(self, symbol: str, exchange: str, interval: str, start_date: Any, end_date: Any) -> pd.DataFrame:
        """Contract 9.5: ``timestamp`` (epoch s), ``open``, ``high``, ``low``, ``close``, ``volume``, ``oi``."""
        return history_module.get_history(self._client, host.symbols(), symbol, exchange, interval, start_date, end_date)
