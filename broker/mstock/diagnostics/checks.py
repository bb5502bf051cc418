"""The quick checks of ``mstock-openalgo doctor``: what usually breaks on the first day.

Which ``.env`` was read; every variable present and well-formed (client code, API key,
base32 TOTP secret, OpenAlgo's ``REDIRECT_URL`` and ``VALID_BROKERS``); this machine's
clock against mStock's (TOTP codes live 30 seconds); REST and feed hosts reachable with a
valid TLS certificate; the API key accepted and this machine's IP address whitelisted
(from mStock's own refusal texts); the saved session alive and when it expires; the
symbol table's age and rows per exchange; and, for an OpenAlgo checkout, the installed
plugin and its order-update registration (:mod:`.openalgo`).

The network checks run side by side, each with a timeout of a few seconds, so the whole
run stays well under ten seconds even when a host does not answer. Values of secrets are
never shown: only whether they are set, their length, and what is wrong with their shape.
"""

from __future__ import annotations

import os
import re
import stat
import threading
import time
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from datetime import time as dtime
from typing import Any
from urllib.parse import urlsplit

import pyotp

from .. import host
from ..clock import IST
from ..errors import ApiKeyRejected, MStockError, MStockTransient, NetworkError, SessionExpired
from ..local import session_file
from ..local.symbol_store import SymbolStoreError, describe
from ..redact import mask_id, register_secret
from ..transport.probe import EndpointCheck, check_endpoint
from .context import Context
from .openalgo import check_openalgo
from .report import FAIL, OK, WARN, Finding

ENDPOINT_TIMEOUT = 3.0
# Every network check runs at once and the slowest is cut off here, so the quick checks end
# within about this long plus local work, whatever the network does.
NETWORK_DEADLINE = 6.0
# TOTP codes change every 30 s and mStock accepts about one step either side [INFERRED].
SKEW_WARN_SECONDS = 5.0
SKEW_FAIL_SECONDS = 25.0
MASTER_REBUILT_AT = dtime(8, 30)  # mStock's BOD ends 08:30 IST: the day's master is ready

OUR_VARIABLES = (
    "BROKER_API_KEY",
    "BROKER_API_SECRET",
    "MSTOCK_PASSWORD",
    "MSTOCK_TOTP_SECRET",
    "REDIRECT_URL",
    "VALID_BROKERS",
    "MSTOCK_BASE_URL",
    "MSTOCK_WS_URL",
    "DATABASE_URL",
    "MSTOCK_SESSION_FILE",
)
_CLIENT_CODE = re.compile(r"^[A-Z]{1,4}\d{3,10}$")
_MOBILE = re.compile(r"^\d{10}$")
_BASE32 = re.compile(r"^[A-Z2-7]+=*$")
_CALLBACK = re.compile(r"/([^/]+)/callback$")  # what OpenAlgo's start-up check matches


def run_checks(ctx: Context) -> None:
    report = ctx.report
    report.add(_env_file(ctx))
    for finding in _variables(ctx):
        report.add(finding)
    if ctx.settings is None:
        report.add(
            Finding(
                "config",
                "configuration",
                FAIL,
                ctx.settings_error or "cannot read the configuration",
                fix="correct the variable named above in .env",
            )
        )
        _add_openalgo(ctx)
        return
    _load_session(ctx)
    settings = ctx.settings
    tasks: dict[str, Callable[[], Any]] = {
        "rest": lambda: check_endpoint(settings.base_url, timeout=ENDPOINT_TIMEOUT),
        "feed": lambda: check_endpoint(settings.ws_url, timeout=ENDPOINT_TIMEOUT),
        "keyless": lambda: _call_orders(ctx, None),
    }
    if ctx.access_token:
        tasks["session"] = lambda: _call_orders(ctx, ctx.access_token)
    results = run_timeboxed(tasks, NETWORK_DEADLINE)
    late = NetworkError(f"no answer within {NETWORK_DEADLINE:g} s")
    report.add(_endpoint("rest_host", "REST host", _checked(results.get("rest"), settings.base_url), "MSTOCK_BASE_URL"))
    report.add(_endpoint("feed_host", "feed host", _checked(results.get("feed"), settings.ws_url), "MSTOCK_WS_URL"))
    keyless_error = _answered(results["keyless"]) if "keyless" in results else late
    session_error = (_answered(results["session"]) if "session" in results else late) if "session" in tasks else None
    report.add(_clock(ctx))
    report.add(_api_key(ctx, keyless_error, session_error, "session" in tasks))
    report.add(_session(ctx, session_error))
    ctx.sample("orders.list", "no_session", exchange=_first(ctx, "orders.list", 401, 403))
    report.add(_symbol_table(ctx))
    _add_openalgo(ctx)


