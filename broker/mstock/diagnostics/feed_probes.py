"""Read-only probes of the binary feed: framing, price divisors, epoch zone, depth sides.

One socket, opened like the plugin opens it (verified TLS, ``LOGIN:`` at once), subscribes
one instrument per segment in Snap Quote mode and records every frame for a few seconds.
The frames are then read twice: by :func:`split_frame`, which tries the parser's framings
one by one and so names the framing actually received (or ``unknown``), and by the
plugin's parser (which says whether the plugin would have understood them). Raw integers are compared
with the REST quote of the same instruments:

* price divisor per segment: the packet's previous close (or LTP) against REST's, as a
  power of ten;
* epoch zone: the packet's exchange time, read the plugin's way, against this clock;
* depth: which five entries are bids (against REST depth, else by price), and the int16
  flag each side carries.
"""

from __future__ import annotations

import math
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from datetime import time as dtime
from typing import Any

import websocket

from ..clock import IST
from ..errors import MStockError
from ..mapping.book_values import as_float
from ..mapping.exchanges import FEED_EXCHANGE_TYPE
from ..records import SymbolRecord
from ..streaming import parser as feed_parser
from ..streaming.connection import close_detail, interrupt, open_socket
from ..streaming.protocol import ACTION_SUBSCRIBE, MODE_SNAP, classify_text, feed_url, login_frame, request_frames
from .context import Context
from .report import CONFIRMED, CONTRADICTED, UNTESTABLE
from .rest_probes import Instruments, RestView, wire_key

SIZES = feed_parser.PACKET_SIZES
MODE_FOR_SIZE = feed_parser.MODE_FOR_SIZE
# What the framing assumption names (plus back-to-back bare packets): any other framing
# contradicts it, even one the parser also reads.
ASSUMED_FRAMINGS = ("header", "bare", "concatenated", "heartbeat")
UTC_SHIFT = 5 * 3600 + 30 * 60
EPOCH_TOLERANCE = 600.0  # seconds: ticks within 10 minutes of this clock are "now"
MARKET_OPEN, MARKET_CLOSE = dtime(9, 15), dtime(15, 30)
MAX_FRAMES = 500
SEGMENTS = ("NSE", "NFO", "BSE", "BFO", "CDS")
SEGMENT_NAMES = {"NSE": "NSE cash", "NFO": "NSE F&O", "BSE": "BSE cash", "BFO": "BSE F&O", "CDS": "NSE currency"}


@dataclass
class Packet:
    """Raw integers of one packet (prices not divided)."""

    mode: int
    exchange_type: int
    token: str
    exchange_ts: int
    ltp: int
    close: int | None = None
    depth: list[tuple[int, int, int, int]] = field(default_factory=list)  # (flag, qty, price, orders) x 10
    last_trade_ts: int = 0


@dataclass
class Capture:
    binary: list[bytes] = field(default_factory=list)
    texts: list[str] = field(default_factory=list)
    problem: str | None = None
    closed: str | None = None  # how the first socket was closed by the server, if it was
    # The second socket (same session, no subscription), opened once the first has its packets.
    second_opened: bool = False
    second_refused: str | None = None
    second_closed: str | None = None
    second_texts: list[str] = field(default_factory=list)


class _Second:
    """A second socket of the same session that subscribes to nothing and only listens."""

    def __init__(self, ws: websocket.WebSocket) -> None:
        self.ws = ws
        self.texts: list[str] = []
        self.closed: str | None = None
        self._thread = threading.Thread(target=self._read, name="mstock-doctor-second-socket", daemon=True)
        self._thread.start()

    def _read(self) -> None:
        while True:
            try:
                opcode, data = self.ws.recv_data(control_frame=True)
            except (websocket.WebSocketException, OSError):
                return
            if opcode == websocket.ABNF.OPCODE_CLOSE:
                self.closed = "closed by the server" + close_detail(data)
                return
            if opcode == websocket.ABNF.OPCODE_TEXT:
                self.texts.append(data.decode("utf-8", "replace") if isinstance(data, bytes) else str(data))

    def close(self) -> None:
        interrupt(self.ws)
        self._thread.join(2)
        try:
            self.ws.shutdown()
        except (websocket.WebSocketException, OSError):
            pass


