"""Keep secrets out of logs, exceptions and reprs.

Two layers:

* a registry of the exact secret values this process has seen (access token, feed token,
  request token, API key, password, OTP/TOTP codes, TOTP secret). Code that handles a
  secret calls :func:`register_secret` first;
* patterns for secret-shaped text that was never registered (JWTs, ``Bearer ...``,
  ``X-PrivateKey: ...``, ``"password": "..."``, ``ACCESS_TOKEN=...`` in a URL...).

:class:`SecretFilter` applies both to every log record of the loggers it is attached to
(``broker.mstock.*`` through :func:`broker.mstock.host.get_logger`, plus ``urllib3`` and
``websocket``). Logger-level filters do not see records propagated from child loggers,
which is why every module gets its logger through ``get_logger`` rather than relying on a
parent logger.
"""

from __future__ import annotations

import logging
import re
import threading
from collections import OrderedDict

MASK = "***"
_MIN_SECRET_LEN = 4  # shorter values (e.g. "1") would mask unrelated digits everywhere

# The registry keeps the values most recently registered, not every value ever seen: inside
# OpenAlgo the process lives for months and logs in daily, and one ever-growing alternation
# would make every log line slower. Values in use are registered again on every use (the API
# key with every client, tokens with every call) and so stay; a dropped one is a token from an
# earlier day, which the JWT pattern below still masks.
MAX_SECRETS = 256

_lock = threading.Lock()
_recent: OrderedDict[str, None] = OrderedDict()
_secret_re: re.Pattern[str] | None = None

_PATTERNS: tuple[tuple[re.Pattern[str], str], ...] = (
    # JWTs (the trading token, feed token and refresh token are HS256 JWTs, spec 2.2)
    (re.compile(r"eyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]*"), MASK),
    (re.compile(r"(?i)(bearer\s+)[^\s,;'\"]+"), r"\1" + MASK),
    (re.compile(r"(?i)(x-privatekey['\"]?\s*[:=]\s*['\"]?)[^\s,;'\"}]+"), r"\1" + MASK),
    (re.compile(r"(?i)(authorization['\"]?\s*[:=]\s*['\"]?)[^,;'\"}]+"), r"\1" + MASK),
    # key=value (query strings, .env lines) or "key": "value" (JSON); a bare "key: word"
    # in prose is left alone so messages like "totp: wrong code" stay readable.
    (
        re.compile(
            r"(?i)(\b(?:access_token|api_key|apikey|jwttoken|feedtoken|refreshtoken|password|"
            r"totp_secret|totp|otp|secret)(?:=|['\"]\s*:\s*['\"]))([^\s,;&'\"}]+)"
        ),
        r"\1" + MASK,
    ),
    (re.compile(r"(LOGIN:)\S+"), r"\1" + MASK),
)


def register_secret(*values: object) -> None:
    """Remember secret values so that they are masked wherever they appear later."""
    global _secret_re
    new = {str(v) for v in values if v is not None and len(str(v)) >= _MIN_SECRET_LEN}
    if not new:
        return
    with _lock:
        added = False
        for value in new:
            if value in _recent:
                _recent.move_to_end(value)
            else:
                _recent[value] = None
                added = True
        if not added:
            return
        while len(_recent) > MAX_SECRETS:
            _recent.popitem(last=False)
        # Longest first so that a secret containing another is masked whole.
        alternation = "|".join(re.escape(s) for s in sorted(_recent, key=len, reverse=True))
        _secret_re = re.compile(alternation)


def forget_secrets_for_tests() -> None:
    """Clear the registry (tests only)."""
    global _secret_re
    with _lock:
        _recent.clear()
        _secret_re = None


def redact(text: object) -> str:
    """Return ``text`` with every registered secret and secret-shaped value masked."""
    out = str(text)
    pattern = _secret_re
    if pattern is not None:
        out = pattern.sub(MASK, out)
    for regex, replacement in _PATTERNS:
        out = regex.sub(replacement, out)
    return out


def mask_id(value: str | None, keep: int = 2) -> str:
    """Show an identifier such as a client code as ``MA****45`` in logs."""
    if not value:
        return "<unset>"
    if len(value) <= keep * 2:
        return MASK
    return f"{value[:keep]}{'*' * (len(value) - keep * 2)}{value[-keep:]}"


class SecretFilter(logging.Filter):
    """Rewrites each record's message (and exception text) with secrets masked."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except (TypeError, ValueError):  # a bad format string: keep the raw template
            message = str(record.msg)
        record.msg = redact(message)
        record.args = None
        if record.exc_info and not record.exc_text:
            record.exc_text = redact(logging.Formatter().formatException(record.exc_info))
        elif record.exc_text:
            record.exc_text = redact(record.exc_text)
        if record.stack_info:
            record.stack_info = redact(record.stack_info)
        return True


_FILTER = SecretFilter()
_guarded: set[str] = set()
_guard_lock = threading.Lock()


def guard_logger(logger: logging.Logger) -> logging.Logger:
    """Attach the secret filter to ``logger`` (idempotent) and return it."""
    if _FILTER not in logger.filters:
        logger.addFilter(_FILTER)
    return logger


def guard_third_party_loggers() -> None:
    """Guard the loggers of the libraries that see our URLs and headers."""
    with _guard_lock:
        for name in ("urllib3", "urllib3.connectionpool", "websocket", "websockets", "requests"):
            if name not in _guarded:
                guard_logger(logging.getLogger(name))
                _guarded.add(name)
