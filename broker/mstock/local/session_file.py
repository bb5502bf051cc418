"""The CLI's saved mStock session: a small JSON file readable only by its owner.

It holds the trading token, feed token and their expiry so that repeated CLI commands
reuse one login. mStock tokens die at the first of IST midnight and issue + 12 h
(spec 2.2), so :func:`expiry_for` computes that and :func:`load` ignores stale files.
It also holds a salted, slow fingerprint of the credentials that made it (never the
credentials), so that ``login`` reuses a session only for the same credentials: a wrong
password must fail, not be answered with yesterday's good login.
Inside OpenAlgo the session lives in OpenAlgo's ``auth`` table instead; see ``host``.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import secrets
import tempfile
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

from ..clock import IST, next_ist_midnight, now_ist
from ..redact import register_secret

_FINGERPRINT_ITERATIONS = 100_000


@dataclass(frozen=True)
class SavedSession:
    access_token: str = field(repr=False)
    feed_token: str | None = field(repr=False)
    client_code: str
    base_url: str
    issued_at: str  # ISO-8601 with offset
    expires_at: str
    client_name: str | None = None
    credentials: str | None = field(default=None, repr=False)  # see credential_fingerprint

    def expires(self) -> datetime:
        return datetime.fromisoformat(self.expires_at)

    def is_valid(self, now: datetime | None = None) -> bool:
        return (now or now_ist()) < self.expires()

    def made_with(self, *credentials: str | None) -> bool:
        """Whether this session was saved by a login with exactly these credentials."""
        if not self.credentials:
            return False
        try:
            _, salt, _ = self.credentials.split("$", 2)
            expected = credential_fingerprint(*credentials, salt=bytes.fromhex(salt))
        except ValueError:
            return False
        return hmac.compare_digest(expected, self.credentials)


def credential_fingerprint(*credentials: str | None, salt: bytes | None = None) -> str:
    """``pbkdf2$<salt>$<digest>`` of the credentials: comparable, not reversible in practice."""
    salt = salt if salt is not None else secrets.token_bytes(16)
    material = "\x00".join(value or "" for value in credentials).encode("utf-8")
    digest = hashlib.pbkdf2_hmac("sha256", material, salt, _FINGERPRINT_ITERATIONS)
    return f"pbkdf2${salt.hex()}${digest.hex()}"


def expiry_for(issued: datetime) -> datetime:
    """First of next IST midnight and issue + 12 hours (spec 2.2)."""
    issued_ist = issued.astimezone(IST)
    return min(next_ist_midnight(issued_ist), issued_ist + timedelta(hours=12))


def new_session(
    access_token: str,
    feed_token: str | None,
    *,
    client_code: str,
    base_url: str,
    client_name: str | None = None,
    now: datetime | None = None,
    credentials: tuple[str | None, ...] = (),
) -> SavedSession:
    issued = (now or now_ist()).astimezone(IST)
    return SavedSession(
        access_token=access_token,
        feed_token=feed_token,
        client_code=client_code,
        base_url=base_url,
        issued_at=issued.isoformat(timespec="seconds"),
        expires_at=expiry_for(issued).isoformat(timespec="seconds"),
        client_name=client_name,
        credentials=credential_fingerprint(*credentials) if credentials else None,
    )


def _owner_only(fd: int) -> None:
    """Mode 0600 on POSIX (``mkstemp`` already creates it so; this states it).

    ``os.fchmod`` does not exist on Windows before Python 3.13, and there a mode cannot
    express "owner only" anyway: the file's protection is its folder under the user's
    own profile (``%LOCALAPPDATA%``), whose access list excludes other users.
    """
    fchmod = getattr(os, "fchmod", None)
    if fchmod is not None and os.name != "nt":
        fchmod(fd, 0o600)


def save(path: Path, session: SavedSession) -> None:
    """Write atomically, readable only by the owner (the file holds a live trading token)."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd, tmp = tempfile.mkstemp(prefix=".session-", dir=path.parent)
    try:
        _owner_only(fd)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump(asdict(session), handle)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def read(path: Path) -> SavedSession | None:
    """The saved session as stored, valid or not (``None`` if absent or unreadable)."""
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
        session = SavedSession(**raw)
    except (OSError, ValueError, TypeError):
        return None
    register_secret(session.access_token, session.feed_token)
    return session


def unusable_because(
    session: SavedSession | None, *, client_code: str | None = None, base_url: str | None = None
) -> str | None:
    """Why ``session`` cannot be used for this account and server now, or ``None`` if it can."""
    if session is None:
        return "missing"
    if client_code and session.client_code != client_code:
        return "other account"
    if base_url and session.base_url.rstrip("/") != base_url.rstrip("/"):
        return "other server"
    if not session.is_valid():
        return "expired"
    return None


def load(path: Path, *, client_code: str | None = None, base_url: str | None = None) -> SavedSession | None:
    """The saved session if it exists, is unexpired and matches the account and server."""
    session = read(path)
    if unusable_because(session, client_code=client_code, base_url=base_url) is not None:
        return None
    return session


def clear(path: Path) -> None:
    try:
        path.unlink()
    except FileNotFoundError:
        pass