def decode_packet(data: bytes) -> Packet | None:
    size = len(data)
    if size not in SIZES or data[0] != MODE_FOR_SIZE[size]:
        return None
    structs = {51: feed_parser.LTP_PACKET, 123: feed_parser.QUOTE_PACKET, 379: feed_parser.SNAP_PACKET}
    v = structs[size].unpack_from(data, 0)
    token = v[2].split(b"\0", 1)[0].decode("ascii", "replace").strip()
    packet = Packet(mode=v[0], exchange_type=v[1], token=token, exchange_ts=v[4], ltp=v[5])
    if size >= 123:
        packet.close = v[14]
    if size == 379:
        packet.last_trade_ts = v[15]
        packet.depth = [tuple(v[i : i + 4]) for i in range(18, 58, 4)]  # type: ignore[misc]
    return packet


def split_frame(frame: bytes) -> tuple[str, list[bytes]]:
    """(framing, packets): ``heartbeat`` (no packets), ``bare``, the first of the parser's
    framings (``header``, ``big-endian``, ``concatenated``) whose packets all carry their
    size's mode byte, or ``unknown``."""
    if feed_parser.is_heartbeat(frame):
        return "heartbeat", []
    size = len(frame)
    if size in SIZES and frame[0] == MODE_FOR_SIZE[size]:
        return "bare", [frame]
    for name, layout_of in feed_parser.FRAMINGS.items():
        try:
            layout = layout_of(frame, size)
        except feed_parser.MalformedFrame:
            continue
        packets = [frame[offset : offset + length] for offset, length in layout]
        if packets and all(decode_packet(p) for p in packets):
            return name, packets
    return "unknown", []


def _plugin_reads(frame: bytes) -> bool:
    if feed_parser.is_heartbeat(frame):
        return True  # the feed counts and skips it
    try:
        feed_parser.FeedParser().parse(frame)
    except feed_parser.MalformedFrame:
        return False
    return True


# ---------------------------------------------------------------------- capture


def capture(ctx: Context, subscriptions: dict[int, list[str]]) -> Capture:
    """Frames received after subscribing; never raises for the feed.

    The first socket subscribes every instrument and listens until each has sent a packet
    (``ctx.feed_seconds`` at most: a closed market may send nothing). Then a second socket
    of the same session opens, subscribes to nothing, and both listen for
    ``ctx.feed_min_seconds`` more: does mStock keep both, and do order updates reach the
    one without subscriptions?
    """
    settings = ctx.settings
    assert settings is not None and ctx.access_token is not None
    url = feed_url(settings.ws_url, settings.api_key or "", ctx.access_token)
    got = Capture()
    try:
        ws = open_socket(url, timeout=5.0)
    except MStockError as exc:
        got.problem = f"the feed refused or failed the connection: {exc}"
        return got
    second: _Second | None = None
    try:
        ws.send(login_frame(ctx.access_token))
        for frame in request_frames(ACTION_SUBSCRIBE, MODE_SNAP, subscriptions):
            ws.send(frame)
        deadline = time.monotonic() + ctx.feed_seconds
        waiting = {(exchange_type, str(token)) for exchange_type, tokens in subscriptions.items() for token in tokens}
        settled: float | None = None
        while len(got.binary) < MAX_FRAMES:
            if settled is None and (not waiting or time.monotonic() >= deadline):
                second = _open_second(ctx, url, got)
                settled = time.monotonic() + ctx.feed_min_seconds
            remaining = (settled if settled is not None else deadline) - time.monotonic()
            if remaining <= 0:
                break
            ws.settimeout(remaining)
            try:
                opcode, data = ws.recv_data(control_frame=True)
            except websocket.WebSocketTimeoutException:
                continue
            if opcode == websocket.ABNF.OPCODE_CLOSE:
                got.closed = "closed by the server" + close_detail(data)
                got.problem = f"the feed {got.closed}"
                break
            if opcode == websocket.ABNF.OPCODE_BINARY:
                got.binary.append(bytes(data))
                for part in split_frame(got.binary[-1])[1]:
                    packet = decode_packet(part)
                    if packet is not None:
                        waiting.discard((packet.exchange_type, packet.token))
            elif opcode == websocket.ABNF.OPCODE_TEXT:
                got.texts.append(data.decode("utf-8", "replace") if isinstance(data, bytes) else str(data))
    except (websocket.WebSocketException, OSError) as exc:
        got.problem = f"the feed connection failed: {type(exc).__name__}"
    finally:
        try:
            ws.close(timeout=0.2)
        except (websocket.WebSocketException, OSError):
            pass
        ws.shutdown()
        if second is not None:
            got.second_texts = list(second.texts)
            got.second_closed = second.closed
            second.close()
    return got


