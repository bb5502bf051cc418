"""The saved standalone session: headless login for the CLI, the demo and scripts.

Inside OpenAlgo the session lives in OpenAlgo's ``auth`` table (see ``host``); outside it,
``mstock-openalgo login`` logs in from ``MSTOCK_PASSWORD`` + ``MSTOCK_TOTP_SECRET`` and
keeps the tokens in a file readable only by the user until they expire (spec 2.2).
"""

from __future__ import annotations

from dataclasses import dataclass

from .. import config
from ..errors import MStockError, SessionExpired
from ..host import get_logger
from ..local import session_file as session_store
from ..transport.client import get_client
from .funds import check_session
from .login import login_with_totp, logout

log = get_logger(__name__)

LOGIN_COMMAND = "mstock-openalgo login"
SESSION_ENDED = "the mStock session has expired (mStock sessions end at midnight IST)"

_WHY_NOT = {
    "missing": f"no saved mStock session: log in first with `{LOGIN_COMMAND}`",
    "expired": f"{SESSION_ENDED}: log in again with `{LOGIN_COMMAND}`",
    "other account": f"the saved mStock session is for another client code: log in with `{LOGIN_COMMAND}`",
    "other server": f"the saved mStock session is for another server (MSTOCK_BASE_URL): log in with `{LOGIN_COMMAND}`",
}


@dataclass(frozen=True)
class HeadlessLogin:
    session: session_store.SavedSession
    reused: bool  # an earlier login's session, checked alive with mStock


def _credentials(settings: config.Settings) -> tuple[str | None, ...]:
    return (settings.client_code, settings.api_key, settings.password, settings.totp_secret)


def _alive(saved: session_store.SavedSession) -> bool:
    """Ask mStock whether the saved token still works (it can end before our expiry estimate)."""
    try:
        check_session(get_client(saved.access_token))
    except SessionExpired:
        return False
    return True


def login_headless(*, force: bool = False) -> HeadlessLogin:
    """Log in from ``MSTOCK_PASSWORD`` + ``MSTOCK_TOTP_SECRET`` and save the session.

    A saved session is reused (unless ``force``) only when it was made with exactly the
    configured credentials and mStock confirms it is alive; otherwise this logs in again,
    so a wrong password fails here instead of being answered with an old session.
    """
    settings = config.settings()
    settings.require("BROKER_API_KEY", "BROKER_API_SECRET", "MSTOCK_PASSWORD", "MSTOCK_TOTP_SECRET")
    credentials = _credentials(settings)
    if not force:
        saved = session_store.load(settings.session_file, client_code=settings.client_code, base_url=settings.base_url)
        if saved is not None and saved.made_with(*credentials):
            if _alive(saved):
                return HeadlessLogin(saved, reused=True)
            log.info("the saved mStock session was ended by mStock; logging in again")
            session_store.clear(settings.session_file)
    result = login_with_totp(settings.password or "", settings.totp_secret or "")
    saved = session_store.new_session(
        result.access_token,
        result.feed_token,
        client_code=settings.client_code or "",
        base_url=settings.base_url,
        client_name=result.client_name,
        credentials=credentials,
    )
    session_store.save(settings.session_file, saved)
    return HeadlessLogin(saved, reused=False)


def current_auth_token() -> str:
    """The saved CLI session's access token, or :class:`SessionExpired` saying what to do."""
    settings = config.settings()
    saved = session_store.read(settings.session_file)
    why = session_store.unusable_because(saved, client_code=settings.client_code, base_url=settings.base_url)
    if why is not None or saved is None:
        raise SessionExpired(_WHY_NOT.get(why or "missing", _WHY_NOT["missing"]))
    return saved.access_token


def logout_headless() -> tuple[bool, str | None]:
    """Log out of the saved session (if any) and delete the file. Returns ``(ok, error)``."""
    settings = config.settings()
    saved = session_store.load(settings.session_file, client_code=settings.client_code, base_url=settings.base_url)
    session_store.clear(settings.session_file)
    if saved is None:
        return True, None
    try:
        logout(get_client(saved.access_token))
    except MStockError as exc:
        return False, str(exc)
    return True, None
