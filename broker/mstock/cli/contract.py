"""CLI: ``contract download``, ``contract search <text>``, ``contract show <symbol> <exchange>``."""

from __future__ import annotations

import argparse

from .common import json_option, lookup
from .instruments import take_instrument
from .output import console, print_kv, print_table
from .progress import ProgressBar
from .table import Column

_RESULT_COLUMNS = (
    Column("symbol"),
    Column("exchange"),
    Column("token", priority=3),
    Column("brsymbol", priority=4),
    Column("expiry"),
    Column("strike", priority=1),
    Column("lotsize", "lot"),
    Column("instrumenttype", "type", priority=2),
    Column("tick_size", "tick", priority=5),
)


def register(sub: argparse._SubParsersAction) -> None:
    contract = sub.add_parser("contract", help="the mStock instrument master (symbol table)")
    commands = contract.add_subparsers(dest="contract_command", metavar="ACTION")

    p = commands.add_parser("download", help="download the instrument master and replace the symbol table")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    json_option(p)
    p.set_defaults(func=_download)

    p = commands.add_parser("search", help="find instruments by symbol, name, token or strike (nearest expiry first)")
    p.add_argument("text", nargs="+", help="search terms (all must match), e.g. NIFTY 24000 CE")
    p.add_argument("--exchange", "-e", help="only this OpenAlgo exchange (NSE, NFO, BFO, CDS, ...)")
    p.add_argument("--limit", "-n", type=int, default=25)
    json_option(p)
    p.set_defaults(func=_search)

    p = commands.add_parser(
        "show",
        help="everything the symbol table knows about one instrument",
        usage="%(prog)s SYMBOL:EXCHANGE (or NSE:SBIN, or SYMBOL EXCHANGE) [--json]",
    )
    p.add_argument("instrument", nargs="+", metavar="SYMBOL:EXCHANGE", help="e.g. SBIN:NSE, NSE:SBIN or NIFTY28OCT2524000CE NFO")
    json_option(p)
    p.set_defaults(func=_show)

    contract.set_defaults(func=lambda args: (contract.print_help(), 2)[1])


def _download(args: argparse.Namespace) -> int:
    from .. import host
    from ..database.master_contract_db import refresh_master
    from ..errors import SessionExpired

    session = host.stored_session()
    if session is None:
        raise SessionExpired("no saved mStock session: log in first with `mstock-openalgo login`")
    with ProgressBar(use_rich=None if not args.quiet else False) as progress:
        result = refresh_master(session.access_token, progress=None if args.quiet else progress)
    report = result.report
    data = {
        "size_bytes": result.size_bytes,
        "input_rows": report.input_rows,
        "stored_rows": report.stored_rows,
        "per_exchange": dict(sorted(report.per_exchange.items())),
        "skipped": dict(report.skipped.most_common()),
        "duplicates": dict(report.duplicates.most_common()),
        "index_table_version": report.index_table_version,
        "seconds": {stage: round(seconds, 3) for stage, seconds in result.timings.items()},
    }

    def human() -> None:
        print_table(
            [{"exchange": exch, "symbols": count} for exch, count in data["per_exchange"].items()]
            + [{"exchange": "total", "symbols": report.stored_rows}],
            ["exchange", "symbols"],
            title=f"Instrument master: {result.size_bytes / 1e6:.1f} MB, {report.input_rows} rows "
            f"(index table {report.index_table_version})",
        )
        problems = [{"reason": k, "rows": v} for k, v in data["skipped"].items()]
        problems += [{"reason": f"duplicate {k}", "rows": v} for k, v in data["duplicates"].items()]
        if problems:
            console().line()
            print_table(problems, ["reason", "rows"], title="Rows not stored")
        console().line()
        console().line("  ".join(f"{stage} {seconds:.2f}s" for stage, seconds in result.timings.items()))

    console().show(data, human)
    return 0


def _search(args: argparse.Namespace) -> int:
    records = lookup().search(" ".join(args.text), args.exchange.upper() if args.exchange else None, args.limit)
    rows = [_display(r) for r in records]
    console().show([r.as_dict() for r in records], lambda: print_table(rows, _RESULT_COLUMNS))
    if not records:
        console().note("no instrument matches; run `mstock-openalgo contract download` if the symbol table is empty")
    return 0 if records else 1


def _show(args: argparse.Namespace) -> int:
    from ..errors import ValidationError
    from ..mapping.symbols import require_instrument

    (symbol, exchange), rest = take_instrument(args.instrument, lookup())
    if rest:
        raise ValidationError(f"contract show takes one instrument; unexpected {' '.join(rest)!r}")
    record = require_instrument(symbol, exchange, lookup())
    console().show(record.as_dict(), lambda: print_kv(_display(record), title=f"{record.symbol} on {record.exchange}"))
    return 0


def _display(record) -> dict:
    # The table helper prints floats with 2 decimals; ticks like 0.0025 need all of theirs.
    return {k: (format(v, "g") if isinstance(v, float) else v) for k, v in record.as_dict().items()}