def _open_second(ctx: Context, url: str, got: Capture) -> _Second | None:
    assert ctx.access_token is not None
    try:
        ws = open_socket(url, timeout=5.0)
        ws.send(login_frame(ctx.access_token))
    except MStockError as exc:
        got.second_refused = str(exc)
        return None
    except (websocket.WebSocketException, OSError) as exc:
        got.second_refused = f"{type(exc).__name__}"
        return None
    got.second_opened = True
    return _Second(ws)


# ---------------------------------------------------------------------- analysis


def run_feed_probes(ctx: Context, picks: Instruments, rest: RestView) -> None:
    subscribed: dict[tuple[int, str], SymbolRecord] = {}
    for record in picks.by_segment.values():
        exchange_type = FEED_EXCHANGE_TYPE.get(record.exchange)
        if exchange_type is not None:
            subscribed[(exchange_type, str(record.token))] = record
    subscriptions: dict[int, list[str]] = {}
    for exchange_type, token in subscribed:
        subscriptions.setdefault(exchange_type, []).append(token)
    if not subscriptions:
        _all_untestable(ctx, "no instruments in the symbol table")
        return
    got = capture(ctx, subscriptions)
    ctx.report.feed_frames = [frame[:48].hex() + ("..." if len(frame) > 48 else "") for frame in got.binary[:6]]
    _order_updates(ctx, got)
    _sockets(ctx, got)
    if not got.binary:
        reason = got.problem or f"no binary frame within {ctx.feed_seconds:g} s (market closed?)"
        _all_untestable(ctx, reason, texts=False)
        return
    packets = _framing(ctx, got)
    latest: dict[tuple[int, str], Packet] = {}
    for packet in packets:
        latest[(packet.exchange_type, packet.token)] = packet
    _divisors(ctx, picks, rest, latest)
    _epoch(ctx, packets)
    _depth(ctx, picks, rest, latest)


def _assumptions() -> dict[str, str]:
    bid, ask = feed_parser.DEPTH_SIDE_FLAGS
    first = "bids" if feed_parser.DEPTH_BIDS_FIRST else "asks"
    second = "asks" if feed_parser.DEPTH_BIDS_FIRST else "bids"
    zone = "IST" if feed_parser.FEED_EPOCH_UNIX != feed_parser.EPOCH_1980_UTC else "UTC"
    out = {
        "feed_framing": "binary frames carry a little-endian count+size header before the packets, or one bare packet",
        "feed_epoch": f"feed timestamps count seconds from 1980-01-01 00:00 {zone}",
        "depth_order": f"the first five depth entries of a packet are {first}, the next five {second}",
        "depth_side_flag": f"bid entries carry the int16 flag {bid}, ask entries {ask}",
        "feed_sockets": "mStock keeps a second feed socket of the same session open beside the first",
        "order_updates_unsubscribed": "order updates also reach a socket that subscribes to no instrument",
        "order_updates": "order and trade updates arrive as text frames the plugin reads "
        '({"order_status", "orderData"}, or the older {"type", "data"})',
    }
    for segment in SEGMENTS:
        divisor = feed_parser.PRICE_DIVISOR.get(FEED_EXCHANGE_TYPE[segment], feed_parser.DEFAULT_PRICE_DIVISOR)
        out[f"price_divisor_{segment.lower()}"] = f"{SEGMENT_NAMES[segment]} feed prices are rupees x {divisor}"
    return out


