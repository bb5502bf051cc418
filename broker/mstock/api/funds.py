"""OpenAlgo's funds face (contract 7) and its session-resume check (contract 2.6).

``get_margin_data`` returns ``{}`` on *any* failure: that is how OpenAlgo recognises a
dead session (dashboard logout, session resume). It must never return a dict of zeros
for an authentication error, or OpenAlgo would resume a dead session.
"""

from __future__ import annotations

from ..account import funds
from ..transport.client import get_client
from .boundary import AuthToken, returns_empty_dict, returns_false_and_reason


@returns_empty_dict
def get_margin_data(auth: AuthToken):
    """OpenAlgo funds: ``{availablecash, collateral, m2munrealized, m2mrealized, utiliseddebits}`` or ``{}``."""
    # The symbol lookup is resolved inside, where a failure only costs the P&L source:
    # here it would turn into {}, OpenAlgo's "session is dead".
    return funds.fetch_funds(get_client(auth))


@returns_false_and_reason
def test_auth_token(auth: AuthToken):
    """``(True, None)`` when the stored token still works, else ``(False, reason)``."""
    funds.check_session(get_client(auth or None))
    return True, None