def run_timeboxed(tasks: dict[str, Callable[[], Any]], deadline: float) -> dict[str, Any]:
    """Run ``tasks`` side by side; return the results of those done within ``deadline`` seconds.

    Daemon threads: a task stuck past the deadline (a DNS lookup has no timeout of its own)
    is left behind and never holds the process.
    """
    results: dict[str, Any] = {}
    lock = threading.Lock()

    def runner(name: str, task: Callable[[], Any]) -> None:
        try:
            value = task()
        except Exception as exc:  # noqa: BLE001 - returned to the caller, which reports it
            value = exc
        with lock:
            results[name] = value

    threads = [
        threading.Thread(target=runner, args=item, name=f"mstock-doctor-{item[0]}", daemon=True)
        for item in tasks.items()
    ]
    for thread in threads:
        thread.start()
    end = time.monotonic() + deadline
    for thread in threads:
        thread.join(max(0.0, end - time.monotonic()))
    with lock:
        return dict(results)


def _checked(result: Any, url: str) -> EndpointCheck:
    """The endpoint check's result, or one that says why there is none (too late, or failed)."""
    if isinstance(result, EndpointCheck):
        return result
    parts = urlsplit(url)
    secure = parts.scheme in ("https", "wss")
    try:
        port = parts.port or (443 if secure else 80)
    except ValueError:
        port = 0
    if result is None:
        problem = f"no answer from {parts.hostname}:{port} within {NETWORK_DEADLINE:g} s"
    else:
        problem = f"cannot check {parts.hostname}:{port} ({type(result).__name__}: {result})"
    return EndpointCheck(parts.hostname or "", port, secure, NETWORK_DEADLINE, problem)


def _answered(result: Any) -> MStockError | None:
    """An order-book read's outcome; an unexpected failure becomes an error to report."""
    if result is None or isinstance(result, MStockError):
        return result
    return MStockError(f"{type(result).__name__}: {result}")


def _first(ctx: Context, route: str, *statuses: int) -> Any:
    return next((e for e in ctx.recorder.all() if e.route == route and e.http_status in statuses), None)


def _add_openalgo(ctx: Context) -> None:
    for finding in check_openalgo(ctx):
        ctx.report.add(finding)


# ---------------------------------------------------------------------- .env


