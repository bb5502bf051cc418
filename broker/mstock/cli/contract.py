"""CLI: ``contract download``, ``contract search <text>``, ``contract show <symbol> <exchange>``."""

from __future__ import annotations

import argparse

from .progress import ProgressBar
from .table import print_kv, print_table

_RESULT_COLUMNS = ("symbol", "exchange", "token", "brsymbol", "expiry", "strike", "lotsize", "instrumenttype", "tick_size")


def register(sub: argparse._SubParsersAction) -> None:
    contract = sub.add_parser("contract", help="the mStock instrument master (symbol table)")
    commands = contract.add_subparsers(dest="contract_command", metavar="ACTION")

    p = commands.add_parser("download", help="download the instrument master and replace the symbol table")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=_download)

    p = commands.add_parser("search", help="find instruments by symbol, name, token or strike")
    p.add_argument("text", nargs="+", help="search terms (all must match), e.g. NIFTY 24000 CE")
    p.add_argument("--exchange", "-e", help="only this OpenAlgo exchange (NSE, NFO, BFO, CDS, ...)")
    p.add_argument("--limit", "-n", type=int, default=25)
    p.set_defaults(func=_search)

    p = commands.add_parser("show", help="everything the symbol table knows about one instrument")
    p.add_argument("symbol", help="OpenAlgo symbol, e.g. SBIN or NIFTY28OCT2524000CE")
    p.add_argument("exchange", help="OpenAlgo exchange, e.g. NSE or NFO")
    p.set_defaults(func=_show)

    contract.set_defaults(func=lambda args: (contract.print_help(), 2)[1])


def _download(args: argparse.Namespace) -> int:
    from .. import host
    from ..database.master_contract_db import refresh_master
    from ..errors import SessionExpired

    session = host.stored_session()
    if session is None:
        raise SessionExpired("log in first: mstock-openalgo login")
    progress = None if args.quiet else ProgressBar()
    try:
        result = refresh_master(session.access_token, progress=progress)
    finally:
        if progress is not None:
            progress.close()
    report = result.report
    print_table(
        [{"exchange": exch, "symbols": count} for exch, count in sorted(report.per_exchange.items())]
        + [{"exchange": "total", "symbols": report.stored_rows}],
        ["exchange", "symbols"],
        title=f"Instrument master: {result.size_bytes / 1e6:.1f} MB, {report.input_rows} rows "
        f"(index table {report.index_table_version})",
    )
    problems = [{"reason": k, "rows": v} for k, v in report.skipped.most_common()]
    problems += [{"reason": f"duplicate {k}", "rows": v} for k, v in report.duplicates.most_common()]
    if problems:
        print()
        print_table(problems, ["reason", "rows"], title="Rows not stored")
    print()
    print("  ".join(f"{stage} {seconds:.2f}s" for stage, seconds in result.timings.items()))
    return 0


def _search(args: argparse.Namespace) -> int:
    from .. import host

    records = host.symbols().search(" ".join(args.text), args.exchange.upper() if args.exchange else None, args.limit)
    print_table([_display(r) for r in records], _RESULT_COLUMNS)
    return 0 if records else 1


def _show(args: argparse.Namespace) -> int:
    from .. import host
    from ..mapping.symbols import require_instrument

    record = require_instrument(args.symbol.upper(), args.exchange.upper(), host.symbols())
    print_kv(_display(record), title=f"{record.symbol} on {record.exchange}")
    return 0


def _display(record) -> dict:
    # The table helper prints floats with 2 decimals; ticks like 0.0025 need all of theirs.
    return {k: (format(v, "g") if isinstance(v, float) else v) for k, v in record.as_dict().items()}
