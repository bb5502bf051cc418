"""Origin for OpenAlgo's connection keep-warm HEAD pings (contract 13, optional).

OpenAlgo's keep-warm reads ``ROOT_URL`` (or ``BASE_URL``) with ``getattr`` on every refresh,
so both follow ``MSTOCK_BASE_URL`` at that moment instead of being fixed at import: pointed
at the sandbox, OpenAlgo must not ping the real mStock host every 20 seconds.
"""

from __future__ import annotations

from .. import config


def __getattr__(name: str) -> str:
    if name == "ROOT_URL":
        return config.settings().base_url
    if name == "BASE_URL":
        return config.settings().base_url.rstrip("/") + config.API_PREFIX
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
