"""``mstock-openalgo`` / ``python -m broker.mstock``: the command-line interface.

Each area registers its sub-commands from its own module (``register(subparsers)``), so
the CLI grows without one file knowing every command. The project's tools package adds
``sandbox``, ``demo`` and ``install`` when it is installed; a bare copy of
``broker/mstock`` inside OpenAlgo simply has the plugin commands.

What every command can rely on (set up once in :func:`main`):

* errors are one line on stderr (``error: ...``) and a non-zero exit code: 1 for a
  failure, 2 for a usage mistake, 130 for Ctrl-C; no input produces a traceback (an
  unexpected exception is reported in one line with a hint to rerun with ``-vv``);
* logs are quiet unless asked for (``-v`` information, ``-vv`` debug with tracebacks);
* ``--json`` on every command that prints data, with stable keys;
* output to a reader that goes away (``| head``) ends quietly.
"""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import logging
import os
import sys
import traceback
from collections.abc import Sequence
from typing import Any

from ..errors import ConfigError, MStockError, SessionExpired
from ..redact import redact
from .common import UsageError
from .output import Console, PipeGuard, release_console, use_console

COMMAND_MODULES = (
    "broker.mstock.cli.session",
    "broker.mstock.cli.contract",
    "broker.mstock.cli.orders",
    "broker.mstock.cli.market",
    "broker.mstock.cli.stream",
    "broker.mstock.cli.completion",
    "broker.mstock.cli.doctor",
)
# Added when the project (not just the plugin directory) is installed.
OPTIONAL_MODULES = ("mstock_tools.commands",)
PROG = "mstock-openalgo"


class Parser(argparse.ArgumentParser):
    """argparse with a one-line usage error (the full usage is one ``--help`` away)."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(2, f"error: {message} (see `{self.prog} --help`)\n")


def _available(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except ImportError:
        return False


def version() -> str:
    """The installed project's version, or the plugin's own when it runs from a bare copy."""
    from importlib import metadata

    try:
        return metadata.version(PROG)
    except metadata.PackageNotFoundError:
        from .. import __version__

        return __version__


def build_parser(modules: Sequence[str] = ()) -> argparse.ArgumentParser:
    parser = Parser(
        prog=PROG,
        description="mStock Type B plugin for OpenAlgo: log in, inspect, trade and stream from the command line.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {version()}")
    parser.add_argument("--env-file", help="read configuration from this .env file (default: ./.env)")
    parser.add_argument("-v", "--verbose", action="count", default=0, help="show log messages (-vv: debug, with tracebacks)")
    parser.add_argument("--json", action="store_true", help="print data as JSON (same as --json after the command)")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in (*COMMAND_MODULES, *OPTIONAL_MODULES, *modules):
        if _available(name):
            importlib.import_module(name).register(sub)
    return parser


class _OneLineFormatter(logging.Formatter):
    """``-v``: an exception is its type and message, never a traceback."""

    def formatException(self, ei: Any) -> str:  # noqa: N802 (logging's name)
        return f"  ({ei[0].__name__}: {ei[1]})"

    def formatStack(self, stack_info: str) -> str:  # noqa: N802
        return ""


def _configure_logging(verbosity: int, stream: Any) -> tuple[logging.Handler, int]:
    root = logging.getLogger()
    previous = root.level
    handler = logging.StreamHandler(stream)
    if verbosity <= 0:
        level = logging.CRITICAL + 1  # quiet: the command itself reports what went wrong
    elif verbosity == 1:
        level = logging.INFO
        handler.setFormatter(_OneLineFormatter("%(levelname)s %(name)s: %(message)s"))
    else:
        level = logging.DEBUG
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    handler.setLevel(level)
    root.addHandler(handler)
    root.setLevel(min(level, logging.CRITICAL))
    return handler, previous


def explain(exc: MStockError) -> str:
    """The one line a user reads for ``exc``."""
    if isinstance(exc, SessionExpired):
        return session_expired_message(str(exc))
    return str(exc)


def session_expired_message(detail: str) -> str:
    """A dead session, said plainly, with mStock's own words kept at the end."""
    from ..account.session import LOGIN_COMMAND, SESSION_ENDED

    if "mstock-openalgo login" in detail:  # already our own explanation
        return detail
    return f"{SESSION_ENDED}; log in again with `{LOGIN_COMMAND}` (mStock said: {detail})"


def main(argv: Sequence[str] | None = None) -> int:
    out, err = PipeGuard(sys.stdout), PipeGuard(sys.stderr)
    saved_streams = sys.stdout, sys.stderr
    sys.stdout, sys.stderr = out, err  # type: ignore[assignment]
    try:
        return _run(argv, out, err)
    finally:
        sys.stdout, sys.stderr = saved_streams


def _run(argv: Sequence[str] | None, out: PipeGuard, err: PipeGuard) -> int:
    from .. import config

    parser = build_parser()
    _autocomplete(parser)
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # --help, --version, or a usage error already printed
        return int(exc.code or 0) if isinstance(exc.code, int) else 2
    _windows_ansi()
    console = Console(out, err, json_mode=bool(getattr(args, "json", False)))
    token = use_console(console)
    handler, level = _configure_logging(args.verbose, err)
    try:
        if args.env_file and not os.path.isfile(args.env_file):
            raise ConfigError(f"--env-file {args.env_file}: no such file")
        config.load_dotenv_once(args.env_file)
        if not getattr(args, "func", None):
            parser.print_help()
            return 2
        return int(args.func(args) or 0)
    except MStockError as exc:
        console.error(explain(exc))
        return 2 if isinstance(exc, UsageError) else 1
    except KeyboardInterrupt:
        console.note("interrupted")
        return 130
    except BrokenPipeError:
        return 0  # the reader went away (output written outside the guarded streams)
    except OSError as exc:  # a file the user named: missing folder, no permission, disk full
        where = f" ({exc.filename})" if exc.filename else ""
        console.error(f"{exc.strerror or exc}{where}")
        return 1
    except Exception as exc:  # the last resort: one line, never a traceback unless asked for
        if args.verbose >= 2:
            err.write(redact(traceback.format_exc()))
        console.error(
            f"unexpected {type(exc).__name__}: {exc}. This is a bug in mstock-openalgo; "
            f"rerun with -vv for details and report it"
        )
        return 1
    finally:
        logging.getLogger().removeHandler(handler)
        logging.getLogger().setLevel(level)
        release_console(token)


def _windows_ansi() -> None:
    """Old Windows consoles show colour codes as text unless colorama switches them on."""
    if os.name != "nt":
        return
    try:
        import colorama
    except ImportError:
        return
    colorama.just_fix_windows_console()


def _autocomplete(parser: argparse.ArgumentParser) -> None:
    """Shell completion through argcomplete when it is installed (a no-op otherwise)."""
    try:
        import argcomplete
    except ImportError:
        return
    argcomplete.autocomplete(parser)