def _env_file(ctx: Context) -> Finding:
    path = ctx.env_file
    if path is None:
        return Finding(
            "env_file",
            ".env file",
            WARN,
            "no .env file was read; settings come from the environment only",
            fix="pass --env-file PATH (OpenAlgo's .env) or run from the folder that holds .env",
        )
    if not path.is_file():
        how = "given with --env-file" if ctx.env_file_given else "in the current folder"
        return Finding(
            "env_file",
            ".env file",
            WARN if not ctx.env_file_given else FAIL,
            f"no .env at {path} ({how}); settings come from the environment only",
            fix="pass --env-file with the path of OpenAlgo's .env"
            if not ctx.env_file_given
            else "check the path given to --env-file",
        )
    try:
        from dotenv import dotenv_values

        values = dotenv_values(path)
    except OSError as exc:
        return Finding(
            "env_file",
            ".env file",
            FAIL,
            f"cannot read {path}: {exc.strerror or exc}",
            fix="make the file readable by this user",
        )
    ours = [name for name in OUR_VARIABLES if values.get(name)]
    overridden = [
        name
        for name in ours
        if os.environ.get(name) is not None and _clean(os.environ[name]) != _clean(values.get(name) or "")
    ]
    detail = f"read {path} ({len(ours)} of the plugin's variables: {', '.join(ours) or 'none'})"
    problems: list[str] = []
    fixes: list[str] = []
    if overridden:
        problems.append(f"the shell's environment overrides the file for {', '.join(overridden)}")
        fixes.append(f"unset {' '.join(overridden)} in the shell, or make the file agree")
    if os.name == "posix":
        mode = path.stat().st_mode
        if mode & (stat.S_IRGRP | stat.S_IROTH):
            problems.append("the file is readable by other users and holds your API key")
            fixes.append(f"chmod 600 {path}")
    if problems:
        return Finding("env_file", ".env file", WARN, detail + "; " + "; ".join(problems), fix="; ".join(fixes))
    return Finding("env_file", ".env file", OK, detail)


def _clean(value: str) -> str:
    return value.strip().strip('"').strip("'")


# ---------------------------------------------------------------------- variables


def _env(name: str) -> str | None:
    value = os.environ.get(name)
    if value is None:
        return None
    value = _clean(value)
    return value or None


def _looks_like_key(value: str) -> bool:
    return len(value) >= 16 or any(ch in value for ch in "@/+=")


def _variables(ctx: Context) -> list[Finding]:
    return [_client_code(), _api_key_shape(), _totp_secret(), _password(), _redirect(ctx)]


def _client_code() -> Finding:
    title = "client code"
    value = _env("BROKER_API_KEY")
    if value is None:
        return Finding(
            "client_code",
            title,
            FAIL,
            "BROKER_API_KEY is not set",
            fix="set BROKER_API_KEY to your mStock client code (e.g. MA6812345)",
        )
    if any(ch.isspace() for ch in value):
        return Finding("client_code", title, FAIL, "BROKER_API_KEY contains spaces", fix="write the client code alone")
    if _looks_like_key(value) and not _CLIENT_CODE.match(value.upper()):
        return Finding(
            "client_code",
            title,
            FAIL,
            "BROKER_API_KEY looks like an API key, not a client code",
            fix="BROKER_API_KEY holds your client code (e.g. MA6812345), BROKER_API_SECRET your API key",
        )
    if _CLIENT_CODE.match(value) or _MOBILE.match(value):
        return Finding("client_code", title, OK, f"BROKER_API_KEY is {mask_id(value)}")
    if _CLIENT_CODE.match(value.upper()):
        return Finding(
            "client_code",
            title,
            WARN,
            f"BROKER_API_KEY {mask_id(value)} is in lower case",
            fix="write the client code in capitals, as mStock shows it",
        )
    return Finding(
        "client_code",
        title,
        WARN,
        f"BROKER_API_KEY {mask_id(value)} does not look like an mStock client code",
        fix="use the client code you log in with (letters then digits, e.g. MA6812345)",
    )


