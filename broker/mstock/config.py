"""Configuration, read from the environment at call time (never at import time).

Inside OpenAlgo the core has already loaded ``.env``; the standalone CLI loads it with
:func:`load_dotenv_once` before the first call. Every getter re-reads ``os.environ`` so a
changed ``.env`` (or a test's ``monkeypatch.setenv``) takes effect without a restart.
"""

from __future__ import annotations

import ipaddress
import math
import os
import re
import sys
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from urllib.parse import SplitResult, urlsplit

from .errors import ConfigError

DEFAULT_BASE_URL = "https://api.mstock.trade"
DEFAULT_WS_URL = "wss://ws.mstock.trade"
API_PREFIX = "/openapi/typeb"

# name -> what the user should put there; used to build "X is not set" messages.
VARIABLES: dict[str, str] = {
    "BROKER_API_KEY": "your mStock client code (e.g. MA6812345)",
    "BROKER_API_SECRET": "your mStock Type B API key (Trading APIs page on trade.mstock.com)",
    "MSTOCK_PASSWORD": "your mStock trading password (only for headless CLI login)",
    "MSTOCK_TOTP_SECRET": "the base32 TOTP secret shown when you enabled TOTP (only for headless login)",
}


@dataclass(frozen=True)
class Settings:
    """A snapshot of the plugin's configuration. Secrets are excluded from ``repr``."""

    client_code: str | None
    api_key: str | None = field(repr=False)
    base_url: str
    ws_url: str
    password: str | None = field(repr=False)
    totp_secret: str | None = field(repr=False)
    database_url: str
    session_file: Path

    def require(self, *names: str) -> None:
        """Raise :class:`ConfigError` naming every missing variable among ``names``."""
        values = {
            "BROKER_API_KEY": self.client_code,
            "BROKER_API_SECRET": self.api_key,
            "MSTOCK_PASSWORD": self.password,
            "MSTOCK_TOTP_SECRET": self.totp_secret,
        }
        missing = [n for n in names if not values.get(n)]
        if missing:
            detail = "; ".join(f"{n} ({VARIABLES[n]})" for n in missing)
            raise ConfigError(f"missing configuration: set {detail} in .env")

    @property
    def api_root(self) -> str:
        return self.base_url.rstrip("/") + API_PREFIX


def _env(name: str) -> str | None:
    value = os.environ.get(name)
    if value is None:
        return None
    value = value.strip().strip('"').strip("'")
    return value or None


APP_NAME = "mstock-openalgo"


def conventional_data_dir(platform: str, environ: Mapping[str, str], home: Path) -> Path:
    """Where an application keeps its data on ``platform``, by that platform's convention.

    Windows: ``%LOCALAPPDATA%`` (the session file holds a token bound to this machine's
    whitelisted IP, so it must not roam); macOS: ``~/Library/Application Support``;
    elsewhere the XDG base directory (``$XDG_DATA_HOME``, else ``~/.local/share``).
    """
    if platform.startswith("win"):
        base = environ.get("LOCALAPPDATA", "").strip()
        return (Path(base) if base else home / "AppData" / "Local") / APP_NAME
    if platform == "darwin":
        return home / "Library" / "Application Support" / APP_NAME
    base = environ.get("XDG_DATA_HOME", "").strip()
    # The XDG specification ignores relative paths.
    return (Path(base) if base and os.path.isabs(base) else home / ".local" / "share") / APP_NAME


def data_dir() -> Path:
    """This user's data folder for the standalone symbol store and the CLI session.

    platformdirs (an optional extra; OpenAlgo ships it) knows more platforms' rules;
    without it the same conventions are applied here.
    """
    env = os.environ
    return _data_dir(sys.platform, env.get("XDG_DATA_HOME"), env.get("LOCALAPPDATA"), env.get("HOME"), env.get("USERPROFILE"))


@lru_cache(maxsize=8)
def _data_dir(platform: str, *environment: str | None) -> Path:
    # Cached by every input it depends on: settings() runs on each face call.
    try:
        import platformdirs
    except ImportError:
        return conventional_data_dir(platform, os.environ, Path.home())
    return Path(platformdirs.user_data_dir(APP_NAME, appauthor=False, roaming=False))


