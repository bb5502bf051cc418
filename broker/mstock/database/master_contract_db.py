"""OpenAlgo's ``master_contract_download()`` for mStock: download, normalise, replace (contract 10.1).

Three steps, each its own function (style 7.9):

1. :func:`download_master` streams ``instruments/OpenAPIScripMaster`` through the shared
   client with the stored session's token (``host.stored_session()``: inside OpenAlgo the
   active mstock login, standalone the CLI session; never ``LOGIN_USERNAME``, D16);
2. :func:`parse_master` reads the bytes: a bare JSON array, or CSV with the same header
   (spec 8.4 [CONFLICT]); :func:`.normalize.build_symtoken_rows` turns rows into
   ``symtoken`` tuples (rules in :mod:`.normalize`);
3. :func:`check_plausible` refuses a result that is too small or mostly unparseable, then
   ``host.replace_symbol_table`` swaps the rows in atomically (D15).

:func:`master_contract_download` returns only on success and **raises** on any failure,
after reporting it with ``host.notify("master_contract_download", {"status": "error", ...})``:
OpenAlgo marks the download failed only when the function raises (contract 10.1 step 3).
"""

from __future__ import annotations

import csv
import gc
import io
import json
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from .. import host
from ..errors import BadResponse, MStockError, SessionExpired
from ..records import SYMTOKEN_COLUMNS
from ..redact import redact
from .normalize import NormalizationReport, _normalise, build_symtoken_rows

__all__ = [
    "DownloadResult",
    "Limits",
    "MasterContractError",
    "NormalizationReport",
    "build_symtoken_rows",
    "check_plausible",
    "download_master",
    "master_contract_download",
    "iter_master_chunks",
    "parse_master",
    "process_master",
    "refresh_master",
]

log = host.get_logger(__name__)

ROUTE = "market.scrip_master"
EVENT = "master_contract_download"
PROGRESS_EVENT = "master_contract_progress"
MASTER_FIELDS = ("token", "symbol", "name", "expiry", "strike", "lotsize", "instrumenttype", "exch_seg", "tick_size")

# stage ("download", "parse", "normalise", "store"), done, total (None if unknown)
Progress = Callable[[str, int, "int | None"], None]


class MasterContractError(MStockError):
    """The instrument master was downloaded but is not fit to replace the symbol table."""


@dataclass(frozen=True)
class Limits:
    """When a download counts as a failure even though it parsed (the old table stays)."""

    min_rows: int = 1000  # the real master has ~10^5 rows (spec 8.4)
    max_rejected_ratio: float = 0.25  # skipped + duplicate rows / input rows
    required_exchanges: tuple[str, ...] = ("NSE", "NFO")
    # Options whose name does not contain their strike text: a strike unit change (paise)
    # would build wrong OpenAlgo symbols for every option, so refuse rather than store.
    max_strike_mismatch_ratio: float = 0.5


DEFAULT_LIMITS = Limits()


@dataclass
class DownloadResult:
    report: NormalizationReport
    stored: int
    size_bytes: int
    timings: dict[str, float] = field(default_factory=dict)  # seconds per stage

    def summary(self) -> str:
        return f"mStock master contract: {self.report.summary()}"


# ----------------------------------------------------------------------------- parsing

CHUNK_BYTES = 256 << 10  # JSON is parsed ~256 kB (~1.3k rows) at a time: bounded memory, cache-friendly
_BOM = b"\xef\xbb\xbf"
_WHITESPACE = b" \t\r\n"


class _SplitFailed(Exception):
    """A chunk boundary fell inside a string value; parse the body whole instead."""


def parse_master(raw: bytes) -> list[dict[str, Any]]:
    """The rows of a downloaded master: bare JSON array, or CSV with the same header.

    Raises :class:`BadResponse` for a truncated or unrecognisable body (the download is
    worth retrying) and never returns a partial list.
    """
    if _first_byte(raw) in (b"[", b"{"):
        return _parse_json_whole(raw)
    return [row for chunk in _iter_csv_chunks(raw) for row in chunk]


def iter_master_chunks(raw: bytes, chunk_bytes: int = CHUNK_BYTES) -> Iterator[list[dict[str, Any]]]:
    """The master as successive lists of rows, parsed a few MB at a time.

    A JSON array is cut between objects (``},`` followed by ``{``) and each piece parsed
    on its own; if a cut ever falls inside a string, :class:`_SplitFailed` is raised and
    the caller parses the body whole. Raises :class:`BadResponse` like :func:`parse_master`.
    """
    head = _first_byte(raw)
    if head == b"{":
        yield _parse_json_whole(raw)
    elif head == b"[":
        yield from _iter_json_chunks(raw, chunk_bytes)
    else:
        yield from _iter_csv_chunks(raw)


