"""Binary tick frames of the mStock feed (spec 11.3) -> plain dicts in rupees.

Framing (spec 11.3, upstream-review D9). Sources disagree on how packets are framed, so
every known framing is accepted:

* **bare**: ONE packet of exactly 51 (LTP), 123 (Quote) or 379 (Snap Quote) bytes;
* **header groups** (documented): one or more groups ``uint16 packetCount, uint16
  packetSize`` (little-endian) followed by ``packetCount`` packets of that size;
* **length-prefixed**: ``uint16 packetCount`` then, before each packet, ``uint16 length``,
  both big-endian: how a tested third-party mStock client reads multi-packet frames, and
  the shape of the (unused) splitter in the official Python SDK;
* **concatenated**: bare packets back to back, each starting with the mode byte its size
  implies (no source shows this; it costs nothing on the normal path).

Exact bare sizes are tried first: no other framing can produce 51, 123 or 379 bytes.
Otherwise each framing is checked against the frame's lengths: the frame must be used up
exactly by packets of known sizes. Exactly one framing can fit: the header's packet size
sits in bytes 2-3 little-endian, where a length-prefixed frame has its first packet's
length big-endian, and no packet size reads as a valid size the other way round (51 =
0x0033 would read 0x3300). Should more than one fit anyway, the frame is refused rather
than guessed.

Encodings (spec 11.3):

* little-endian throughout (every working client reads LE);
* prices in paise -> rupees by :data:`PRICE_DIVISOR` (100 for every segment; the
  currency divisor is unverified, spec 16.9);
* total buy/sell quantity and the OI change % are IEEE-754 doubles (the DOC says
  ``long`` for OI change; both official SDKs read float64, spec 11.3 [CONFLICT]);
* timestamps are seconds since 1980-01-01 00:00:00. The zone is not documented
  (spec 11.3, 16.9). NSE's trading-system 1980 epoch is local (IST) wall-clock time,
  so this parser reads it as IST: :data:`FEED_EPOCH_UNIX` is 1980-01-01 00:00 IST in
  Unix seconds. If the feed counts from 1980-01-01 00:00 UTC instead, its numbers are
  5.5 h smaller for the same instant and this parser dates ticks 5.5 h in the **past**;
  then set :data:`FEED_EPOCH_UNIX` to ``EPOCH_1980_UTC`` (``mstock-openalgo doctor
  --live`` checks packet times against the clock).
* depth: 10 entries of ``int16 flag, int64 qty, int64 price, int16 orders``; entries
  0..4 are bids and 5..9 asks (DOC; :data:`DEPTH_BIDS_FIRST`). The flag's values are
  unknown (spec 11.3 "1 buy / 0 sell?"), so the position decides the side and
  :data:`DEPTH_SIDE_FLAGS` only records what the documentation suggests;
  :class:`FeedParser` records the flag values seen per side (``stats.depth_flags``) so a
  live session can settle spec 16.9.

A frame that fits no framing (or is truncated) is counted and skipped by
:class:`FeedParser`, and reported in the log at most once a minute; nothing here raises
into the feed's reader thread.

Performance: one precompiled :class:`struct.Struct` per layout unpacks a whole packet
in one call; token strings are cached.
"""

from __future__ import annotations

import math
import struct
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ..clock import IST_OFFSET_SECONDS
from ..host import get_logger

log = get_logger(__name__)

LTP_SIZE = 51
QUOTE_SIZE = 123
SNAP_SIZE = 379
HEADER_SIZE = 4
PACKET_SIZES = (LTP_SIZE, QUOTE_SIZE, SNAP_SIZE)
MODE_FOR_SIZE = {LTP_SIZE: 1, QUOTE_SIZE: 2, SNAP_SIZE: 3}
SIZE_FOR_MODE = {mode: size for size, mode in MODE_FOR_SIZE.items()}

