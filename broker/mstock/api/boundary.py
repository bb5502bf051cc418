"""Where exceptions become OpenAlgo's return shapes: the only place that does it.

OpenAlgo's services expect tuples and dicts, not exceptions (contract 4.2, 5, 7, 8). The
facade functions raise :class:`MStockError` subclasses freely; the decorators here turn
them into the shape each contract function owes its caller, with an HTTP-like status
chosen by what went wrong, and log each failure once.
"""

from __future__ import annotations

import functools
import inspect
import types
import typing
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Annotated, Any, TypeVar

from ..account.login import explain_login_failure
from ..errors import MStockError, ValidationError, http_status_for
from ..host import get_logger

log = get_logger(__name__)

F = TypeVar("F", bound=Callable[..., Any])

#: The ``auth`` argument of every face: OpenAlgo's stored access token (``None``/empty = not logged in).
AuthToken = Annotated[str | None, "text (the mStock access token) or None"]


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


# --- argument checks --------------------------------------------------------------------
#
# OpenAlgo calls the faces with whatever its caller sent: ``None`` for a dict, a number for
# the token. Each face's annotations say what it accepts; the checks below hold every call
# to them before the face runs, so a wrong type is a ValidationError naming the argument,
# never a TypeError from deep inside. Values *inside* a dict are the models' business.

_DESCRIPTIONS: dict[type, str] = {str: "text", int: "a whole number", float: "a number", Mapping: "a dict",
                                  Sequence: "a list", type(None): "None"}
_RUNTIME: dict[type, tuple[type, ...]] = {Mapping: (Mapping,), Sequence: (list, tuple), float: (int, float)}
_CONTAINERS = {dict: Mapping, Mapping: Mapping, list: Sequence, tuple: Sequence, Sequence: Sequence}


@dataclass(frozen=True)
class _Rule:
    types: tuple[type, ...]  # what isinstance accepts
    description: str
    items: "_Rule | None" = None  # for a list: the rule of its items


def _rule(hint: Any) -> _Rule | None:
    """What a parameter annotation accepts, or ``None`` for "anything"."""
    description = None
    if typing.get_origin(hint) is Annotated:
        hint, *extras = typing.get_args(hint)
        description = next((e for e in extras if isinstance(e, str)), None)
    if hint is Any:
        return None
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        parts = [_rule(arg) for arg in typing.get_args(hint)]
        if any(part is None for part in parts):
            return None
        return _Rule(
            tuple(t for part in parts for t in part.types),  # type: ignore[union-attr]
            description or " or ".join(part.description for part in parts),  # type: ignore[union-attr]
        )
    base = _CONTAINERS.get(origin or hint, origin or hint)
    if not isinstance(base, type):
        return None
    items = None
    if base is Sequence and typing.get_args(hint):
        items = _rule(typing.get_args(hint)[0])
    runtime = _RUNTIME.get(base, (base,))
    return _Rule(runtime, description or _DESCRIPTIONS.get(base, f"a {base.__name__}"), items)


def _kind(value: Any) -> str:
    # The type only, never the value: a token passed in the wrong place must not be echoed.
    return "None" if value is None else type(value).__name__


def _accepts(rule: _Rule, value: Any) -> bool:
    if isinstance(value, bool) and bool not in rule.types:
        return False
    return isinstance(value, rule.types)


def _parameter_hints(func: Callable[..., Any]) -> dict[str, Any]:
    """The parameters' annotations, evaluated one by one (never the return annotation).

    A name that is imported for type checking only (``pandas`` in a return type, kept out
    of import time) cannot be evaluated; such a parameter is simply not checked.
    """
    hints: dict[str, Any] = {}
    for name, annotation in getattr(func, "__annotations__", {}).items():
        if name == "return":
            continue
        holder = types.SimpleNamespace(__annotations__={name: annotation})
        try:
            hints[name] = typing.get_type_hints(holder, globalns=func.__globals__, include_extras=True)[name]
        except NameError:
            continue
    return hints


@functools.lru_cache(maxsize=None)
def _checker(func: Callable[..., Any]) -> Callable[[tuple, dict], None]:
    signature = inspect.signature(func)
    hints = _parameter_hints(func)
    rules = {name: rule for name in signature.parameters if name in hints and (rule := _rule(hints[name]))}
    name_of = getattr(func, "__qualname__", func.__name__).replace(".__init__", "")

    def check(args: tuple, kwargs: dict) -> None:
        try:
            bound = signature.bind(*args, **kwargs)
        except TypeError as exc:
            raise ValidationError(f"{name_of}: {exc}") from None
        for name, rule in rules.items():
            if name not in bound.arguments:
                continue
            value = bound.arguments[name]
            if not _accepts(rule, value):
                raise ValidationError(f"{name_of}: {name} must be {rule.description}, got {_kind(value)}")
            if rule.items is not None:
                for number, item in enumerate(value, 1):
                    if not _accepts(rule.items, item):
                        raise ValidationError(
                            f"{name_of}: item {number} of {name} must be {rule.items.description}, got {_kind(item)}"
                        )

    return check


def check_arguments(func: Callable[..., Any], *args: Any, **kwargs: Any) -> None:
    """The check :func:`checks_arguments` applies, for a function that must not be wrapped."""
    _checker(func)(args, kwargs)


def checks_arguments(func: F) -> F:
    """Check a face's arguments against its annotations; a mismatch raises :class:`ValidationError`.

    For the faces whose contract is to raise (``BrokerData``, ``cancel_all_orders_api``,
    ``get_open_position``); the shape-returning decorators below include the same check.
    """

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any):
        _checker(func)(args, kwargs)
        return func(*args, **kwargs)

    return wrapper  # type: ignore[return-value]


def _boundary(on_error: Callable[[MStockError], Any]) -> Callable[[F], F]:
    """Wrap an OpenAlgo-facing function so that an :class:`MStockError` becomes ``on_error(exc)``.

    The arguments are checked against the function's annotations first (a wrong type is a
    :class:`ValidationError`). Only our own typed errors are converted; anything else is a
    bug and propagates, so OpenAlgo reports it as an internal error instead of a shape
    that looks valid.
    """

    def decorate(func: F) -> F:
        @functools.wraps(func)
        def wrapper(*args: Any, **kwargs: Any):
            try:
                _checker(func)(args, kwargs)
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
