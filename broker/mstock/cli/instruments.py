"""Reading an instrument from the command line: ``SBIN NSE``, ``SBIN:NSE`` or ``NSE:SBIN``.

OpenAlgo writes symbol then exchange; Kite and most charting tools write ``NSE:SBIN``.
Both are accepted wherever a symbol is given. The side that is an exchange name is the
exchange; when both sides are exchange names (``BSE:NSE``, the BSE Ltd share on NSE) the
symbol table decides, and a still ambiguous text is refused with the way to write it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from .common import UsageError  # a misread command line: exit code 2
from ..mapping.exchanges import OA_EXCHANGES_SUPPORTED

# Every OpenAlgo exchange name a user may write (unsupported ones are refused later with
# their own message, after the words have been read correctly).
EXCHANGE_NAMES = frozenset(OA_EXCHANGES_SUPPORTED | {"MCX_INDEX", "NCDEX"})
_EXAMPLE = "write SYMBOL:EXCHANGE (SBIN:NSE), EXCHANGE:SYMBOL (NSE:SBIN) or SYMBOL EXCHANGE (SBIN NSE)"


def _is_exchange(word: str) -> bool:
    return word.upper() in EXCHANGE_NAMES


def _known(lookup: Any, symbol: str, exchange: str) -> bool:
    return lookup is not None and lookup.get_token(symbol, exchange) is not None


def _order(first: str, second: str, text: str, lookup: Any) -> tuple[str, str]:
    first, second = first.strip().upper(), second.strip().upper()
    if not first or not second:
        raise UsageError(f"cannot read an instrument from {text!r}: {_EXAMPLE}")
    a_exchange, b_exchange = _is_exchange(first), _is_exchange(second)
    if b_exchange and not a_exchange:
        return first, second
    if a_exchange and not b_exchange:
        return second, first
    if not a_exchange:
        raise UsageError(
            f"{text!r} names no exchange: {_EXAMPLE}; exchanges are {', '.join(sorted(EXCHANGE_NAMES))}"
        )
    # Both sides are exchange names: a symbol may be spelled like one (BSE Ltd is "BSE").
    found = [(s, e) for s, e in ((first, second), (second, first)) if _known(lookup, s, e)]
    if len(found) == 1:
        return found[0]
    raise UsageError(
        f"{text!r} is ambiguous: both {first} and {second} are exchange names; "
        f"write the symbol first as two words, e.g. `{first} {second}` for {first} on {second}"
    )


def parse_instrument(text: str, lookup: Any = None) -> tuple[str, str]:
    """``"SBIN:NSE"`` or ``"NSE:SBIN"`` -> ``("SBIN", "NSE")``."""
    parts = text.strip().split(":")
    if len(parts) != 2:
        raise UsageError(f"cannot read an instrument from {text!r}: {_EXAMPLE}")
    return _order(parts[0], parts[1], text, lookup)


def take_instrument(words: Sequence[str], lookup: Any = None) -> tuple[tuple[str, str], list[str]]:
    """The instrument at the front of ``words`` (one word with a colon, or two), and the rest."""
    if not words:
        raise UsageError(f"an instrument is missing: {_EXAMPLE}")
    first = words[0]
    if ":" in first:
        return parse_instrument(first, lookup), list(words[1:])
    if len(words) < 2:
        raise UsageError(f"{first!r} has no exchange: {_EXAMPLE}")
    return _order(first, words[1], f"{first} {words[1]}", lookup), list(words[2:])


def instrument_and(words: Sequence[str], names: Sequence[str], lookup: Any = None) -> tuple[str, str, list[str]]:
    """An instrument followed by exactly the positional values ``names`` (e.g. ACTION, QUANTITY)."""
    (symbol, exchange), rest = take_instrument(words, lookup)
    if len(rest) != len(names):
        expected = " ".join(names)
        got = " ".join(rest) if rest else "nothing"
        raise UsageError(f"expected SYMBOL:EXCHANGE {expected} (or SYMBOL EXCHANGE {expected}); after the instrument got {got}")
    return symbol, exchange, rest


def parse_instrument_list(items: Sequence[str], lookup: Any = None) -> list[dict[str, str]]:
    """``["SBIN", "NSE", "NSE_INDEX:NIFTY"]`` -> ``[{"symbol": "SBIN", "exchange": "NSE"}, ...]``."""
    out: list[dict[str, str]] = []
    words = list(items)
    while words:
        (symbol, exchange), words = take_instrument(words, lookup)
        out.append({"symbol": symbol, "exchange": exchange})
    return out