def _api_key_shape() -> Finding:
    title = "API key"
    value = _env("BROKER_API_SECRET")
    if value is None:
        return Finding(
            "api_key_format",
            title,
            FAIL,
            "BROKER_API_SECRET is not set",
            fix="set BROKER_API_SECRET to your Type B API key (trade.mstock.com > Trading APIs)",
        )
    register_secret(value)
    if any(ch.isspace() or ch in "\"'" for ch in value):
        return Finding(
            "api_key_format",
            title,
            FAIL,
            "BROKER_API_SECRET contains spaces or quotes",
            fix="paste the key exactly as the Trading APIs page shows it",
        )
    if _CLIENT_CODE.match(value.upper()) or _MOBILE.match(value):
        return Finding(
            "api_key_format",
            title,
            FAIL,
            "BROKER_API_SECRET looks like a client code, not an API key",
            fix="BROKER_API_KEY holds your client code, BROKER_API_SECRET your Type B API key",
        )
    if len(value) < 16:
        return Finding(
            "api_key_format",
            title,
            WARN,
            f"BROKER_API_SECRET is set but short ({len(value)} characters)",
            fix="check it is the whole Type B API key from the Trading APIs page",
        )
    return Finding("api_key_format", title, OK, f"BROKER_API_SECRET is set ({len(value)} characters)")


def _totp_secret() -> Finding:
    title = "TOTP secret"
    value = _env("MSTOCK_TOTP_SECRET")
    if value is None:
        return Finding(
            "totp_secret",
            title,
            WARN,
            "MSTOCK_TOTP_SECRET is not set",
            fix="set it to the base32 secret shown when you enabled TOTP, for `mstock-openalgo login` "
            "(OpenAlgo's login form takes the 6-digit code instead)",
        )
    register_secret(value)
    normalised = re.sub(r"[\s-]", "", value).upper()
    register_secret(normalised)
    if re.fullmatch(r"\d{6}", normalised):
        return Finding(
            "totp_secret",
            title,
            FAIL,
            "MSTOCK_TOTP_SECRET holds a 6-digit code, not the secret",
            fix="use the base32 secret (letters A-Z and digits 2-7) shown when you enabled TOTP",
        )
    if not _BASE32.match(normalised):
        return Finding(
            "totp_secret",
            title,
            FAIL,
            "MSTOCK_TOTP_SECRET is not base32 (only letters A-Z and digits 2-7)",
            fix="copy the secret again from the TOTP set-up page (not the QR code's URL)",
        )
    if len(normalised.rstrip("=")) < 16:
        return Finding(
            "totp_secret",
            title,
            FAIL,
            f"MSTOCK_TOTP_SECRET is too short for a TOTP secret ({len(normalised)} characters)",
            fix="copy the whole secret (usually 32 characters)",
        )
    try:
        pyotp.TOTP(normalised).now()  # decodes the secret; the code itself is not kept
    except (ValueError, TypeError):
        return Finding(
            "totp_secret",
            title,
            FAIL,
            "MSTOCK_TOTP_SECRET does not decode as base32",
            fix="copy the secret again from the TOTP set-up page",
        )
    return Finding("totp_secret", title, OK, f"MSTOCK_TOTP_SECRET is valid base32 ({len(normalised)} characters)")


def _password() -> Finding:
    value = _env("MSTOCK_PASSWORD")
    if value is None:
        return Finding(
            "password",
            "password",
            WARN,
            "MSTOCK_PASSWORD is not set",
            fix="set it for `mstock-openalgo login` (OpenAlgo's login form asks for it instead)",
        )
    register_secret(value)
    return Finding("password", "password", OK, "MSTOCK_PASSWORD is set")


