"""CLI: ``login``, ``logout``, ``funds``."""

from __future__ import annotations

import argparse

from ..redact import mask_id
from .common import auth, json_option
from .output import console, print_kv


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("login", help="log in headlessly with MSTOCK_PASSWORD + MSTOCK_TOTP_SECRET and save the session")
    p.add_argument("--force", action="store_true", help="log in again even if the saved session is still alive")
    json_option(p)
    p.set_defaults(func=_login)

    p = sub.add_parser("logout", help="log out of mStock and delete the saved session")
    json_option(p)
    p.set_defaults(func=_logout)

    p = sub.add_parser("funds", help="show available cash, collateral, P&L and margin used")
    json_option(p)
    p.set_defaults(func=_funds)


def _login(args: argparse.Namespace) -> int:
    from ..account.session import login_headless

    outcome = login_headless(force=args.force)
    saved = outcome.session
    data = {
        "client": mask_id(saved.client_code),
        "name": saved.client_name or "",
        "logged_in_at": saved.issued_at,
        "expires_at": saved.expires_at,
        "server": saved.base_url,
        "reused": outcome.reused,
    }
    title = "mStock session (the saved one, still alive)" if outcome.reused else "mStock session (new login)"
    console().show(data, lambda: print_kv(
        {"client": data["client"], "name": data["name"], "logged in at": data["logged_in_at"],
         "token expires": data["expires_at"], "server": data["server"]},
        title=title,
    ))
    return 0


def _logout(args: argparse.Namespace) -> int:
    from ..account.session import logout_headless
    from ..errors import MStockRejected

    ok, error = logout_headless()
    if not ok:
        raise MStockRejected(f"logout failed: {error} (the saved session was deleted anyway)")
    console().show({"logged_out": True}, lambda: console().line("logged out"))
    return 0


def _funds(args: argparse.Namespace) -> int:
    from ..account.funds import fetch_funds
    from ..transport.client import get_client

    funds = fetch_funds(get_client(auth()))
    console().show(funds, lambda: print_kv(funds, title="Funds (INR)"))
    return 0
