"""The saved standalone session: headless login for the CLI, the demo and scripts.

Inside OpenAlgo the session lives in OpenAlgo's ``auth`` table (see ``host``); outside it,
``mstock-openalgo login`` logs in from ``MSTOCK_PASSWORD`` + ``MSTOCK_TOTP_SECRET`` and
keeps the tokens in a file readable only by the user until they expire (spec 2.2).
"""

from __future__ import annotations

from .. import config
from ..errors import MStockError, SessionExpired
from ..local import session_file as session_store
from ..transport.client import get_client
from .login import login_with_totp, logout


def login_headless(*, force: bool = False) -> session_store.SavedSession:
    """Log in from ``MSTOCK_PASSWORD`` + ``MSTOCK_TOTP_SECRET`` and save the session.

    An unexpired saved session for the same account and server is reused unless
    ``force``; mStock tokens last until IST midnight (spec 2.2).
    """
    settings = config.settings()
    settings.require("BROKER_API_KEY", "BROKER_API_SECRET", "MSTOCK_PASSWORD", "MSTOCK_TOTP_SECRET")
    if not force:
        saved = session_store.load(settings.session_file, client_code=settings.client_code, base_url=settings.base_url)
        if saved is not None:
            return saved
    result = login_with_totp(settings.password or "", settings.totp_secret or "")
    saved = session_store.new_session(
        result.access_token,
        result.feed_token,
        client_code=settings.client_code or "",
        base_url=settings.base_url,
        client_name=result.client_name,
    )
    session_store.save(settings.session_file, saved)
    return saved


def current_auth_token() -> str:
    """The saved CLI session's access token, or :class:`SessionExpired` with what to do."""
    settings = config.settings()
    saved = session_store.load(settings.session_file, client_code=settings.client_code, base_url=settings.base_url)
    if saved is None:
        raise SessionExpired("no saved mStock session: log in first with `mstock-openalgo login`")
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
