"""Sub-commands only the full project has: ``sandbox``, ``demo``, ``install``, ``verify``."""

from __future__ import annotations

import argparse
import importlib.util


def register(sub: argparse._SubParsersAction) -> None:
    if importlib.util.find_spec("mstock_sandbox.cli") is not None:
        from mstock_sandbox.cli import register as register_sandbox

        register_sandbox(sub)

    p = sub.add_parser(
        "demo",
        help="run the whole plugin end to end on the embedded sandbox (no configuration needed)",
        description=(
            "Starts the embedded mStock sandbox, logs in with a generated TOTP, downloads the master contract, "
            "shows funds and quotes, places/modifies/cancels orders, runs a smart order, shows the books, "
            "closes all positions and logs out. With --live it uses your .env against the real mStock API and "
            "places no order unless --place-real-orders is also given."
        ),
    )
    p.add_argument("--live", action="store_true", help="use the real mStock API from .env instead of the sandbox")
    p.add_argument(
        "--place-real-orders",
        action="store_true",
        help="with --live: really place, modify and cancel orders (real money!)",
    )
    p.add_argument("--master-size", type=int, default=4000, help="rows in the sandbox's generated instrument master")
    p.set_defaults(func=_demo)

    p = sub.add_parser("install", help="install this broker/mstock into an OpenAlgo checkout (with backup)")
    p.add_argument("openalgo_path", help="path to the OpenAlgo checkout (the folder with app.py)")
    p.add_argument("--uninstall", action="store_true",
                   help="restore OpenAlgo's own broker/mstock and remove the order-update line")
    p.add_argument("--python", help="the OpenAlgo environment's python, for the import check (default: auto-detect)")
    p.add_argument("--no-core-edit", action="store_true",
                   help="do not add mstock to OpenAlgo's order-update table (services/order_update_service.py)")
    p.set_defaults(func=_install)

    p = sub.add_parser(
        "verify",
        help="check this plugin inside your OpenAlgo (a temporary copy, against the sandbox)",
        description=(
            "Copies the OpenAlgo checkout to a temporary folder (your database, .env and plugin are never touched), "
            "installs this plugin into the copy, starts the embedded mStock sandbox, OpenAlgo and its WebSocket "
            "proxy on free 127.0.0.1 ports, then checks setup, login, the master contract, the REST API, the "
            "WebSocket and (with --browser) the web pages against the sandbox's own state. Prints a table; exits 0 "
            "only if every check passed."
        ),
    )
    p.add_argument("openalgo_path", help="path to the OpenAlgo checkout (the folder with app.py)")
    p.add_argument("--python", help="OpenAlgo's Python 3.12+ with its requirements (default: the checkout's .venv or venv)")
    p.add_argument("--browser", action="store_true",
                   help="also check the order book, trade book, positions, holdings and dashboard pages in headless Chromium")
    p.add_argument("--out", metavar="DIR", help="write the browser screenshots here")
    p.add_argument("--keep", action="store_true", help="keep the temporary copy and its logs (processes are always stopped)")
    p.set_defaults(func=_verify)


def _demo(args: argparse.Namespace) -> int:
    from .demo import run_demo

    return run_demo(live=args.live, place_real_orders=args.place_real_orders, master_size=args.master_size)


def _verify(args: argparse.Namespace) -> int:
    from .verify.run import main

    return main(args)


def _install(args: argparse.Namespace) -> int:
    from .install import install, uninstall

    if args.uninstall:
        return uninstall(args.openalgo_path)
    return install(args.openalgo_path, python=args.python, core_edit=not args.no_core_edit)