EPOCH_1980_UTC = 315_532_800  # 1980-01-01 00:00:00 UTC in Unix seconds
FEED_EPOCH_UNIX = EPOCH_1980_UTC - IST_OFFSET_SECONDS  # 1980-01-01 00:00:00 IST

# exchangeType -> paise divisor. 100 everywhere per SDK-B ("keeping it 100 for all",
# spec 11.3); NSECD (13) is unverified: Angel's feed uses 10**7 for currency.
PRICE_DIVISOR: dict[int, int] = {1: 100, 2: 100, 3: 100, 4: 100, 13: 100}
DEFAULT_PRICE_DIVISOR = 100

DEPTH_LEVELS = 5
# Entries 0..4 are bids and 5..9 asks (DOC). False would read the first five as asks.
DEPTH_BIDS_FIRST = True
# (bid, ask) int16 flags the documentation suggests ("1 buy / 0 sell?", spec 11.3). Sides
# are taken from the position, never from the flag, so a different pair changes nothing
# here; ``doctor --live`` compares it with what a live feed sends.
DEPTH_SIDE_FLAGS = (1, 0)
_HEAD = "<BB25sqqq"  # mode, exchange type, token, sequence, exchange time, LTP
_QUOTE_TAIL = "qqqddqqqq"  # LTQ, ATP, volume, total buy, total sell, O, H, L, C
_SNAP_TAIL = "qqd" + "hqqh" * (2 * DEPTH_LEVELS) + "qqqq"  # LTT, OI, OI chg %, depth, circuits, 52w
HEADER = struct.Struct("<HH")
BE_COUNT = struct.Struct(">H")  # length-prefixed framing: packet count, and each packet's length
REPORT_INTERVAL = 60.0  # seconds between two log lines about bad frames
LTP_PACKET = struct.Struct(_HEAD)
QUOTE_PACKET = struct.Struct(_HEAD + _QUOTE_TAIL)
SNAP_PACKET = struct.Struct(_HEAD + _QUOTE_TAIL + _SNAP_TAIL)
assert (LTP_PACKET.size, QUOTE_PACKET.size, SNAP_PACKET.size) == PACKET_SIZES

_MAX_QTY = 1e18  # doubles outside this (or NaN) are garbage, not quantities
_TOKEN_CACHE_LIMIT = 50_000


class MalformedFrame(ValueError):
    """A binary frame that matches no framing of spec 11.3."""

    def __init__(self, reason: str, *, truncated: bool = False) -> None:
        super().__init__(reason)
        self.truncated = truncated


@dataclass
class ParserStats:
    frames: int = 0
    packets: int = 0
    heartbeats: int = 0
    malformed: int = 0
    truncated: int = 0
    # flag values seen at the bid and the ask positions (DEPTH_BIDS_FIRST), spec 16.9
    depth_flags: dict[str, set[int]] = field(default_factory=lambda: {"bid": set(), "ask": set()})


def is_heartbeat(frame: bytes | bytearray | memoryview) -> bool:
    """A frame too short to hold a count or a packet is a heartbeat, not data."""
    # SDK-B and NODE-B treat frames shorter than 2 bytes as heartbeats (spec 11.1).
    return len(frame) < 2