def server_data_dir(base_url: str, root: Path | None = None) -> Path:
    """The data folder for one mStock server.

    The real API keeps the top folder; any other server (the sandbox on loopback, a test
    gateway) gets its own subfolder, so pointing ``MSTOCK_BASE_URL`` at a sandbox never
    replaces the live symbol table or the live session.
    """
    root = root if root is not None else data_dir()
    parts = urlsplit(base_url)
    default = urlsplit(DEFAULT_BASE_URL)
    host = (parts.hostname or "").lower()
    if host == default.hostname and (parts.port or 443) == 443 and parts.scheme == "https":
        return root
    kind = "sandbox" if _is_loopback(host) else "server"
    name = re.sub(r"[^A-Za-z0-9.-]", "_", f"{host}-{parts.port or ''}").strip("-_")
    return root / "servers" / f"{kind}-{name}"


def check_transport_url(url: str, *, schemes: tuple[str, str]) -> str:
    """Refuse cleartext URLs except on loopback, where the embedded sandbox runs.

    Tokens and the API key travel in headers (and, for the feed, in the query string,
    spec 11.1); sending them over plain HTTP to a remote host would leak them.
    """
    secure, plain = schemes
    parts = urlsplit(url)
    if parts.scheme == secure:
        return url
    if parts.scheme == plain and _is_loopback(parts.hostname or ""):
        return url
    raise ConfigError(
        f"refusing {_shown(parts)!r}: use {secure}:// (plain {plain}:// is allowed only for 127.0.0.1/localhost)"
    )


def _shown(parts: SplitResult) -> str:
    """The URL as it may be printed: a user:password part or a query can hold credentials."""
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    port = f":{parts.port}" if parts.port else ""
    return f"{parts.scheme}://{host}{port}{parts.path}"


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def settings() -> Settings:
    """Read the current configuration. Cheap; call it whenever configuration is needed."""
    base_url = check_transport_url(_env("MSTOCK_BASE_URL") or DEFAULT_BASE_URL, schemes=("https", "http"))
    ws_url = check_transport_url(_env("MSTOCK_WS_URL") or DEFAULT_WS_URL, schemes=("wss", "ws"))
    session_file = _env("MSTOCK_SESSION_FILE")
    database_url = _env("DATABASE_URL")
    return Settings(
        client_code=_env("BROKER_API_KEY"),
        api_key=_env("BROKER_API_SECRET"),
        base_url=base_url,
        ws_url=ws_url,
        password=_env("MSTOCK_PASSWORD"),
        totp_secret=_env("MSTOCK_TOTP_SECRET"),
        database_url=database_url or f"sqlite:///{(server_data_dir(base_url) / 'mstock.db').as_posix()}",
        session_file=Path(session_file) if session_file else server_data_dir(base_url) / "session.json",
    )


# How order updates reach OpenAlgo: "auto" = a second feed socket for push, with the order
# book as backstop and fallback; "poll" = the order book only; "off" = no order-update adapter.
ORDER_UPDATE_MODES = ("auto", "poll", "off")
DEFAULT_ORDER_POLL_INTERVAL = 5.0  # OpenAlgo's own default for ORDER_POLL_INTERVAL
MIN_ORDER_POLL_INTERVAL = 2.0


def order_updates_mode() -> str:
    """``MSTOCK_ORDER_UPDATES``: auto (default), poll or off."""
    value = (_env("MSTOCK_ORDER_UPDATES") or "auto").lower()
    if value not in ORDER_UPDATE_MODES:
        raise ConfigError(f"MSTOCK_ORDER_UPDATES={value!r} is not one of {', '.join(ORDER_UPDATE_MODES)}")
    return value


def order_poll_interval() -> float:
    """Seconds between order-book reads when following the book (OpenAlgo's ``ORDER_POLL_INTERVAL``).

    Raised to at least 2 s: the book is read from the same session that places orders.
    """
    raw = _env("ORDER_POLL_INTERVAL")
    if raw is None:
        return DEFAULT_ORDER_POLL_INTERVAL
    try:
        seconds = float(raw)
    except ValueError:
        raise ConfigError(f"ORDER_POLL_INTERVAL={raw!r} is not a number of seconds") from None
    if not math.isfinite(seconds):
        raise ConfigError(f"ORDER_POLL_INTERVAL={raw!r} is not a number of seconds")
    return max(MIN_ORDER_POLL_INTERVAL, seconds)


_dotenv_lock = threading.Lock()
_dotenv_loaded = False


def load_dotenv_once(path: str | os.PathLike[str] | None = None) -> None:
    """Load ``.env`` (current directory, or ``path``) once per process, for the CLI.

    Existing environment variables win, so a shell ``export`` overrides the file.
    """
    global _dotenv_loaded
    with _dotenv_lock:
        if _dotenv_loaded:
            return
        from dotenv import load_dotenv

        load_dotenv(dotenv_path=path or Path.cwd() / ".env", override=False)
        _dotenv_loaded = True