def _add(ctx: Context, finding_id: str, status: str, detail: str, *, change: str = "", data: Any = None) -> None:
    ctx.probe(finding_id, status, detail, assumption=_assumptions()[finding_id], change=change, data=data)


def _all_untestable(ctx: Context, reason: str, *, texts: bool = True) -> None:
    for finding_id in _assumptions():
        if not texts and finding_id in ("order_updates", "feed_sockets", "order_updates_unsubscribed"):
            continue
        _add(ctx, finding_id, UNTESTABLE, reason)


def _framing(ctx: Context, got: Capture) -> list[Packet]:
    kinds: Counter[str] = Counter()
    packets: list[Packet] = []
    unread = 0
    for frame in got.binary:
        framing, parts = split_frame(frame)
        kinds[framing] += 1
        packets += [p for p in (decode_packet(part) for part in parts) if p is not None]
        if not _plugin_reads(frame):
            unread += 1
    shown = ", ".join(f"{kind} x{count}" for kind, count in kinds.most_common())
    data = {"framings": dict(kinds), "frames": len(got.binary), "unread_by_plugin": unread}
    strange = [k for k in kinds if k not in ASSUMED_FRAMINGS]
    if not strange and not unread:
        _add(ctx, "feed_framing", CONFIRMED, f"{len(got.binary)} frames: {shown}; the plugin reads all", data=data)
    else:
        what = {
            "big-endian": "big-endian count with a length before each packet",
            "unknown": "frames no known framing explains",
        }
        described = "; ".join(what.get(k, k) for k in strange) or "frames the plugin's parser rejects"
        _add(
            ctx,
            "feed_framing",
            CONTRADICTED,
            f"{len(got.binary)} frames: {shown} ({described}); the plugin cannot read {unread} of them",
            change="streaming/parser.py FeedParser.parse (the frame splitter) must read this framing"
            if unread
            else "nothing to change: streaming/parser.py reads this framing too",
            data=data,
        )
    return packets


def _power_of_ten(ratio: float) -> int | None:
    if not ratio or ratio <= 0 or not math.isfinite(ratio):
        return None
    exponent = round(math.log10(ratio))
    candidate = 10**exponent
    return candidate if abs(ratio / candidate - 1) < 0.02 else None