class FeedParser:
    """Turns binary frames into tick dicts; counts and skips what it cannot read.

    Each tick is a dict with ``mode`` (1/2/3 = layout actually received),
    ``exchange_type``, ``token``, ``sequence``, ``exchange_ts`` (epoch ms, 0 if absent),
    ``ltp``; Quote and Snap add ``last_qty, avg_price, volume, total_buy_qty,
    total_sell_qty, open, high, low, close``; Snap adds ``last_trade_ts`` (epoch ms),
    ``oi, oi_change_pct, bids, asks`` (5 ``{price, quantity, orders}`` each, best
    first) and ``upper_circuit, lower_circuit, high_52w, low_52w``.
    """

    _FLAG_SAMPLES = 64  # snap packets whose depth flags are recorded

    def __init__(self, *, epoch_unix: int = FEED_EPOCH_UNIX, clock: Callable[[], float] = time.monotonic) -> None:
        self.epoch_unix = epoch_unix
        self.stats = ParserStats()
        self._tokens: dict[bytes, str] = {}
        self._flag_samples = 0
        self._clock = clock
        self._next_report = float("-inf")
        self._reported = 0
        self._readers = {LTP_SIZE: self._ltp, QUOTE_SIZE: self._quote, SNAP_SIZE: self._snap}

    # ------------------------------------------------------------------ framing

    def feed(self, frame: bytes | bytearray | memoryview) -> list[dict[str, Any]]:
        """Parse one binary frame; never raises (bad frames are counted and logged)."""
        stats = self.stats
        stats.frames += 1
        if is_heartbeat(frame):
            stats.heartbeats += 1
            return []
        try:
            ticks = self.parse(frame)
        except MalformedFrame as exc:
            if exc.truncated:
                stats.truncated += 1
            else:
                stats.malformed += 1
            self._report(frame, str(exc))
            return []
        stats.packets += len(ticks)
        return ticks

    def parse(self, frame: bytes | bytearray | memoryview) -> list[dict[str, Any]]:
        """Parse one binary frame or raise :class:`MalformedFrame`."""
        size = len(frame)
        if size == QUOTE_SIZE:
            return [self._quote(frame, 0)]
        if size == SNAP_SIZE:
            return [self._snap(frame, 0)]
        if size == LTP_SIZE:
            return [self._ltp(frame, 0)]
        readers = self._readers
        # The normal case: a documented header frame that, as two O(1) checks show, neither
        # other framing could read: bytes 2-3 big-endian are no packet length, and the frame
        # is no whole number of packets of the size its first byte (as a mode) implies.
        if (
            size >= HEADER_SIZE
            and (frame[2] << 8 | frame[3]) not in MODE_FOR_SIZE
            and size % SIZE_FOR_MODE.get(frame[0], 1 << 30)
        ):
            try:
                return self._header_ticks(frame, size)
            except MalformedFrame:
                pass  # analysed below, with every framing's reason
        layouts: list[list[tuple[int, int]]] = []
        problems: list[MalformedFrame] = []
        for split in FRAMINGS.values():
            try:
                layouts.append(split(frame, size))
            except MalformedFrame as exc:
                problems.append(exc)
        if len(layouts) == 1:
            return [readers[packet_size](frame, offset) for offset, packet_size in layouts[0]]
        if layouts:
            raise MalformedFrame(f"fits {len(layouts)} framings; refusing to guess")
        truncated = [p for p in problems if p.truncated]
        raise truncated[0] if truncated else problems[0]

    def _header_ticks(self, frame: bytes | bytearray | memoryview, size: int) -> list[dict[str, Any]]:
        """The ticks of a header-group frame (as :func:`_header_groups`, without the layout list)."""
        ticks: list[dict[str, Any]] = []
        offset = 0
        while offset < size:
            if size - offset < HEADER_SIZE:
                raise MalformedFrame("stray bytes")
            count, packet_size = HEADER.unpack_from(frame, offset)
            reader = self._readers.get(packet_size)
            end = offset + HEADER_SIZE + count * packet_size
            if reader is None or count == 0 or end > size:
                raise MalformedFrame("not header groups")
            for position in range(offset + HEADER_SIZE, end, packet_size):
                ticks.append(reader(frame, position))
            offset = end
        return ticks

    # ------------------------------------------------------------------ packets

    def _token(self, raw: bytes) -> str:
        token = self._tokens.get(raw)
        if token is None:
            token = raw.split(b"\0", 1)[0].decode("ascii", "replace").strip()
            if len(self._tokens) >= _TOKEN_CACHE_LIMIT:
                self._tokens.clear()
            self._tokens[raw] = token
        return token

    def _ltp(self, frame: bytes | bytearray | memoryview, offset: int) -> dict[str, Any]:
        _mode, exch, raw, seq, ts, ltp = LTP_PACKET.unpack_from(frame, offset)
        return {
            "mode": 1,
            "exchange_type": exch,
            "token": self._token(raw),
            "sequence": seq,
            "exchange_ts": (ts + self.epoch_unix) * 1000 if ts > 0 else 0,
            "ltp": ltp / PRICE_DIVISOR.get(exch, DEFAULT_PRICE_DIVISOR),
        }

    def _quote(self, frame: bytes | bytearray | memoryview, offset: int) -> dict[str, Any]:
        (_mode, exch, raw, seq, ts, ltp, ltq, atp, vol, tbq, tsq, o, h, lo, c) = QUOTE_PACKET.unpack_from(frame, offset)
        d = PRICE_DIVISOR.get(exch, DEFAULT_PRICE_DIVISOR)
        return {
            "mode": 2,
            "exchange_type": exch,
            "token": self._token(raw),
            "sequence": seq,
            "exchange_ts": (ts + self.epoch_unix) * 1000 if ts > 0 else 0,
            "ltp": ltp / d,
            "last_qty": ltq,
            "avg_price": atp / d,
            "volume": vol,
            "total_buy_qty": int(tbq) if 0 <= tbq < _MAX_QTY else 0,
            "total_sell_qty": int(tsq) if 0 <= tsq < _MAX_QTY else 0,
            "open": o / d,
            "high": h / d,
            "low": lo / d,
            "close": c / d,
        }

    def _snap(self, frame: bytes | bytearray | memoryview, offset: int) -> dict[str, Any]:
        v = SNAP_PACKET.unpack_from(frame, offset)
        exch = v[1]
        d = PRICE_DIVISOR.get(exch, DEFAULT_PRICE_DIVISOR)
        epoch = self.epoch_unix
        ts = v[4]
        tbq = v[9]
        tsq = v[10]
        ltt = v[15]
        oi_change = v[17]
        # depth values start at index 18: (flag, qty, price, orders) x 10
        levels = [{"price": v[i + 2] / d, "quantity": v[i + 1], "orders": v[i + 3]} for i in range(18, 58, 4)]
        if self._flag_samples < self._FLAG_SAMPLES:
            self._record_flags(v)
        return {
            "mode": 3,
            "exchange_type": exch,
            "token": self._token(v[2]),
            "sequence": v[3],
            "exchange_ts": (ts + epoch) * 1000 if ts > 0 else 0,
            "ltp": v[5] / d,
            "last_qty": v[6],
            "avg_price": v[7] / d,
            "volume": v[8],
            "total_buy_qty": int(tbq) if 0 <= tbq < _MAX_QTY else 0,
            "total_sell_qty": int(tsq) if 0 <= tsq < _MAX_QTY else 0,
            "open": v[11] / d,
            "high": v[12] / d,
            "low": v[13] / d,
            "close": v[14] / d,
            "last_trade_ts": (ltt + epoch) * 1000 if ltt > 0 else 0,
            "oi": v[16],
            "oi_change_pct": oi_change if math.isfinite(oi_change) else 0.0,
            "bids": levels[:DEPTH_LEVELS] if DEPTH_BIDS_FIRST else levels[DEPTH_LEVELS:],
            "asks": levels[DEPTH_LEVELS:] if DEPTH_BIDS_FIRST else levels[:DEPTH_LEVELS],
            "upper_circuit": v[58] / d,
            "lower_circuit": v[59] / d,
            "high_52w": v[60] / d,
            "low_52w": v[61] / d,
        }

    def _record_flags(self, values: tuple) -> None:
        self._flag_samples += 1
        flags = self.stats.depth_flags
        for n, i in enumerate(range(18, 58, 4)):
            if values[i + 1] or values[i + 2]:  # empty levels carry no information
                flags["bid" if (n < DEPTH_LEVELS) == DEPTH_BIDS_FIRST else "ask"].add(values[i])
        if self._flag_samples == self._FLAG_SAMPLES:
            log.debug("depth flag values seen: bids %s, asks %s", sorted(flags["bid"]), sorted(flags["ask"]))

    # ------------------------------------------------------------------ diagnostics

    def _report(self, frame: bytes | bytearray | memoryview, reason: str) -> None:
        # At most one line a minute: a server sending a framing we do not know must not
        # flood the log, and the count says how much was lost meanwhile.
        bad = self.stats.malformed + self.stats.truncated
        now = self._clock()
        if now < self._next_report:
            return
        since = bad - self._reported
        self._reported = bad
        self._next_report = now + REPORT_INTERVAL
        head = bytes(frame[:16]).hex()
        extra = f", {since} since the last report" if since != bad else ""
        log.warning(
            "skipped a %d-byte feed frame (%s; %d skipped so far%s) starting %s", len(frame), reason, bad, extra, head
        )


