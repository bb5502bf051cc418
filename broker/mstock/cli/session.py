"""CLI: ``login``, ``logout``, ``funds``."""

from __future__ import annotations

import argparse

from ..redact import mask_id
from .table import print_kv


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("login", help="log in headlessly with MSTOCK_PASSWORD + MSTOCK_TOTP_SECRET and save the session")
    p.add_argument("--force", action="store_true", help="log in again even if a saved session is still valid")
    p.set_defaults(func=_login)

    p = sub.add_parser("logout", help="log out of mStock and delete the saved session")
    p.set_defaults(func=_logout)

    p = sub.add_parser("funds", help="show available cash, collateral, P&L and margin used")
    p.set_defaults(func=_funds)


def _login(args: argparse.Namespace) -> int:
    from ..account.session import login_headless

    saved = login_headless(force=args.force)
    print_kv(
        {
            "client": mask_id(saved.client_code),
            "name": saved.client_name or "",
            "logged in at": saved.issued_at,
            "token expires": saved.expires_at,
            "server": saved.base_url,
        },
        title="mStock session",
    )
    return 0


def _logout(args: argparse.Namespace) -> int:
    from ..account.session import logout_headless

    ok, error = logout_headless()
    print("logged out" if ok else f"logout failed: {error}")
    return 0 if ok else 1


def _funds(args: argparse.Namespace) -> int:
    from ..account.funds import fetch_funds
    from ..account.session import current_auth_token
    from ..transport.client import get_client

    funds = fetch_funds(get_client(current_auth_token()))
    print_kv(funds, title="Funds (INR)")
    return 0