def _divisors(ctx: Context, picks: Instruments, rest: RestView, latest: dict[tuple[int, str], Packet]) -> None:
    for segment in SEGMENTS:
        finding_id = f"price_divisor_{segment.lower()}"
        exchange_type = FEED_EXCHANGE_TYPE[segment]
        assumed = feed_parser.PRICE_DIVISOR.get(exchange_type, feed_parser.DEFAULT_PRICE_DIVISOR)
        record = picks.by_segment.get(segment)
        if record is None:
            _add(ctx, finding_id, UNTESTABLE, f"no {SEGMENT_NAMES[segment]} instrument in the symbol table")
            continue
        packet = latest.get((exchange_type, str(record.token)))
        row = rest.rows.get(wire_key(record))
        if packet is None:
            _add(ctx, finding_id, UNTESTABLE, f"no packet for {record.symbol} (segment not enabled, or no trade yet)")
            continue
        if row is None:
            _add(ctx, finding_id, UNTESTABLE, f"no REST quote for {record.symbol} to compare with")
            continue
        pairs = [
            ("previous close", packet.close, as_float(row.get("close"))),
            ("LTP", packet.ltp, as_float(row.get("ltp"))),
        ]
        usable = [(name, raw, price) for name, raw, price in pairs if raw and price > 0]
        if not usable:
            _add(ctx, finding_id, UNTESTABLE, f"{record.symbol}: no non-zero price on both sides")
            continue
        name, raw, price = usable[0]
        observed = _power_of_ten(raw / price)
        detail = f"{record.symbol} {name}: feed {raw} vs REST {price:g}"
        data = {"symbol": record.symbol, "feed": raw, "rest": price, "divisor": observed}
        if observed is None:
            _add(ctx, finding_id, UNTESTABLE, f"{detail}: no power of ten fits (prices moved?)", data=data)
        elif observed == assumed:
            _add(ctx, finding_id, CONFIRMED, f"{detail} (x {observed})", data=data)
        else:
            _add(
                ctx,
                finding_id,
                CONTRADICTED,
                f"{detail}: feed prices are rupees x {observed}, not x {assumed}",
                change=f"streaming/parser.py PRICE_DIVISOR[{exchange_type}] = {observed}",
                data=data,
            )


def _market_open(moment: datetime) -> bool:
    local = moment.astimezone(IST)
    return local.weekday() < 5 and MARKET_OPEN <= local.time() <= MARKET_CLOSE


def _epoch(ctx: Context, packets: list[Packet]) -> None:
    stamps = [p.exchange_ts for p in packets if p.exchange_ts > 0]
    if not stamps:
        _add(ctx, "feed_epoch", UNTESTABLE, "no packet carried an exchange time")
        return
    now = ctx.now()
    newest = max(stamps) + feed_parser.FEED_EPOCH_UNIX
    offset = newest - now.timestamp()
    read = datetime.fromtimestamp(newest, IST)
    detail = f"newest packet reads {read:%Y-%m-%d %H:%M:%S} IST; this clock says {now.astimezone(IST):%H:%M:%S}"
    data = {"offset_seconds": round(offset, 1)}
    if abs(offset) <= EPOCH_TOLERANCE:
        _add(ctx, "feed_epoch", CONFIRMED, detail, data=data)
    elif not _market_open(now):
        _add(ctx, "feed_epoch", UNTESTABLE, f"{detail}: the market is closed, so old ticks prove nothing", data=data)
    elif abs(offset + UTC_SHIFT) <= EPOCH_TOLERANCE:
        _add(
            ctx,
            "feed_epoch",
            CONTRADICTED,
            f"{detail}: 5.5 h in the past, so the epoch is 1980-01-01 00:00 UTC",
            change="streaming/parser.py FEED_EPOCH_UNIX = EPOCH_1980_UTC",
            data=data,
        )
    elif abs(offset - UTC_SHIFT) <= EPOCH_TOLERANCE:
        _add(
            ctx,
            "feed_epoch",
            CONTRADICTED,
            f"{detail}: 5.5 h in the future, so the epoch is 1980-01-01 00:00 IST",
            change="streaming/parser.py FEED_EPOCH_UNIX = EPOCH_1980_UTC - IST_OFFSET_SECONDS",
            data=data,
        )
    else:
        _add(
            ctx,
            "feed_epoch",
            UNTESTABLE,
            f"{detail}: {offset / 60:+.0f} min fits neither IST nor UTC (stale ticks?)",
            data=data,
        )


def _levels(packet: Packet) -> tuple[list[tuple[int, int, int, int]], list[tuple[int, int, int, int]]]:
    first = [entry for entry in packet.depth[:5] if entry[1] and entry[2]]
    second = [entry for entry in packet.depth[5:] if entry[1] and entry[2]]
    return first, second


