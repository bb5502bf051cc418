"""Our own ``ordertag`` for every order (spec 4.3: optional, fewer than 20 alphanumerics).

The tag is how a place request whose answer was lost is found again in the order book
(invariant 1: writes are reconciled, never resent). It must therefore be unique across
threads, processes and hosts sharing one mStock account:

``OA`` + milliseconds since the epoch (base 36, 8 chars) + process id (3) + a per-process
counter (2) + random (3) = 18 characters, upper-case letters and digits only. Within one
process the counter changes on every call and wraps only after 1296 tags in the same
millisecond (the order rate limit allows 30 a second); the process and random parts keep
other processes and hosts apart.
"""

from __future__ import annotations

import itertools
import os
import secrets
import threading
import time

PREFIX = "OA"
TAG_LENGTH = 18  # mStock allows fewer than 20 alphanumerics (spec 4.3)
_DIGITS = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"

_lock = threading.Lock()
_counter = itertools.count()


def _base36(value: int, width: int) -> str:
    chars = []
    for _ in range(width):
        value, rest = divmod(value, 36)
        chars.append(_DIGITS[rest])
    return "".join(reversed(chars))


def new_ordertag(*, now_ms: int | None = None) -> str:
    """A fresh, unique tag such as ``OAM9X2K3QZ1F701XQ2``."""
    with _lock:
        count = next(_counter)
    stamp = now_ms if now_ms is not None else time.time_ns() // 1_000_000
    return (
        PREFIX
        + _base36(stamp, 8)
        + _base36(os.getpid(), 3)
        + _base36(count, 2)
        + _base36(secrets.randbelow(36**3), 3)
    )


def is_our_tag(value: object) -> bool:
    text = str(value or "")
    return text.startswith(PREFIX) and len(text) == TAG_LENGTH and text.isalnum()
