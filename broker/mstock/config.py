"""Configuration, read from the environment at call time (never at import time).

Inside OpenAlgo the core has already loaded ``.env``; the standalone CLI loads it with
:func:`load_dotenv_once` before the first call. Every getter re-reads ``os.environ`` so a
changed ``.env`` (or a test's ``monkeypatch.setenv``) takes effect without a restart.
"""

from __future__ import annotations

import ipaddress
import os
import threading
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

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


def _data_dir() -> Path:
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "mstock-openalgo"


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
        f"refusing {url!r}: use {secure}:// (plain {plain}:// is allowed only for 127.0.0.1/localhost)"
    )


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
    return Settings(
        client_code=_env("BROKER_API_KEY"),
        api_key=_env("BROKER_API_SECRET"),
        base_url=base_url,
        ws_url=ws_url,
        password=_env("MSTOCK_PASSWORD"),
        totp_secret=_env("MSTOCK_TOTP_SECRET"),
        database_url=_env("DATABASE_URL") or f"sqlite:///{_data_dir() / 'mstock.db'}",
        session_file=Path(session_file) if session_file else _data_dir() / "session.json",
    )


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