def _redirect(ctx: Context) -> Finding:
    title = "OpenAlgo login URL"
    url = _env("REDIRECT_URL")
    brokers_text = _env("VALID_BROKERS")
    in_openalgo = ctx.openalgo is not None
    fix_url = "set REDIRECT_URL=http://127.0.0.1:5000/mstock/callback (your OpenAlgo host and port)"
    if url is None:
        if in_openalgo:
            return Finding(
                "redirect_url", title, FAIL, "REDIRECT_URL is not set; OpenAlgo refuses to start", fix=fix_url
            )
        return Finding("redirect_url", title, OK, "REDIRECT_URL is not set (only OpenAlgo reads it)")
    problems: list[str] = []
    parts = urlsplit(url)
    match = _CALLBACK.search(parts.path or "")
    if "<broker>" in url:
        problems.append("REDIRECT_URL still has the <broker> placeholder")
    elif parts.scheme not in ("http", "https") or not parts.hostname:
        problems.append(f"REDIRECT_URL {url!r} is not an http(s) URL")
    elif match is None:
        problems.append(f"REDIRECT_URL {url!r} does not end with /mstock/callback")
    elif match.group(1).lower() != "mstock":
        problems.append(f"REDIRECT_URL names the broker {match.group(1)!r}, not mstock")
    if problems:
        return Finding("redirect_url", title, FAIL, "; ".join(problems), fix=fix_url)
    brokers = {b.strip().lower() for b in (brokers_text or "").split(",") if b.strip()}
    if brokers_text is None:
        if in_openalgo:
            return Finding(
                "redirect_url",
                title,
                FAIL,
                "VALID_BROKERS is not set; OpenAlgo refuses to start",
                fix="set VALID_BROKERS to a comma-separated list that contains mstock",
            )
    elif "mstock" not in brokers:
        return Finding(
            "redirect_url",
            title,
            FAIL,
            "VALID_BROKERS does not contain mstock; OpenAlgo refuses to start",
            fix="add mstock to VALID_BROKERS",
        )
    try:
        port = parts.port
    except ValueError:
        return Finding("redirect_url", title, FAIL, f"REDIRECT_URL {url!r} has an invalid port", fix=fix_url)
    if port is None:
        return Finding(
            "redirect_url",
            title,
            WARN,
            f"REDIRECT_URL {url} names no port",
            fix="add OpenAlgo's port (5000 unless FLASK_PORT says otherwise), e.g. http://127.0.0.1:5000/mstock/callback",
        )
    tail = " and VALID_BROKERS contains mstock" if brokers_text else ""
    return Finding("redirect_url", title, OK, f"REDIRECT_URL is {url}{tail}")


# ---------------------------------------------------------------------- network


def _call_orders(ctx: Context, token: str | None) -> MStockError | None:
    """One read of the order book (with ``token``, or with the API key alone)."""
    client = ctx.client(token, quick=True)
    try:
        client.call("orders.list")
    except MStockError as exc:
        return exc
    finally:
        client.close()
    return None


def _endpoint(finding_id: str, title: str, result: EndpointCheck, variable: str) -> Finding:
    where = f"{result.host}:{result.port}"
    data = {"host": result.host, "port": result.port, "tls": result.tls, "seconds": round(result.seconds, 3)}
    if result.problem:
        fix = (
            "check the network, DNS and firewall (and any proxy that intercepts TLS)"
            if "TLS" in result.problem
            else f"check the network and {variable}"
        )
        return Finding(finding_id, title, FAIL, result.problem, fix=fix, data=data)
    if not result.tls:
        return Finding(
            finding_id, title, OK, f"{where} reachable (plain connection to this machine: the sandbox)", data=data
        )
    until = f", certificate valid until {result.certificate_expires:%Y-%m-%d}" if result.certificate_expires else ""
    return Finding(finding_id, title, OK, f"{where} reachable, TLS certificate valid{until}", data=data)


