"""The CLI's saved mStock session: a small JSON file readable only by its owner.

It holds the trading token, feed token and their expiry so that repeated CLI commands
reuse one login. mStock tokens die at the first of IST midnight and issue + 12 h
(spec 2.2), so :func:`expiry_for` computes that and :func:`load` ignores stale files.
Inside OpenAlgo the session lives in OpenAlgo's ``auth`` table instead; see ``host``.
"""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

from ..clock import IST
from ..redact import register_secret


@dataclass(frozen=True)
class SavedSession:
    access_token: str = field(repr=False)
    feed_token: str | None = field(repr=False)
    client_code: str
    base_url: str
    issued_at: str  # ISO-8601 with offset
    expires_at: str
    client_name: str | None = None

    def expires(self) -> datetime:
        return datetime.fromisoformat(self.expires_at)

    def is_valid(self, now: datetime | None = None) -> bool:
        return (now or datetime.now(IST)) < self.expires()


def expiry_for(issued: datetime) -> datetime:
    """First of next IST midnight and issue + 12 hours (spec 2.2)."""
    issued_ist = issued.astimezone(IST)
    midnight = (issued_ist + timedelta(days=1)).replace(hour=0, minute=0, second=0, microsecond=0)
    return min(midnight, issued_ist + timedelta(hours=12))


def new_session(
    access_token: str,
    feed_token: str | None,
    *,
    client_code: str,
    base_url: str,
    client_name: str | None = None,
    now: datetime | None = None,
) -> SavedSession:
    issued = (now or datetime.now(IST)).astimezone(IST)
    return SavedSession(
        access_token=access_token,
        feed_token=feed_token,
        client_code=client_code,
        base_url=base_url,
        issued_at=issued.isoformat(timespec="seconds"),
        expires_at=expiry_for(issued).isoformat(timespec="seconds"),
        client_name=client_name,
    )


def save(path: Path, session: SavedSession) -> None:
    """Write atomically with mode 0600 (the file holds a live trading token)."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd, tmp = tempfile.mkstemp(prefix=".session-", dir=path.parent)
    try:
        os.fchmod(fd, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump(asdict(session), handle)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def load(path: Path, *, client_code: str | None = None, base_url: str | None = None) -> SavedSession | None:
    """The saved session if it exists, is unexpired and matches the account and server."""
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
        session = SavedSession(**raw)
    except (OSError, ValueError, TypeError):
        return None
    if client_code and session.client_code != client_code:
        return None
    if base_url and session.base_url.rstrip("/") != base_url.rstrip("/"):
        return None
    if not session.is_valid():
        return None
    register_secret(session.access_token, session.feed_token)
    return session


def clear(path: Path) -> None:
    try:
        path.unlink()
    except FileNotFoundError:
        pass