def _rest_sides(row: dict | None, divisor: int) -> tuple[set[int], set[int]]:
    if not row or not isinstance(row.get("depth"), dict):
        return set(), set()
    depth = row["depth"]

    def prices(side: Any) -> set[int]:
        return {
            round(float(level.get("price") or 0) * divisor) for level in (side or []) if isinstance(level, dict)
        } - {0}

    return prices(depth.get("buy", depth.get("bids"))), prices(depth.get("sell", depth.get("asks")))


def _depth(ctx: Context, picks: Instruments, rest: RestView, latest: dict[tuple[int, str], Packet]) -> None:
    votes: dict[str, str] = {}
    bid_flags: set[int] = set()
    ask_flags: set[int] = set()
    for segment in SEGMENTS:
        record = picks.by_segment.get(segment)
        if record is None:
            continue
        exchange_type = FEED_EXCHANGE_TYPE[segment]
        packet = latest.get((exchange_type, str(record.token)))
        if packet is None or packet.mode != MODE_SNAP:
            continue
        first, second = _levels(packet)
        if not first or not second:
            continue
        divisor = feed_parser.PRICE_DIVISOR.get(exchange_type, feed_parser.DEFAULT_PRICE_DIVISOR)
        rest_bids, rest_asks = _rest_sides(rest.rows.get(wire_key(record)), divisor)
        # Within one packet an uncrossed book has every bid below every ask: that decides,
        # whatever the market did since the REST quote. REST depth only breaks a tie (a
        # locked book, or currency prices rounded to paise).
        order = None
        if max(e[2] for e in first) < min(e[2] for e in second):
            order = "bids-first"
        elif min(e[2] for e in first) > max(e[2] for e in second):
            order = "asks-first"
        elif rest_bids or rest_asks:
            first_prices = {entry[2] for entry in first}
            as_bids, as_asks = len(first_prices & rest_bids), len(first_prices & rest_asks)
            if as_bids != as_asks:
                order = "bids-first" if as_bids > as_asks else "asks-first"
        if order is None:
            continue
        votes[f"{record.symbol} ({segment})"] = order
        bids, asks = (first, second) if order == "bids-first" else (second, first)
        bid_flags |= {entry[0] for entry in bids}
        ask_flags |= {entry[0] for entry in asks}
    if not votes:
        reason = "no packet with five bids and five asks on a tradable instrument (market closed?)"
        _add(ctx, "depth_order", UNTESTABLE, reason)
        _add(ctx, "depth_side_flag", UNTESTABLE, reason)
        return
    orders = set(votes.values())
    shown = ", ".join(f"{symbol}: {order}" for symbol, order in sorted(votes.items()))
    assumed = "bids-first" if feed_parser.DEPTH_BIDS_FIRST else "asks-first"
    if len(orders) > 1:
        _add(ctx, "depth_order", UNTESTABLE, f"instruments disagree ({shown}): a crossed book (pre-open)?")
    elif orders == {assumed}:
        _add(ctx, "depth_order", CONFIRMED, f"by prices (REST depth on a tie): {shown}")
    else:
        _add(
            ctx,
            "depth_order",
            CONTRADICTED,
            f"by prices (REST depth on a tie): {shown}",
            change=f"streaming/parser.py DEPTH_BIDS_FIRST = {not feed_parser.DEPTH_BIDS_FIRST}",
        )
    bid, ask = feed_parser.DEPTH_SIDE_FLAGS
    seen = f"bid entries carry {sorted(bid_flags)}, ask entries {sorted(ask_flags)}"
    data = {"bid_flags": sorted(bid_flags), "ask_flags": sorted(ask_flags)}
    if bid_flags == {bid} and ask_flags == {ask}:
        _add(ctx, "depth_side_flag", CONFIRMED, seen, data=data)
    elif len(bid_flags) == 1 and len(ask_flags) == 1 and bid_flags != ask_flags:
        _add(
            ctx,
            "depth_side_flag",
            CONTRADICTED,
            seen + " (sides come from the position, so parsed depth is right either way)",
            change=f"streaming/parser.py DEPTH_SIDE_FLAGS = ({min(bid_flags)}, {min(ask_flags)})",
            data=data,
        )
    else:
        _add(
            ctx,
            "depth_side_flag",
            CONTRADICTED,
            seen + ": the flag does not tell the sides apart",
            change="none possible: keep splitting by position (streaming/parser.py DEPTH_SIDE_FLAGS records it)",
            data=data,
        )