def _clock(ctx: Context) -> Finding:
    dated = [e for e in ctx.recorder.all() if e.server_date is not None]
    if not dated:
        return Finding(
            "clock",
            "clock",
            WARN,
            "mStock's time could not be read (no answer with a Date header)",
            fix="make sure this machine syncs its clock (NTP): TOTP codes fail beyond about 30 s",
        )
    best = min(dated, key=lambda e: e.received_at - e.sent_at)
    # Date has whole seconds (truncated): the server's time was within [Date, Date + 1 s).
    server = best.server_date.timestamp() + 0.5  # type: ignore[union-attr]
    local = (best.sent_at + best.received_at) / 2
    skew = local - server
    margin = 0.5 + (best.received_at - best.sent_at) / 2
    direction = "ahead of" if skew > 0 else "behind"
    if abs(skew) < 0.05:
        detail = f"this machine's clock agrees with mStock's (within {margin:.1f} s)"
    else:
        detail = f"this machine is {abs(skew):.1f} s {direction} mStock's clock (within {margin:.1f} s)"
    data = {"skew_seconds": round(skew, 2), "uncertainty_seconds": round(margin, 2)}
    fix = (
        "sync the clock with NTP (Linux: timedatectl set-ntp true; Windows: w32tm /resync; "
        "macOS: sntp -sS time.apple.com)"
    )
    if abs(skew) > SKEW_FAIL_SECONDS:
        return Finding("clock", "clock", FAIL, detail + ": TOTP codes made here will be rejected", fix=fix, data=data)
    if abs(skew) > SKEW_WARN_SECONDS:
        return Finding(
            "clock", "clock", WARN, detail + ": TOTP codes may fail near the 30-second boundary", fix=fix, data=data
        )
    return Finding("clock", "clock", OK, detail, data=data)


def _ip_refused(exc: MStockError) -> bool:
    return bool(re.search(r"\bIP\b", exc.message))


def _api_key(ctx: Context, keyless: MStockError | None, session: MStockError | None, had_session: bool) -> Finding:
    title = "API key and IP"
    if had_session and session is None:
        return Finding("api_key", title, OK, "accepted (a read with the saved session succeeded from this machine)")
    for exc, how in ((session, ""), (keyless, " (asked without a session; log in and run again to be sure)")):
        if not isinstance(exc, ApiKeyRejected):
            continue
        if _ip_refused(exc):
            return Finding(
                "api_key",
                title,
                FAIL,
                f"mStock refused this machine's IP address: {exc.message}",
                fix="add this machine's public IP address as the Primary or Secondary IP of the API key "
                "(trade.mstock.com > Trading APIs), or run from the whitelisted machine",
            )
        return Finding(
            "api_key",
            title,
            FAIL,
            f"mStock refused the API key: {exc.message}{how}",
            fix="check BROKER_API_SECRET; keys expire after a year: generate a new one on the Trading APIs page",
        )
    if isinstance(keyless, SessionExpired):
        return Finding(
            "api_key",
            title,
            OK,
            "not refused (without a session mStock asks for one); a read with a session confirms it",
        )
    if isinstance(keyless, MStockTransient):
        return Finding("api_key", title, FAIL, f"not checked: {keyless.message}", fix="fix the REST host problem first")
    if keyless is None:
        return Finding(
            "api_key",
            title,
            WARN,
            "mStock answered an order-book read without a session",
            fix="check MSTOCK_BASE_URL points at mStock",
        )
    return Finding(
        "api_key",
        title,
        WARN,
        f"unexpected answer without a session: {keyless}",
        fix="run again; if it persists, share the report",
    )