# ---------------------------------------------------------------------- framings
# Each returns the (offset, packet size) of every packet when the frame fits it exactly,
# else raises MalformedFrame (``truncated`` when the frame ends inside a promised packet).


def _header_groups(frame: bytes | bytearray | memoryview, size: int) -> list[tuple[int, int]]:
    """Little-endian ``count, size`` groups (the documented header, spec 11.3)."""
    layout: list[tuple[int, int]] = []
    offset = 0
    while offset < size:
        if size - offset < HEADER_SIZE:
            raise MalformedFrame(f"{size - offset} stray bytes after {len(layout)} packets")
        count, packet_size = HEADER.unpack_from(frame, offset)
        if packet_size not in MODE_FOR_SIZE or count == 0:
            raise MalformedFrame(f"bad header: count={count} size={packet_size}")
        start = offset + HEADER_SIZE
        end = start + count * packet_size
        if end > size:
            raise MalformedFrame(
                f"truncated: header promises {count}x{packet_size} bytes, {size - start} present", truncated=True
            )
        layout.extend((position, packet_size) for position in range(start, end, packet_size))
        offset = end
    return layout


def _length_prefixed(frame: bytes | bytearray | memoryview, size: int) -> list[tuple[int, int]]:
    """Big-endian ``count``, then a big-endian ``length`` before each packet."""
    if size < BE_COUNT.size:
        raise MalformedFrame(f"{size} bytes hold no packet count")
    count = BE_COUNT.unpack_from(frame, 0)[0]
    if count == 0:
        raise MalformedFrame("length-prefixed frame of 0 packets")
    layout: list[tuple[int, int]] = []
    offset = BE_COUNT.size
    for _ in range(count):
        if offset + BE_COUNT.size > size:
            raise MalformedFrame(f"truncated: {count} packets promised, {len(layout)} present", truncated=True)
        length = BE_COUNT.unpack_from(frame, offset)[0]
        if length not in MODE_FOR_SIZE:
            raise MalformedFrame(f"no packet is {length} bytes long")
        offset += BE_COUNT.size
        if offset + length > size:
            raise MalformedFrame(f"truncated: a {length}-byte packet has {size - offset} bytes", truncated=True)
        layout.append((offset, length))
        offset += length
    if offset != size:
        raise MalformedFrame(f"{size - offset} stray bytes after {count} length-prefixed packets")
    return layout


def _concatenated(frame: bytes | bytearray | memoryview, size: int) -> list[tuple[int, int]]:
    """Bare packets back to back: every packet's mode byte must match its size."""
    for packet_size in PACKET_SIZES:
        if size % packet_size == 0:
            mode = MODE_FOR_SIZE[packet_size]
            if all(frame[p] == mode for p in range(0, size, packet_size)):
                return [(p, packet_size) for p in range(0, size, packet_size)]
    raise MalformedFrame(f"{size} bytes are no whole number of bare packets")


# Every multi-packet framing, by the name ``doctor --live`` reports it under.
FRAMINGS: dict[str, Callable[[bytes | bytearray | memoryview, int], list[tuple[int, int]]]] = {
    "header": _header_groups,
    "big-endian": _length_prefixed,
    "concatenated": _concatenated,
}