def _order_updates(ctx: Context, got: Capture) -> None:
    if not got.texts:
        _add(
            ctx,
            "order_updates",
            UNTESTABLE,
            "no order or trade update while listening (they come when an order changes)",
        )
        return
    kinds: Counter[str] = Counter()
    shapes: Counter[str] = Counter()
    odd: list[str] = []
    for text_frame in got.texts:
        message = classify_text(text_frame)
        kinds[message.kind] += 1
        if message.kind in ("order", "trade"):
            shapes["order_status/orderData" if '"orderData"' in text_frame else "type/data"] += 1
        elif message.kind == "other":
            odd.append(text_frame[:120])
    shown = ", ".join(f"{kind} x{count}" for kind, count in kinds.most_common())
    data = {"kinds": dict(kinds), "shapes": dict(shapes)}
    if odd:
        _add(
            ctx,
            "order_updates",
            CONTRADICTED,
            f"text frames: {shown}; not understood: {odd[0]!r}",
            change="streaming/protocol.py classify_text (order and trade frame shapes)",
            data=data,
        )
    elif kinds.get("order") or kinds.get("trade"):
        _add(
            ctx,
            "order_updates",
            CONFIRMED,
            f"text frames: {shown} (shape {', '.join(shapes)}); the plugin reads them",
            data=data,
        )
    else:
        _add(ctx, "order_updates", UNTESTABLE, f"text frames: {shown}; no order or trade update among them", data=data)


_FALLBACK = (
    "nothing to change: the order-update adapter (streaming/mstock_order_adapter.py) notices this and "
    "follows the order book instead; MSTOCK_ORDER_UPDATES=poll starts there"
)


def _sockets(ctx: Context, got: Capture) -> None:
    """A second socket of the same session: kept, refused, or the first one evicted?"""
    if got.second_refused is not None:
        _add(
            ctx, "feed_sockets", CONTRADICTED, f"the second socket was refused: {got.second_refused}", change=_FALLBACK
        )
    elif not got.second_opened:
        _add(ctx, "feed_sockets", UNTESTABLE, got.problem or "the first socket did not last long enough")
    elif got.closed is not None:
        _add(
            ctx,
            "feed_sockets",
            CONTRADICTED,
            f"opening a second socket got the first one {got.closed}",
            change=_FALLBACK,
        )
    elif got.second_closed is not None:
        _add(ctx, "feed_sockets", CONTRADICTED, f"the second socket was {got.second_closed}", change=_FALLBACK)
    else:
        _add(
            ctx,
            "feed_sockets",
            CONFIRMED,
            f"both sockets stayed open for {ctx.feed_min_seconds:g} s after the second logged in",
        )
    first = [t for t in got.texts if classify_text(t).kind in ("order", "trade")]
    second = [t for t in got.second_texts if classify_text(t).kind in ("order", "trade")]
    if second:
        _add(
            ctx,
            "order_updates_unsubscribed",
            CONFIRMED,
            f"{len(second)} order or trade updates reached the socket without subscriptions",
        )
    elif first and got.second_opened and got.second_closed is None:
        _add(
            ctx,
            "order_updates_unsubscribed",
            CONTRADICTED,
            f"{len(first)} updates reached the subscribed socket, none the other",
            change="streaming/mstock_order_adapter.py must subscribe to one instrument to get updates "
            "(its order-book backstop still delivers every change)",
        )
    else:
        _add(
            ctx,
            "order_updates_unsubscribed",
            UNTESTABLE,
            "no order or trade update while both sockets listened (they come when an order changes)",
        )