def _load_session(ctx: Context) -> None:
    settings = ctx.settings
    assert settings is not None
    if host.in_openalgo():
        stored = host.stored_session()
        if stored is not None:
            ctx.access_token = stored.access_token
            ctx.session_note = "OpenAlgo's stored session"
        return
    saved = session_file.load(settings.session_file, client_code=settings.client_code, base_url=settings.base_url)
    if saved is None:
        ctx.session_note = "expired" if settings.session_file.is_file() else "none"
        return
    ctx.access_token = saved.access_token
    expires = saved.expires()
    left = expires - datetime.now(IST)
    hours, rest = divmod(int(left.total_seconds()) // 60, 60)
    try:
        issued = f", logged in {datetime.fromisoformat(saved.issued_at).astimezone(IST):%Y-%m-%d %H:%M} IST"
    except ValueError:
        issued = ""
    # The client's name stays out: the report is meant to be shared.
    ctx.session_note = (
        f"{mask_id(saved.client_code)}{issued}, "
        f"expires {expires.astimezone(IST):%Y-%m-%d %H:%M} IST (in {hours} h {rest} min)"
    )


def _session(ctx: Context, error: MStockError | None) -> Finding:
    title = "saved session"
    settings = ctx.settings
    assert settings is not None
    if ctx.access_token is None:
        if ctx.session_note == "expired":
            detail = f"the saved session in {settings.session_file} has expired (or is for another account or server)"
        else:
            detail = "no saved session"
        return Finding(
            "session",
            title,
            WARN,
            detail,
            fix="mstock-openalgo login (needed by doctor --live and the other commands; "
            "OpenAlgo keeps its own session)",
        )
    if error is None:
        return Finding("session", title, OK, f"alive: {ctx.session_note}")
    if isinstance(error, SessionExpired):
        return Finding(
            "session",
            title,
            FAIL,
            f"mStock no longer accepts the saved session ({error.message}): logged out, or replaced by a newer login",
            fix="mstock-openalgo login --force",
        )
    if isinstance(error, ApiKeyRejected):
        return Finding(
            "session", title, FAIL, "not checked: mStock refused the API key or IP address", fix="see the API key check"
        )
    return Finding("session", title, WARN, f"not checked: {error}", fix="fix the REST host problem first")


# ---------------------------------------------------------------------- symbol table


def _latest_master_time(now: datetime) -> datetime:
    local = now.astimezone(IST)
    today = datetime.combine(local.date(), MASTER_REBUILT_AT, IST)
    return today if local >= today else today - timedelta(days=1)


def _ago(seconds: float) -> str:
    if seconds < 0:
        return "in the future: check the clock"
    if seconds < 3600:
        return f"{int(seconds // 60)} min ago"
    if seconds < 2 * 86400:
        return f"{seconds / 3600:.0f} h ago"
    return f"{seconds / 86400:.0f} days ago"


def _symbol_table(ctx: Context) -> Finding:
    title = "symbol table"
    settings = ctx.settings
    assert settings is not None
    if host.in_openalgo():
        return Finding("symbol_table", title, OK, "inside OpenAlgo: its own symtoken table is used (not inspected)")
    fix = "mstock-openalgo contract download (after mstock-openalgo login)"
    try:
        summary = describe(settings.database_url)
    except (SymbolStoreError, MStockError) as exc:
        return Finding("symbol_table", title, FAIL, str(exc), fix="check DATABASE_URL")
    if summary is None or summary.total == 0:
        where = summary.path if summary is not None else settings.database_url
        return Finding("symbol_table", title, WARN, f"no symbols yet ({where})", fix=fix)
    stamp = summary.replaced_at or summary.modified_at
    counts = ", ".join(f"{exch} {n:,}" for exch, n in sorted(summary.rows_per_exchange.items()))
    data: dict[str, Any] = {"rows_per_exchange": summary.rows_per_exchange, "path": summary.path}
    age = ""
    stale = False
    if stamp is not None:
        data["replaced_at"] = stamp.isoformat(timespec="seconds")
        now = datetime.fromtimestamp(ctx.wall(), timezone.utc)  # the file's time is this machine's
        age = f", downloaded {stamp.astimezone(IST):%Y-%m-%d %H:%M} IST ({_ago((now - stamp).total_seconds())})"
        stale = stamp < _latest_master_time(now).astimezone(timezone.utc)
    detail = f"{summary.total:,} rows ({counts}){age}"
    missing = [e for e in ("NSE", "NFO") if not summary.rows_per_exchange.get(e)]
    if missing:
        return Finding("symbol_table", title, WARN, f"{detail}; no {' or '.join(missing)} rows", fix=fix, data=data)
    if stale:
        return Finding(
            "symbol_table",
            title,
            WARN,
            f"{detail}: older than mStock's latest master (rebuilt daily by 08:30 IST)",
            fix=fix,
            data=data,
        )
    return Finding("symbol_table", title, OK, detail, data=data)
