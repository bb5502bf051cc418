"""CLI: ``doctor [--live]``: check the set-up, then (``--live``) what mStock really does.

Prints the report for people (the terminal's width, colour on a terminal), or as Markdown
(``--format markdown``) or JSON (``--json``); with ``--report DIR`` it also writes
``doctor-report.md``, ``doctor-report.json`` and every raw sample as
``fixtures/<route>__<case>.json``, all redacted and safe to share. Exit status 0 when nothing
failed or was contradicted, 1 otherwise. Never places an order.
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path
from typing import TYPE_CHECKING

from .common import json_option
from .output import console

if TYPE_CHECKING:
    from ..diagnostics.report import Report

FORMATS = ("text", "markdown", "json")


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "doctor",
        help="check .env, clock, connectivity, API key, session and symbols; --live probes mStock (read-only)",
        description=(
            "Quick checks of everything a first live order depends on, each ok / warn / fail with its fix. "
            "With --live, read-only probes of the points mStock's documentation leaves open, each confirmed, "
            "contradicted (with the constant to change) or not testable now. Never places an order."
        ),
    )
    p.add_argument("--live", action="store_true", help="also probe mStock's undocumented behaviour (needs a session)")
    p.add_argument(
        "--login",
        action="store_true",
        help="log in first with MSTOCK_PASSWORD + MSTOCK_TOTP_SECRET if there is no saved session",
    )
    p.add_argument("--openalgo", metavar="PATH", help="the OpenAlgo checkout to check (default: detected)")
    p.add_argument(
        "--report",
        metavar="DIR",
        type=Path,
        help="write doctor-report.md, doctor-report.json and fixtures/ (redacted) into DIR",
    )
    p.add_argument("--format", choices=FORMATS, default="text", help="what to print (default: text; --json = json)")
    p.add_argument(
        "--feed-seconds",
        type=float,
        default=5.0,
        metavar="S",
        help="with --live: wait at most S seconds for a feed packet of every instrument (default 5)",
    )
    p.add_argument(
        "--probe-rate-limit",
        action="store_true",
        help="with --live: send up to three reads 0.1 s apart, past mStock's 1/s data limit, to see how it refuses",
    )
    json_option(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ..diagnostics import run_doctor
    from ..diagnostics.openalgo import find_checkout

    env_given = bool(getattr(args, "env_file", None))
    env_file = Path(args.env_file).expanduser().resolve() if env_given else (Path.cwd() / ".env").resolve()
    if args.login:
        _login_if_needed()
    report = run_doctor(
        live=args.live,
        env_file=env_file,
        env_file_given=env_given,
        openalgo=find_checkout(args.openalgo),
        openalgo_given=bool(args.openalgo),
        feed_seconds=max(0.2, args.feed_seconds),
        probe_rate_limit=args.probe_rate_limit,
    )
    out = console()
    fmt = "json" if getattr(args, "json", False) or out.json_mode else args.format
    if fmt == "json":
        out.line(report.to_json())
    elif fmt == "markdown":
        out.line(report.to_markdown().rstrip("\n"))
    else:
        out.line(report.to_text(width=out.width, paint=out.paint))
    if args.report is not None:
        written = write_report(report, args.report)
        out.note(f"report written to {written} (redacted: safe to share)")
    return 1 if report.failed else 0


def _login_if_needed() -> None:
    from ..account.session import login_headless
    from ..errors import MStockError

    try:
        login_headless()
    except MStockError as exc:
        console().note(f"login failed: {exc} (the checks below say more)")


def write_report(report: Report, folder: Path) -> Path:
    """``doctor-report.md``, ``doctor-report.json`` and ``fixtures/<name>.json`` in ``folder``."""
    from ..redact import redact

    folder.mkdir(parents=True, exist_ok=True)
    if os.name == "posix":
        os.chmod(folder, 0o700)
    (folder / "doctor-report.md").write_text(report.to_markdown(), encoding="utf-8")
    (folder / "doctor-report.json").write_text(report.to_json() + "\n", encoding="utf-8")
    fixtures = folder / "fixtures"
    if report.samples:
        fixtures.mkdir(exist_ok=True)
    for sample in report.samples:
        text = json.dumps(sample.body, indent=2, ensure_ascii=False) + "\n"
        (fixtures / f"{sample.name}.json").write_text(redact(text), encoding="utf-8")
    return folder