def _first_byte(raw: bytes) -> bytes:
    body = raw[3:] if raw.startswith(_BOM) else raw
    for position in range(min(len(body), 4096)):
        if body[position] not in _WHITESPACE:
            return body[position : position + 1]
    return b""


def _decode(raw: bytes) -> str:
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise BadResponse("the instrument master is not UTF-8 text", route=ROUTE) from None


def _parse_json_whole(raw: bytes) -> list[dict[str, Any]]:
    try:
        payload = json.loads(_decode(raw))
    except ValueError as exc:
        detail = f"{exc.msg} at {exc.pos}" if isinstance(exc, json.JSONDecodeError) else str(exc)
        raise BadResponse(f"the instrument master is not valid JSON ({detail})", route=ROUTE) from None
    if isinstance(payload, dict) and isinstance(payload.get("data"), list):
        payload = payload["data"]  # an enveloped variant, should mStock ever wrap it
    if not isinstance(payload, list):
        raise BadResponse("the instrument master JSON is not an array", route=ROUTE)
    return payload


def _iter_json_chunks(raw: bytes, chunk_bytes: int) -> Iterator[list[dict[str, Any]]]:
    start = raw.index(b"[") + 1
    end = raw.rfind(b"]")
    if end < start:
        raise BadResponse("the instrument master is not valid JSON (truncated: no closing bracket)", route=ROUTE)
    position = start
    while True:
        cut = _next_boundary(raw, position + chunk_bytes, end)
        piece = raw[position:cut]
        try:
            text = piece.decode("utf-8")
        except UnicodeDecodeError:
            raise BadResponse("the instrument master is not UTF-8 text", route=ROUTE) from None
        try:
            rows = json.loads("[" + text + "]")
        except ValueError:
            raise _SplitFailed from None
        del piece, text
        yield rows
        if cut >= end:
            return
        position = cut + 1  # skip the comma between two objects


def _next_boundary(raw: bytes, from_position: int, end: int) -> int:
    """Index just after an object's ``}`` that is followed by ``,`` and ``{`` (or ``end``)."""
    search = from_position
    while search < end:
        brace = raw.find(b"},", search, end)
        if brace < 0:
            return end
        after = brace + 2
        while after < end and raw[after] in _WHITESPACE:
            after += 1
        if after < end and raw[after] == 0x7B:  # "{"
            return brace + 1
        search = brace + 1
    return end


def _iter_csv_chunks(raw: bytes, rows_per_chunk: int = 20_000) -> Iterator[list[dict[str, Any]]]:
    reader = csv.reader(io.StringIO(_decode(raw)))
    header = next(reader, None)
    columns = [c.strip().lower() for c in header] if header else []
    if not {"token", "name", "exch_seg"} <= set(columns):
        raise BadResponse("the instrument master is neither a JSON array nor CSV with its header", route=ROUTE)
    width = len(columns)
    chunk: list[dict[str, Any]] = []
    for values in reader:
        if not values:
            continue
        if len(values) != width:
            # A short last line means a truncated download, not a row to skip.
            raise BadResponse(f"the instrument master CSV has a row of {len(values)} fields, expected {width}", route=ROUTE)
        chunk.append(dict(zip(columns, values)))
        if len(chunk) >= rows_per_chunk:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


# ----------------------------------------------------------------------------- checks


def check_plausible(report: NormalizationReport, limits: Limits = DEFAULT_LIMITS) -> None:
    """Raise :class:`MasterContractError` when the result must not replace the current table."""
    problems = []
    if report.stored_rows < limits.min_rows:
        problems.append(f"only {report.stored_rows} usable rows (at least {limits.min_rows} expected)")
    rejected = report.skipped_total + report.duplicates_total
    if report.input_rows and rejected / report.input_rows > limits.max_rejected_ratio:
        problems.append(f"{rejected} of {report.input_rows} rows could not be used")
    missing = [e for e in limits.required_exchanges if not report.per_exchange.get(e)]
    if missing:
        problems.append(f"no {', '.join(missing)} instruments")
    if report.options and report.strike_not_in_name / report.options > limits.max_strike_mismatch_ratio:
        problems.append(
            f"{report.strike_not_in_name} of {report.options} option names do not contain their strike (unit change?)"
        )
    if problems:
        raise MasterContractError(f"instrument master rejected: {'; '.join(problems)} [{report.summary()}]", route=ROUTE)


# ----------------------------------------------------------------------------- pipeline


