"""Small helpers the command modules share: the saved session and failures from the faces."""

from __future__ import annotations

import argparse
from typing import Any

from ..errors import MStockRejected, SessionExpired, ValidationError


class UsageError(ValidationError):
    """The command line asks for nothing, or for something only ``--yes`` may do (exit code 2)."""


def auth() -> str:
    """The saved CLI session's access token (raises with the login hint when there is none)."""
    from ..account.session import current_auth_token

    return current_auth_token()


def lookup() -> Any:
    """The symbol table (standalone: the local store filled by ``contract download``)."""
    from .. import host

    return host.symbols()


def fail(body: Any, status: int | None = None) -> None:
    """Raise the failure an OpenAlgo-shaped error reply describes (a 401 is a dead session)."""
    message = body.get("message") if isinstance(body, dict) else None
    message = str(message or body or "mStock request failed")
    if status == 401:
        raise SessionExpired(message)
    raise MStockRejected(message)


def book_or_fail(raw: Any) -> Any:
    """A book fetched through a face: its rows, or the failure raised (never "no rows")."""
    if isinstance(raw, dict) and raw.get("status") == "error":
        code = str(raw.get("code") or "")
        fail(raw, 401 if code in ("IA401", "401", "TokenException") else None)
    return raw


def json_option(parser: argparse.ArgumentParser) -> None:
    """``--json`` on a data-printing command (it also works before the command name)."""
    parser.add_argument("--json", action="store_true", default=argparse.SUPPRESS,
                        help="print the data as JSON with stable keys instead of a table")
