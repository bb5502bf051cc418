"""Where exceptions become OpenAlgo's return shapes: the only place that does it.

OpenAlgo's services expect tuples and dicts, not exceptions (contract 4.2, 5, 7, 8). The
facade functions raise :class:`MStockError` subclasses freely; the decorators here turn
them into the shape each contract function owes its caller, with an HTTP-like status
chosen by what went wrong, and log each failure once.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from ..account.login import explain_login_failure
from ..errors import MStockError, http_status_for
from ..host import get_logger

log = get_logger(__name__)

F = TypeVar("F", bound=Callable[..., Any])

def error_body(exc: MStockError) -> dict[str, Any]:
    body: dict[str, Any] = {"status": "error", "message": str(exc)}
    if exc.code:
        body["code"] = exc.code
    return body


@dataclass(frozen=True)
class BrokerResponse:
    """The ``res`` of OpenAlgo's ``(res, response_data, orderid)`` tuples.

    OpenAlgo reads ``res.status`` (and ``status_code`` in the margin service); 200 is
    the only success. This is a plain result object, not an imitation HTTP response.
    """

    status: int
    body: dict[str, Any] = field(default_factory=dict)

    @property
    def status_code(self) -> int:
        return self.status


def _boundary(on_error: Callable[[MStockError], Any]) -> Callable[[F], F]:
    """Wrap an OpenAlgo-facing function so that an :class:`MStockError` becomes ``on_error(exc)``.

    Only our own typed errors are converted; anything else is a bug and propagates, so
    OpenAlgo reports it as an internal error instead of a shape that looks valid.
    """

    def decorate(func: F) -> F:
        @functools.wraps(func)
        def wrapper(*args: Any, **kwargs: Any):
            try:
                return func(*args, **kwargs)
            except MStockError as exc:
                log.warning("%s failed: %s (%s)", func.__name__, exc, type(exc).__name__)
                return on_error(exc)

        return wrapper  # type: ignore[return-value]

    return decorate


def _order_tuple(exc: MStockError) -> tuple[BrokerResponse, dict[str, Any], None]:
    body = error_body(exc)
    return BrokerResponse(http_status_for(exc), body), body, None


def _response_pair(exc: MStockError) -> tuple[BrokerResponse, dict[str, Any]]:
    body = error_body(exc)
    return BrokerResponse(http_status_for(exc), body), body


#: ``place_order_api``-shaped functions: ``(BrokerResponse(non-200), {...}, None)``.
returns_order_tuple = _boundary(_order_tuple)
#: ``modify_order``/``cancel_order``/``close_all_positions``: ``({...}, status)``.
returns_dict_status = _boundary(lambda exc: (error_body(exc), http_status_for(exc)))
#: The book fetchers: ``{"status": "error", "message": ...}`` (contract 4.2).
returns_error_dict = _boundary(error_body)
#: ``get_margin_data``: ``{}``, OpenAlgo's "session is dead" signal (contract 7).
returns_empty_dict = _boundary(lambda exc: {})
#: ``calculate_margin_api``: ``(BrokerResponse(non-200), {...})`` (contract 8).
returns_response_pair = _boundary(_response_pair)
#: Login entry points: ``(None, None, "<specific reason>")`` (contract 2.2: never an empty reason).
returns_login_triple = _boundary(lambda exc: (None, None, explain_login_failure(exc)))
#: ``test_auth_token`` (contract 2.6) and ``logout``: ``(False, reason)``.
returns_false_and_reason = _boundary(lambda exc: (False, str(exc)))