@contextmanager
def _gc_paused() -> Iterator[None]:
    """Pause the cyclic GC while ~10^6 acyclic objects are created (about 25% faster).

    Nothing here builds reference cycles; the GC is re-enabled (if it was on) even on error.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def download_master(auth_token: str, progress: Progress | None = None) -> bytes:
    """The raw master body, streamed through the shared client (retried if transient)."""
    from ..transport.client import get_client

    callback = (lambda done, total: progress("download", done, total)) if progress else None
    return get_client(auth_token).fetch_bytes(ROUTE, progress=callback)


def process_master(
    raw: bytes,
    *,
    store: Callable[[list[tuple]], int] | None = None,
    limits: Limits = DEFAULT_LIMITS,
    progress: Progress | None = None,
) -> DownloadResult:
    """Parse, normalise, check and store a downloaded master; return what happened.

    ``store`` defaults to ``host.replace_symbol_table`` (OpenAlgo's ``symtoken`` when hosted,
    the standalone store otherwise). Raises before storing anything if a check fails.
    """
    timings: dict[str, float] = {}
    size = len(raw)
    with _gc_paused():
        started = time.perf_counter()
        parse_seconds = [0.0]
        try:
            rows, report = _normalise(_timed(iter_master_chunks(raw, CHUNK_BYTES), parse_seconds), consume=True)
        except _SplitFailed:
            log.info("instrument master: a chunk boundary fell inside a value; parsing it whole")
            parse_seconds = [0.0]
            rows, report = _normalise(_timed(iter([parse_master(raw)]), parse_seconds), consume=True)
        timings["parse"] = parse_seconds[0]
        timings["normalise"] = time.perf_counter() - started - parse_seconds[0]
        _report(progress, "parse", report.input_rows, report.input_rows)
        _report(progress, "normalise", report.stored_rows, report.input_rows)

        check_plausible(report, limits)
        started = time.perf_counter()
        stored = (store or _store_via_host)(rows)
        timings["store"] = time.perf_counter() - started
        _report(progress, "store", stored, stored)
    if report.skipped_total or report.duplicates_total:
        log.warning("master contract: %s; examples %s", report.summary(), report.examples)
    return DownloadResult(report=report, stored=stored, size_bytes=size, timings=timings)


def refresh_master(
    auth_token: str, *, progress: Progress | None = None, limits: Limits = DEFAULT_LIMITS
) -> DownloadResult:
    """Download with ``auth_token`` and replace the symbol table; raise on any failure."""
    started = time.perf_counter()
    raw = download_master(auth_token, progress)
    download_seconds = time.perf_counter() - started
    result = process_master(raw, limits=limits, progress=progress)
    result.timings = {"download": download_seconds, **result.timings}
    return result


def _timed(chunks: Iterator[list], seconds: list[float]) -> Iterator[list]:
    """Pass chunks through, adding the time spent producing them (parsing) to ``seconds[0]``."""
    while True:
        started = time.perf_counter()
        try:
            chunk = next(chunks)
        except StopIteration:
            seconds[0] += time.perf_counter() - started
            return
        seconds[0] += time.perf_counter() - started
        yield chunk


def _store_via_host(rows: list[tuple]) -> int:
    return host.replace_symbol_table(rows, expected_columns=SYMTOKEN_COLUMNS)


def _report(progress: Progress | None, stage: str, done: int, total: int | None) -> None:
    if progress is not None:
        progress(stage, done, total)


class _NotifyProgress:
    """Progress for the OpenAlgo entry point: one event per stage, downloads every ~10 MB."""

    def __init__(self) -> None:
        self._next_bytes = 0

    def __call__(self, stage: str, done: int, total: int | None) -> None:
        if stage == "download":
            if done < self._next_bytes and done != total:
                return
            self._next_bytes = done + 10_000_000
            message = f"downloading instrument master: {done / 1e6:.1f} MB"
        else:
            message = f"instrument master {stage}: {done} rows"
        host.notify(PROGRESS_EVENT, {"status": "progress", "stage": stage, "message": message})


def master_contract_download() -> str:
    """OpenAlgo's entry point (no arguments, contract 10.1): refresh ``symtoken`` or raise.

    Returns a one-line summary on success. Any failure is reported with
    ``host.notify(..., {"status": "error"})`` and re-raised, so OpenAlgo records it; the
    previous symbol table is left untouched.
    """
    try:
        session = host.stored_session()
        if session is None:
            raise SessionExpired("no stored mStock session for the instrument download: log in first", route=ROUTE)
        result = refresh_master(session.access_token, progress=_NotifyProgress())
    except Exception as exc:  # noqa: BLE001 - reported to the UI, then re-raised below: never swallowed
        # Any failure (ours, the store's, a bug) must reach OpenAlgo as an exception so its
        # status table says "error" (contract 10.1 step 3); the toast only tells the user why.
        message = str(exc) if isinstance(exc, MStockError) else f"{type(exc).__name__}: {exc}"
        host.notify(EVENT, {"status": "error", "message": redact(f"mStock master contract download failed: {message}")})
        raise
    summary = result.summary()
    log.info("%s in %s", summary, ", ".join(f"{k} {v:.2f}s" for k, v in result.timings.items()))
    host.notify(EVENT, {"status": "success", "message": summary})
    return summary
