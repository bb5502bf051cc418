"""``mstock-openalgo`` / ``python -m broker.mstock``: the command-line interface.

Each area registers its sub-commands from its own module (``register(subparsers)``), so
the CLI grows without one file knowing every command. The project's tools package adds
``sandbox``, ``demo`` and ``install`` when it is installed; a bare copy of
``broker/mstock`` inside OpenAlgo simply has the plugin commands.
"""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import sys
from collections.abc import Sequence

from ..errors import MStockError

COMMAND_MODULES = (
    "broker.mstock.cli.session",
    "broker.mstock.cli.contract",
    "broker.mstock.cli.orders",
    "broker.mstock.cli.market",
    "broker.mstock.cli.stream",
)
# Added when the project (not just the plugin directory) is installed.
OPTIONAL_MODULES = ("mstock_tools.commands",)


def _available(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except ImportError:
        return False


def build_parser(modules: Sequence[str] = ()) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="mstock-openalgo",
        description="mStock Type B plugin for OpenAlgo: log in, inspect, trade and stream from the command line.",
    )
    parser.add_argument("--env-file", help="read configuration from this .env file (default: ./.env)")
    parser.add_argument("-v", "--verbose", action="count", default=0, help="log more (-vv for debug)")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in (*COMMAND_MODULES, *OPTIONAL_MODULES, *modules):
        if _available(name):
            importlib.import_module(name).register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    import logging

    from .. import config

    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=[logging.WARNING, logging.INFO, logging.DEBUG][min(args.verbose, 2)],
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    config.load_dotenv_once(args.env_file)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        result = args.func(args)
    except MStockError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    return int(result or 0)
