"""WebSocket protocol robustness cases for the Portico WebSocket gateway, grouped like the Autobahn testsuite
(1 framing, 2 pings/pongs, 3 reserved bits, 4 reserved opcodes, 5 fragmentation, 6 UTF-8, 7 close handling,
9 limits/performance, 12-13 permessage-deflate).

Every case opens its own connection to the gateway's upgrade URL and relies on the demo routes:
  {"action":"echo","data":X}   -> {"action":"echo","data":X}          (chat /echo, two-way)
  other text T                 -> {"action":"default","received":T}   ($default)
  binary B                     -> {"action":"default","received":base64(B)}

Outcomes:
  PASS        the server did what the RFC requires (and what it SHOULD do).
  NON-STRICT  the server met the RFC's MUST but not a SHOULD (e.g. failed the connection by dropping TCP
              without a close frame, or with a less specific close code). Not counted as a failure.
  INFO        behaviour the RFC leaves open; reported for information. Not counted as a failure.
  FAIL        the server violated a MUST (or the documented gateway behaviour).
"""

from __future__ import annotations

import base64
import json
import os
import time
import zlib
from dataclasses import dataclass
from typing import Callable

from wsframes import (BINARY, CLOSE, CONT, PING, PONG, TEXT, ConnectionClosed, HandshakeError, ProtocolViolation,
                      Timeout, WSClient, close_payload, encode_frame, split)

MAX_MESSAGE = 64 * 1024  # gateways.websocket.maxMessageSize default (64KiB), inclusive

PASS, NONSTRICT, INFO, FAIL = "PASS", "NON-STRICT", "INFO", "FAIL"


@dataclass
class Case:
    id: str
    name: str
    sends: str
    expects: str
    fn: Callable[[str], tuple[str, str]]
    # may take the whole gateway down (found: debug-build assertion in compress-nio); run.py runs these last,
    # one at a time, and checks the gateway is still up after each
    dangerous: bool = False


CASES: list[Case] = []


def case(id: str, name: str, sends: str, expects: str, dangerous: bool = False):
    def register(fn):
        CASES.append(Case(id, name, sends, expects, fn, dangerous))
        return fn

    return register


def connect(url: str, **kw) -> WSClient:
    return WSClient.connect(url, **kw)


# ----------------------------------------------------------------------------------------------------------
# Helpers


def expect_default_text(c: WSClient, text: str, timeout: float = 5.0) -> tuple[str, str] | None:
    """Reads the $default reply for a text message; returns a FAIL tuple or None."""
    m = c.recv_message(timeout)
    if m.opcode != TEXT:
        return FAIL, f"reply is not a text message ({m.opcode})"
    reply = json.loads(m.data)
    if reply.get("received") != text:
        got = reply.get("received")
        return FAIL, f"echo differs: sent {len(text)} chars, got {reply if got is None else repr(got[:60])}"
    return None


def expect_default_binary(c: WSClient, data: bytes, timeout: float = 5.0) -> tuple[str, str] | None:
    m = c.recv_message(timeout)
    reply = json.loads(m.data)
    if reply.get("received") != base64.b64encode(data).decode():
        return FAIL, f"binary echo differs (sent {len(data)} bytes, got {str(reply)[:80]})"
    return None


def echo_json(c: WSClient, data, timeout: float = 5.0) -> tuple[str, str] | None:
    c.send_text(json.dumps({"action": "echo", "data": data}, ensure_ascii=False))
    m = c.recv_message(timeout)
    reply = json.loads(m.data)
    if reply != {"action": "echo", "data": data}:
        return FAIL, f"echo differs: {str(reply)[:100]}"
    return None


def still_alive(c: WSClient) -> tuple[str, str] | None:
    """The connection still works: an echo round trip."""
    try:
        return echo_json(c, "alive?")
    except ConnectionClosed as e:
        return FAIL, f"connection no longer usable: {e}"


def expect_fail(c: WSClient, codes: set[int], *, nonstrict: set[int] = frozenset(), timeout: float = 2.0,
                why: str = "") -> tuple[str, str]:
    """The server must _Fail the WebSocket Connection_ (RFC 6455 7.1.7): SHOULD send a close frame with an
    appropriate code, MUST close the connection. We answer its close like a client would and then expect
    the server to close TCP within 2 s."""
    info = c.expect_close(timeout)
    data = [f for f in info.frames_before if f.opcode in (TEXT, BINARY, CONT)]
    extra = f"; {len(data)} data frame(s) before the close" if data else ""
    if info.close_frame is None:
        if info.eof:
            return NONSTRICT, f"TCP closed without a close frame (7.1.7: SHOULD send one){extra}"
        pongs = [f for f in info.frames_before if f.opcode == PONG]
        more = f" (answered with {len(pongs)} pong(s))" if pongs else ""
        return FAIL, f"connection not failed within {timeout:.0f}s{more}{extra}{why}"
    code = info.code
    if not info.eof:
        return FAIL, f"{info.describe()}: server did not close TCP within 2s after the close handshake{extra}"
    if code in codes:
        return PASS, info.describe() + extra
    if code in nonstrict:
        return NONSTRICT, f"{info.describe()} (expected {sorted(codes)}){extra}"
    return FAIL, f"{info.describe()}, expected {'/'.join(map(str, sorted(codes)))}{extra}{why}"


def expect_fail_after_close(c: WSClient, frame, codes: set[int]) -> tuple[str, str]:
    """The server's close frame was already read (by recv_message): answer it and check TCP is closed."""
    code = frame.close_code()
    try:
        c.send_close(code)
    except ConnectionClosed:
        pass
    eof = c.wait_eof(2)
    text = f"close {code}" + (f", TCP closed after {eof:.2f}s" if eof is not None else ", TCP still open")
    if eof is None:
        return FAIL, text + ": server did not close TCP"
    return (PASS if code in codes else FAIL), text


def expect_normal_close(c: WSClient, codes: set, timeout: float = 2.0) -> tuple[str, str]:
    """After the client's close: the server MUST answer with a close frame (5.5.1) and then close TCP (7.1.1)."""
    info = c.expect_close(timeout, reply=False)
    data = [f for f in info.frames_before if f.opcode in (TEXT, BINARY, CONT)]
    if info.close_frame is None:
        return FAIL, f"no close frame in answer: {info.describe()}"
    if info.code not in codes:
        return FAIL, f"{info.describe()}, expected {codes}"
    if not info.eof:
        return FAIL, f"{info.describe()}: server did not close TCP"
    if data:
        return FAIL, f"{info.describe()} but server sent {len(data)} data frame(s) after the client's close"
    return PASS, info.describe()


def run_case(url: str, c: Case) -> tuple[str, str]:
    try:
        return c.fn(url)
    except ConnectionClosed as e:
        return FAIL, f"connection closed unexpectedly: {e}"
    except Timeout as e:
        return FAIL, f"timeout: {e}"
    except ProtocolViolation as e:
        return FAIL, f"server protocol violation: {e}"
    except HandshakeError as e:
        return FAIL, f"handshake refused: HTTP {e.status} {e.body[:120]!r}"
    except zlib.error as e:
        return FAIL, f"could not inflate server message: {e}"
    except Exception as e:  # noqa: BLE001
        return FAIL, f"{type(e).__name__}: {e}"


# ----------------------------------------------------------------------------------------------------------
# 1 Framing

SIZES = [0, 125, 126, 127, 65535, 65536]


def _text_size(n):
    def fn(url):
        with connect(url) as c:
            text = "*" * n
            c.send_text(text)
            return expect_default_text(c, text) or (PASS, f"{n}-byte text echoed")
    return fn


def _binary_size(n):
    def fn(url):
        with connect(url) as c:
            data = bytes([0xFE]) * n
            c.send_binary(data)
            return expect_default_binary(c, data) or (PASS, f"{n}-byte binary echoed")
    return fn


for i, n in enumerate(SIZES, 1):
    case(f"1.1.{i}", f"text message, {n} bytes", f"one text frame with {n} bytes",
         "message delivered and answered ($default echo equal)")(_text_size(n))
    case(f"1.2.{i}", f"binary message, {n} bytes", f"one binary frame with {n} bytes",
         "message delivered and answered (base64 echo equal)")(_binary_size(n))


@case("1.1.7", "text message over maxMessageSize", "one text frame of 65537 bytes (limit 64KiB)",
      "close 1009 (documented; RFC 6455 7.4.1 'message too big')")
def _(url):
    with connect(url) as c:
        c.send_text("*" * (MAX_MESSAGE + 1))
        return expect_fail(c, {1009})


@case("1.2.7", "binary message over maxMessageSize", "one binary frame of 65537 bytes",
      "close 1009")
def _(url):
    with connect(url) as c:
        c.send_binary(b"\xfe" * (MAX_MESSAGE + 1))
        return expect_fail(c, {1009})


@case("1.1.8", "text 65536 bytes written in 997-byte chops", "one 65536-byte text frame split over many TCP writes",
      "echo equal (frame boundaries are independent of TCP segments)")
def _(url):
    with connect(url) as c:
        text = "".join(chr(0x41 + i % 26) for i in range(65536))
        raw = encode_frame(TEXT, text.encode())
        for i in range(0, len(raw), 997):
            c.send_raw(raw[i:i + 997])
        return expect_default_text(c, text) or (PASS, "echoed")


@case("1.3.1", "unmasked client frame", "a text frame without the MASK bit",
      "RFC 6455 5.1: the server MUST close the connection (MAY send 1002)")
def _(url):
    with connect(url) as c:
        c.send_text("unmasked", mask=False)
        info_frames = []
        try:
            m = c.recv_message(2, collect=info_frames)
            return FAIL, f"unmasked frame accepted and answered: {m.data[:60]!r}"
        except ConnectionClosed as e:
            frame = getattr(e, "frame", None)
            if frame is None:
                return PASS, "TCP closed"
            c.send_close(frame.close_code())
            return (PASS if frame.close_code() == 1002 else NONSTRICT), f"close {frame.close_code()}"


@case("1.3.2", "non-minimal payload length encoding", "5-byte text frame with a 16-bit length, then a 64-bit one",
      "RFC 6455 5.2 requires senders to use the minimal encoding; receivers may accept or fail (no rule)")
def _(url):
    with connect(url) as c:
        c.send_text("abcde", length_encoding="16")
        c.send_text("fghij", length_encoding="64")
        try:
            got = sorted(json.loads(c.recv_message(5).data)["received"] for _ in range(2))
            return INFO, ("accepted (both echoed)" if got == ["abcde", "fghij"] else f"replies {got}")
        except ConnectionClosed as e:
            return INFO, f"failed the connection: {e}"


@case("1.3.3", "64-bit length with the most significant bit set", "text frame header announcing 2^63+5 bytes",
      "RFC 6455 5.2: MSB MUST be 0 -> fail the connection (1002, or 1009 as too big)")
def _(url):
    with connect(url) as c:
        c.send_raw(encode_frame(TEXT, b"", length_encoding="64", declared_length=(1 << 63) + 5))
        return expect_fail(c, {1002, 1009})


# ----------------------------------------------------------------------------------------------------------
# 2 Pings and pongs


def _ping(payload: bytes, chopped: bool = False):
    def fn(url):
        with connect(url) as c:
            raw = encode_frame(PING, payload)
            if chopped:
                for b in raw:
                    c.send_raw(bytes([b]))
            else:
                c.send_raw(raw)
            f = c.recv_frame(2)
            if f.opcode != PONG:
                return FAIL, f"expected a pong, got {f}"
            if f.payload != payload:
                return FAIL, f"pong payload differs ({len(f.payload)} vs {len(payload)} bytes)"
            return still_alive(c) or (PASS, f"pong with the same {len(payload)}-byte payload")
    return fn


case("2.1", "ping without payload", "ping, empty", "RFC 6455 5.5.2/5.5.3: pong with the same (empty) payload")(_ping(b""))
case("2.2", "ping with 125-byte text payload", "ping, 125 bytes of ASCII",
     "pong with identical payload")(_ping(b"P" * 125))
case("2.3", "ping with 125-byte binary payload", "ping, 125 bytes 0x00-0xFF",
     "pong with identical payload")(_ping(bytes(range(125))))
case("2.4", "ping with 1-byte payload", "ping, 1 byte", "pong with identical payload")(_ping(b"\x00"))
case("2.5", "ping written one byte at a time", "ping, 20 bytes, one TCP write per byte",
     "pong with identical payload")(_ping(b"0123456789abcdefghij", chopped=True))


@case("2.6", "ping with 126-byte payload", "ping with 126 bytes",
      "RFC 6455 5.5: control frames MUST be <=125 bytes -> fail the connection, close 1002")
def _(url):
    with connect(url) as c:
        c.send_frame(PING, b"x" * 126)
        return expect_fail(c, {1002})


@case("2.7", "unsolicited pongs are ignored", "pong (empty), pong (with payload), then an echo message",
      "RFC 6455 5.5.3: unsolicited pong needs no response; connection stays open")
def _(url):
    with connect(url) as c:
        c.send_frame(PONG, b"")
        c.send_frame(PONG, b"unsolicited")
        return still_alive(c) or (PASS, "ignored; echo still works")


@case("2.8", "unsolicited pong then ping", "pong 'unsolicited', then ping 'ping'",
      "exactly one pong, payload 'ping'")
def _(url):
    with connect(url) as c:
        c.send_frame(PONG, b"unsolicited")
        c.send_frame(PING, b"ping")
        f = c.recv_frame(2)
        if f.opcode != PONG or f.payload != b"ping":
            return FAIL, f"got {f}"
        try:
            extra = c.recv_frame(0.3)
            return FAIL, f"unexpected extra frame {extra}"
        except Timeout:
            return PASS, "one pong 'ping'"


@case("2.9", "10 pings in a row", "10 pings with distinct payloads, written at once",
      "pongs echo the payloads in order; RFC 6455 5.5.3 allows answering only the most recent one")
def _(url):
    with connect(url) as c:
        payloads = [f"payload-{i}".encode() for i in range(10)]
        c.send_raw(b"".join(encode_frame(PING, p) for p in payloads))
        got = []
        try:
            while len(got) < 10:
                f = c.recv_frame(1)
                if f.opcode != PONG:
                    return FAIL, f"unexpected {f}"
                got.append(f.payload)
        except Timeout:
            pass
        if got == payloads:
            return PASS, "10 pongs in order"
        if got and got[-1] == payloads[-1] and all(p in payloads for p in got):
            return PASS, f"{len(got)} pongs, last one for the last ping (allowed)"
        return FAIL, f"pongs {got}"


# ----------------------------------------------------------------------------------------------------------
# 3 Reserved bits (no extension negotiated)


@case("3.1", "text with RSV1 (no extension)", "text frame with RSV1 set",
      "RFC 6455 5.2: MUST fail the connection -> close 1002")
def _(url):
    with connect(url) as c:
        c.send_text("rsv1", rsv1=True)
        return expect_fail(c, {1002})


@case("3.2", "valid text, then text with RSV2, then ping", "echo message; text with RSV2; ping",
      "echo answered, then close 1002; no pong after the failure")
def _(url):
    with connect(url) as c:
        c.send_text("first")
        c.send_text("rsv2", rsv2=True)
        c.send_frame(PING, b"after")
        try:
            r = expect_default_text(c, "first")
        except ConnectionClosed as e:
            frame = getattr(e, "frame", None)
            if frame is None or frame.close_code() != 1002:
                raise
            # Autobahn 3.2 grades this NON-STRICT: the server failed the connection before answering the
            # (valid, earlier) message; RFC 6455 does not require the answer
            status, detail = expect_fail_after_close(c, frame, {1002})
            return (NONSTRICT if status == PASS else status), "failed before answering the first message: " + detail
        if r:
            return r
        return expect_fail(c, {1002})


@case("3.3", "text with RSV3", "text frame with RSV3", "close 1002")
def _(url):
    with connect(url) as c:
        c.send_text("rsv3", rsv3=True)
        return expect_fail(c, {1002})


@case("3.4", "binary with RSV1+RSV3", "binary frame with RSV=5", "close 1002")
def _(url):
    with connect(url) as c:
        c.send_binary(b"\x00\xff", rsv1=True, rsv3=True)
        return expect_fail(c, {1002})


@case("3.5", "ping with RSV2+RSV3", "ping frame with RSV=3 (Autobahn 3.6 style)",
      "RFC 6455 5.2: MUST fail -> close 1002 (no pong)")
def _(url):
    with connect(url) as c:
        c.send_frame(PING, b"rsv", rsv2=True, rsv3=True)
        return expect_fail(c, {1002})


@case("3.6", "pong with RSV1", "pong frame with RSV1 (no extension)", "close 1002")
def _(url):
    with connect(url) as c:
        c.send_frame(PONG, b"rsv", rsv1=True)
        return expect_fail(c, {1002})


@case("3.7", "close with RSV=7", "close frame 1000 with all RSV bits set", "close 1002")
def _(url):
    with connect(url) as c:
        c.send_close(1000, rsv1=True, rsv2=True, rsv3=True)
        return expect_fail(c, {1002})


# ----------------------------------------------------------------------------------------------------------
# 4 Reserved opcodes


def _opcode(op):
    def fn(url):
        with connect(url) as c:
            c.send_text("before")
            r = expect_default_text(c, "before")
            if r:
                return r
            c.send_frame(op, b"reserved")
            c.send_frame(PING, b"after")
            return expect_fail(c, {1002})
    return fn


for op in [3, 4, 5, 6, 7, 0xB, 0xC, 0xD, 0xE, 0xF]:
    kind = "non-control" if op < 8 else "control"
    case(f"4.{op:X}", f"reserved {kind} opcode {op:#x}", f"echo message, then a frame with opcode {op:#x}, then ping",
         "RFC 6455 5.2: MUST fail -> echo answered, then close 1002")(_opcode(op))


# ----------------------------------------------------------------------------------------------------------
# 5 Fragmentation


@case("5.1", "fragmented ping", "ping with FIN=0, then continuation with FIN=1",
      "RFC 6455 5.4/5.5: control frames MUST NOT be fragmented -> close 1002")
def _(url):
    with connect(url) as c:
        c.send_frame(PING, b"frag", fin=False)
        c.send_frame(CONT, b"ment", fin=True)
        return expect_fail(c, {1002})


@case("5.2", "fragmented pong", "pong with FIN=0, then continuation", "close 1002")
def _(url):
    with connect(url) as c:
        c.send_frame(PONG, b"frag", fin=False)
        c.send_frame(CONT, b"ment", fin=True)
        return expect_fail(c, {1002})


def _fragments(chunks: list[str], *, interleave: bytes | None = None, kind: str = "", chopped: bool = False):
    def fn(url):
        with connect(url) as c:
            raw = b""
            for i, chunk in enumerate(chunks):
                raw += encode_frame(TEXT if i == 0 else CONT, chunk.encode(), fin=(i == len(chunks) - 1))
                if interleave is not None and i < len(chunks) - 1:
                    raw += encode_frame(PING if kind == "ping" else PONG, interleave)
            if chopped:
                for i in range(0, len(raw), 1):
                    c.send_raw(raw[i:i + 1])
            else:
                c.send_raw(raw)
            collected = []
            text = "".join(chunks)
            m = c.recv_message(5, collect=collected)
            reply = json.loads(m.data)
            if reply.get("received") != text:
                return FAIL, f"got {str(reply)[:100]}"
            if kind == "ping":
                pongs = [f for f in collected if f.opcode == PONG]
                if not pongs:
                    try:
                        f = c.recv_frame(0.5)
                        pongs = [f] if f.opcode == PONG else []
                    except Timeout:
                        pass
                if not pongs or any(p.payload != interleave for p in pongs):
                    return FAIL, "no matching pong for the interleaved ping"
            return PASS, f"{len(chunks)} fragments echoed as one message"
    return fn


case("5.3", "text in 2 fragments", "text FIN=0 'frag', continuation FIN=1 'ment'",
     "RFC 6455 5.4: one message 'fragment'")(_fragments(["frag", "ment"]))
case("5.4", "text in 2 fragments, ping in between", "text FIN=0, ping, continuation FIN=1",
     "RFC 6455 5.4: control frames MAY be injected; pong + one message")(
    _fragments(["frag", "ment"], interleave=b"between", kind="ping"))
case("5.5", "text in 3 fragments, pong in between", "text, pong, cont, pong, cont",
     "unsolicited pongs ignored; one message")(_fragments(["a", "b", "c"], interleave=b"unsolicited", kind="pong"))
case("5.6", "text in 3 fragments with pings, byte by byte", "as 5.4 with 3 fragments, one TCP write per byte",
     "pongs + one message")(_fragments(["frag", "men", "ted"], interleave=b"p", kind="ping", chopped=True))
case("5.7", "text with empty fragments", "text FIN=0 '', cont 'abc', cont '', cont FIN=1 ''",
     "one message 'abc'")(_fragments(["", "abc", "", ""]))
case("5.8", "text in 200 fragments", "200 fragments of 10 bytes",
     "one 2000-byte message")(_fragments([f"{i:09d}-" for i in range(200)]))


@case("5.9", "continuation without a started message (FIN=1)", "continuation frame FIN=1",
      "RFC 6455 5.4 -> fail, close 1002")
def _(url):
    with connect(url) as c:
        c.send_frame(CONT, b"orphan", fin=True)
        return expect_fail(c, {1002})


@case("5.10", "continuation without a started message (FIN=0)", "continuation FIN=0, then text FIN=1",
      "fail, close 1002")
def _(url):
    with connect(url) as c:
        c.send_frame(CONT, b"orphan", fin=False)
        c.send_text("text")
        return expect_fail(c, {1002})


@case("5.11", "new text message inside a fragmented one", "text FIN=0, then text FIN=1",
      "RFC 6455 5.4: fragments of one message can't interleave with another -> close 1002")
def _(url):
    with connect(url) as c:
        c.send_frame(TEXT, b"start", fin=False)
        c.send_frame(TEXT, b"again", fin=True)
        return expect_fail(c, {1002})


@case("5.12", "binary message in 3 fragments", "binary FIN=0, cont, cont FIN=1", "one binary message")
def _(url):
    with connect(url) as c:
        data = os.urandom(3000)
        for i, chunk in enumerate(split(data, 3)):
            c.send_frame(BINARY if i == 0 else CONT, chunk, fin=(i == 2))
        return expect_default_binary(c, data) or (PASS, "3 fragments echoed as one binary message")


@case("5.13", "fragmented message over maxMessageSize", "text in 2 fragments of 40000 bytes (total > 64KiB)",
      "close 1009 (documented: the limit applies to reassembled messages)")
def _(url):
    with connect(url) as c:
        c.send_frame(TEXT, b"a" * 40000, fin=False)
        c.send_frame(CONT, b"a" * 40000, fin=True)
        return expect_fail(c, {1009})


@case("5.14", "close inside a fragmented message", "text FIN=0, then close 1000",
      "RFC 6455 5.4/5.5: control frames may come between fragments -> normal close answer")
def _(url):
    with connect(url) as c:
        c.send_frame(TEXT, b"start", fin=False)
        c.send_close(1000)
        return expect_normal_close(c, {1000})


# ----------------------------------------------------------------------------------------------------------
# 6 UTF-8

VALID_TEXTS = {
    "6.1.1": ("ascii and 2-byte", "Hello-\u00b5@\u00df\u00f6\u00e4\u00fc\u00e0\u00e1-UTF-8!!"),
    "6.1.2": ("greek kosme", "\u03ba\u1f79\u03c3\u03bc\u03b5"),
    "6.1.3": ("4-byte (emoji, U+10FFFF)", "\U0001F600 \U0010FFFF \U00010000"),
    "6.1.4": ("boundaries U+007F U+0080 U+07FF U+0800 U+FFFF", "\u007f\u0080\u07ff\u0800\uffff\ufffd"),
    "6.1.5": ("BOM and NUL", "\ufeff\u0000x"),
}

for cid, (label, text) in VALID_TEXTS.items():
    def _valid(url, text=text):
        with connect(url) as c:
            c.send_text(text.encode("utf-8"))
            return expect_default_text(c, text) or (PASS, f"{len(text.encode())} bytes echoed")
    case(cid, f"valid UTF-8: {label}", "one text frame", "RFC 6455 8.1: valid UTF-8 is accepted; echo equal")(_valid)


@case("6.2.1", "valid UTF-8 split inside code points", "'\u03ba\u1f79\u03c3\u03bc\u03b5\U0001F600' as one fragment per byte",
      "fragments may split a code point (validation is per message) -> echo equal")
def _(url):
    with connect(url) as c:
        text = "\u03ba\u1f79\u03c3\u03bc\u03b5\U0001F600"
        raw = text.encode()
        for i, b in enumerate(raw):
            c.send_frame(TEXT if i == 0 else CONT, bytes([b]), fin=(i == len(raw) - 1))
        return expect_default_text(c, text) or (PASS, f"{len(raw)} one-byte fragments echoed")


INVALID = {
    "6.3.1": ("lone continuation byte", b"abc\x80def"),
    "6.3.2": ("overlong '/' (C0 AF)", b"\xc0\xaf"),
    "6.3.3": ("UTF-16 surrogate (ED A0 80)", b"\xed\xa0\x80"),
    "6.3.4": ("beyond U+10FFFF (F4 90 80 80)", b"\xf4\x90\x80\x80"),
    "6.3.5": ("byte FF", b"\xce\xba\xff"),
    "6.3.6": ("truncated 4-byte sequence at end", b"ok\xf0\x9f\x98"),
    "6.3.7": ("kosme with invalid tail", "\u03ba\u1f79\u03c3\u03bc\u03b5".encode() + b"\xed\xa0\x80edited"),
}

for cid, (label, payload) in INVALID.items():
    def _invalid(url, payload=payload):
        with connect(url) as c:
            c.send_text(payload)
            return expect_fail(c, {1007}, nonstrict={1002})
    case(cid, f"invalid UTF-8: {label}", f"one text frame {payload!r}",
         "RFC 6455 8.1: MUST fail; close 1007 (7.4.1) [1002: non-strict]")(_invalid)


@case("6.4.1", "invalid UTF-8 split across fragments", "text FIN=0 valid 'κόσμε', continuation FIN=1 with ED A0 80",
      "close 1007")
def _(url):
    with connect(url) as c:
        c.send_frame(TEXT, "\u03ba\u1f79\u03c3\u03bc\u03b5".encode(), fin=False)
        c.send_frame(CONT, b"\xed\xa0\x80edited", fin=True)
        return expect_fail(c, {1007}, nonstrict={1002})


@case("6.4.2", "multi-byte code point truncated by the last fragment", "text FIN=0 'ab\\xf0\\x9f', cont FIN=1 '\\x98'",
      "close 1007 (message ends inside a code point)")
def _(url):
    with connect(url) as c:
        c.send_frame(TEXT, b"ab\xf0\x9f", fin=False)
        c.send_frame(CONT, b"\x98", fin=True)
        return expect_fail(c, {1007}, nonstrict={1002})


@case("6.4.3", "fail fast on invalid UTF-8 in an unfinished message",
      "text FIN=0 with C0 AF, message never finished",
      "INFO: RFC 6455 8.1 lets the server fail as soon as it sees invalid bytes (Autobahn 6.4.x 'fail fast')")
def _(url):
    with connect(url) as c:
        c.send_frame(TEXT, b"abc\xc0\xaf", fin=False)
        status, detail = expect_fail(c, {1007}, nonstrict={1002}, timeout=1.0)
        return INFO, ("fails fast: " if status != FAIL else "waits for the end of the message: ") + detail


@case("6.5", "binary message with invalid UTF-8 bytes", "binary frame ED A0 80 FF",
      "binary is not validated: echoed")
def _(url):
    with connect(url) as c:
        data = b"\xed\xa0\x80\xff"
        c.send_binary(data)
        return expect_default_binary(c, data) or (PASS, "echoed")


# ----------------------------------------------------------------------------------------------------------
# 7 Close handling


@case("7.1.1", "close without payload", "close frame, empty",
      "RFC 6455 5.5.1: server MUST answer with a close frame (empty or 1000) and close TCP")
def _(url):
    with connect(url) as c:
        c.send_close(None)
        return expect_normal_close(c, {None, 1000})


@case("7.1.2", "close 1000 with reason", "close 1000 'bye'", "close frame (1000) back, TCP closed")
def _(url):
    with connect(url) as c:
        c.send_close(1000, "bye")
        return expect_normal_close(c, {1000})


@case("7.1.3", "data after close is ignored", "close 1000, then a text message",
      "RFC 6455 1.4/5.5.1: no reply to the message; close frame back, TCP closed")
def _(url):
    with connect(url) as c:
        c.send_close(1000)
        c.send_text("after close")
        return expect_normal_close(c, {1000})


@case("7.1.4", "ping after close", "close 1000, then ping",
      "close frame back; no pong after the server's close (Autobahn 7.1.3)")
def _(url):
    with connect(url) as c:
        c.send_close(1000)
        c.send_frame(PING, b"after close")
        info = c.expect_close(2, reply=False)
        pongs = [f for f in info.frames_before if f.opcode == PONG]
        if info.close_frame is None or info.code != 1000 or not info.eof:
            return FAIL, info.describe()
        return (NONSTRICT if pongs else PASS), info.describe() + (" (pong sent before the close)" if pongs else "")


@case("7.1.5", "close twice", "close 1000, close 1000",
      "one close frame back, TCP closed")
def _(url):
    with connect(url) as c:
        c.send_close(1000)
        c.send_close(1000)
        return expect_normal_close(c, {1000})


@case("7.2.1", "close with 1-byte payload", "close frame with payload 0x03",
      "RFC 6455 5.5.1: body MUST start with a 2-byte code -> close 1002")
def _(url):
    with connect(url) as c:
        c.send_frame(CLOSE, b"\x03")
        return expect_fail(c, {1002})


@case("7.2.2", "close with 123-byte reason", "close 1000 + 123 bytes of reason (payload 125)",
      "close frame back, TCP closed")
def _(url):
    with connect(url) as c:
        c.send_close(1000, "r" * 123)
        return expect_normal_close(c, {1000})


@case("7.2.3", "close with 124-byte reason", "close 1000 + 124 bytes (payload 126)",
      "RFC 6455 5.5: control frame too long -> close 1002")
def _(url):
    with connect(url) as c:
        c.send_close(1000, "r" * 124)
        return expect_fail(c, {1002})


VALID_CODES = [1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 3000, 3999, 4000, 4999]
for i, code in enumerate(VALID_CODES, 1):
    def _valid_code(url, code=code):
        with connect(url) as c:
            c.send_close(code, "ok")
            return expect_normal_close(c, {1000, code})
    case(f"7.3.{i}", f"close with valid code {code}", f"close {code} 'ok'",
         "RFC 6455 7.4: valid code -> close frame back (1000 or the same code), TCP closed")(_valid_code)

for i, code in enumerate([1012, 1013, 1014], 1):
    def _iana_code(url, code=code):
        with connect(url) as c:
            c.send_close(code, "iana")
            info = c.expect_close(2, reply=False)
            return INFO, info.describe()
    case(f"7.4.{i}", f"close with IANA-registered code {code}", f"close {code}",
         "INFO: registered after RFC 6455 (IANA); echo or 1002 are both seen in practice")(_iana_code)

INVALID_CODES = [0, 999, 1004, 1005, 1006, 1015, 1016, 1100, 2000, 2999, 5000, 65535]
for i, code in enumerate(INVALID_CODES, 1):
    def _invalid_code(url, code=code):
        with connect(url) as c:
            c.send_close(code, "bad")
            return expect_fail(c, {1002})
    case(f"7.5.{i}", f"close with invalid code {code}", f"close {code} 'bad'",
         "RFC 6455 7.4.1/7.4.2: code not allowed on the wire -> close 1002")(_invalid_code)


@case("7.6.1", "close reason is invalid UTF-8", "close 1000 with reason 'κόσμε' + ED A0 80",
      "RFC 6455 5.5.1/8.1: reason is UTF-8, invalid -> fail: close 1007 (or 1002, as Autobahn 7.5.1 accepts)")
def _(url):
    with connect(url) as c:
        c.send_frame(CLOSE, close_payload(1000, "\u03ba\u1f79\u03c3\u03bc\u03b5".encode() + b"\xed\xa0\x80edited"))
        return expect_fail(c, {1007, 1002})


@case("7.7.1", "server closes TCP when the client never answers (library-detected error)",
      "reserved opcode 0x3; then never answer the server's close",
      "RFC 6455 7.1.7: MUST _Close the WebSocket Connection_ (TCP) - within 7 s here")
def _(url):
    with connect(url) as c:
        c.send_frame(3, b"x")
        info = c.expect_close(2, reply=False, eof_timeout=7)
        if info.close_frame is None and not info.eof:
            return FAIL, info.describe()
        return (PASS if info.eof else FAIL), info.describe()


@case("7.7.2", "server closes TCP when the client never answers (gateway-detected error)",
      "invalid UTF-8 text; then never answer the server's close",
      "RFC 6455 7.1.7: TCP closed (the gateway documents a 5 s close timeout) - within 8 s here")
def _(url):
    with connect(url) as c:
        c.send_text(b"\xff")
        info = c.expect_close(2, reply=False, eof_timeout=8)
        return (PASS if info.eof and info.close_frame is not None else FAIL), info.describe()


# ----------------------------------------------------------------------------------------------------------
# 9 Limits and performance (kept small: the whole suite should run in well under a minute)


def _pipeline(count: int, size: int, *, binary: bool = False, fragments: int = 1, timeout: float = 20.0):
    def fn(url):
        with connect(url) as c:
            start = time.monotonic()
            sent = []
            raw = bytearray()
            for i in range(count):
                prefix = f"{i:06d}:".encode()
                body = prefix + bytes([0x61 + i % 26]) * max(0, size - len(prefix))
                sent.append(body)
                chunks = split(body, fragments)
                for j, chunk in enumerate(chunks):
                    raw += encode_frame((BINARY if binary else TEXT) if j == 0 else CONT, chunk,
                                        fin=(j == len(chunks) - 1))
                if len(raw) > 1 << 20:
                    c.send_raw(bytes(raw))
                    raw.clear()
            c.send_raw(bytes(raw))
            got = []
            deadline = start + timeout
            while len(got) < count:
                m = c.recv_message(max(0.1, deadline - time.monotonic()))
                received = json.loads(m.data)["received"]
                got.append(base64.b64decode(received) if binary else received.encode())
            elapsed = time.monotonic() - start
            if sorted(got) != sorted(sent):
                return FAIL, "replies do not match the messages sent"
            order = "in order" if got == sent else "reordered (the gateway documents up to 16 in flight)"
            mib = count * size / (1 << 20)
            return PASS, f"{count} x {size} B echoed, {order}, {elapsed:.2f}s ({mib / elapsed:.1f} MiB/s up)"
    return fn


case("9.1.1", "1000 small text messages pipelined", "1000 x 16-byte text, written at once",
     "every message answered exactly once")(_pipeline(1000, 16))
case("9.1.2", "100 x 16KiB text pipelined", "100 x 16384-byte text", "all answered")(_pipeline(100, 16384))
case("9.1.3", "20 x 64KiB text (at the limit)", "20 x 65536-byte text", "all answered")(_pipeline(20, 65536))
case("9.2.1", "20 x 64KiB binary (at the limit)", "20 x 65536-byte binary",
     "all answered")(_pipeline(20, 65536, binary=True))
case("9.3.1", "20 x 64KiB text in 64 fragments each", "20 messages, 64 x 1KiB fragments",
     "all answered")(_pipeline(20, 65536, fragments=64))
case("9.3.2", "200 x 4KiB binary in 4 fragments each", "200 messages of 4 fragments",
     "all answered")(_pipeline(200, 4096, binary=True, fragments=4))


@case("9.4.1", "sequential echo round trips", "200 echo messages, one at a time",
      "each answered before the next is sent")
def _(url):
    with connect(url) as c:
        start = time.monotonic()
        for i in range(200):
            r = echo_json(c, f"msg {i}")
            if r:
                return r
        elapsed = time.monotonic() - start
        return PASS, f"200 round trips, {elapsed * 1000 / 200:.2f} ms each"


# ----------------------------------------------------------------------------------------------------------
# 12-13 permessage-deflate (RFC 7692)

DEFLATE = "permessage-deflate"


def _deflate_connect(url, offer=DEFLATE):
    c = connect(url, extensions=offer)
    if c.deflate is None:
        c.close()
        raise ProtocolViolation(f"permessage-deflate not accepted (offer {offer!r}, response "
                                f"{c.headers.get('sec-websocket-extensions')!r})")
    return c


@case("12.1.1", "permessage-deflate negotiated", f"offer '{DEFLATE}'",
      "RFC 7692 5/7: response accepts permessage-deflate with valid parameters only")
def _(url):
    with connect(url, extensions=DEFLATE) as c:
        ext = c.headers.get("sec-websocket-extensions")
        if c.deflate is None:
            return FAIL, f"not negotiated (response {ext!r})"
        bad = [k for k in c.deflate.params if k not in (
            "server_no_context_takeover", "client_no_context_takeover", "server_max_window_bits",
            "client_max_window_bits")]
        if bad or "client_max_window_bits" in c.deflate.params:  # not offered -> MUST NOT be in the response
            return FAIL, f"invalid response parameters: {ext!r}"
        return PASS, f"response {ext!r}"


def _compressed_echo(offer: str, sizes: list[int], *, binary: bool = False, fragments: int = 1,
                     big_refs: bool = False):
    def fn(url):
        with _deflate_connect(url, offer) as c:
            compressed_replies = 0
            for i, n in enumerate(sizes):
                if big_refs:
                    # a random block repeated after > 512 bytes: a back-reference only a large window can use
                    block = base64.b64encode(os.urandom(600)).decode()[:n // 2]
                    text = (block * 2)[:n]
                else:
                    text = (f"message {i} " + "compress me " * (n // 12 + 1))[:n]
                if binary:
                    data = text.encode()
                    c.send_compressed(BINARY, data, fragments=fragments)
                    r = expect_default_binary(c, data)
                else:
                    c.send_compressed(TEXT, text, fragments=fragments)
                    m = c.recv_message(5)
                    compressed_replies += m.compressed
                    reply = json.loads(m.data)
                    r = None if reply.get("received") == text else (FAIL, f"echo differs for message {i}")
                if r:
                    return r
            ext = c.headers.get("sec-websocket-extensions")
            return PASS, f"{len(sizes)} messages echoed; {compressed_replies} compressed replies; response {ext!r}"
    return fn


case("12.1.2", "compressed text echoed (context takeover)", "20 compressed text messages, 16..8000 bytes",
     "RFC 7692 7.2: messages inflated correctly; server replies decodable")(
    _compressed_echo(DEFLATE, [16, 64, 256, 1000, 4000, 8000] * 3 + [300, 300]))
case("12.1.3", "compressed binary echoed", "10 compressed binary messages",
     "echo equal")(_compressed_echo(DEFLATE, [10, 100, 1000, 5000, 20000] * 2, binary=True))
case("12.1.4", "compressed message in fragments", "compressed text in 5 frames, RSV1 only on the first",
     "RFC 7692 6.1: one compressed message")(_compressed_echo(DEFLATE, [5000, 20000, 40000], fragments=5))
case("12.1.5", "large compressed replies (fragmented by the server)", "compressed 40000-byte texts",
     "server replies > 16KiB are fragmented: RSV1 must be on the first frame only")(
    _compressed_echo(DEFLATE, [40000, 60000]))

for i, offer in enumerate([
    f"{DEFLATE}; client_no_context_takeover",
    f"{DEFLATE}; server_no_context_takeover",
    f"{DEFLATE}; client_no_context_takeover; server_no_context_takeover",
], 1):
    def _ctx(url, offer=offer):
        with _deflate_connect(url, offer) as c:
            params = c.deflate.params
            if "server_no_context_takeover" in offer and "server_no_context_takeover" not in params:
                return FAIL, (f"RFC 7692 7.1.1.1: a server accepting server_no_context_takeover MUST include it; "
                              f"response {c.headers.get('sec-websocket-extensions')!r}")
        return _compressed_echo(offer, [300, 2000, 2000, 5000, 5000, 300], big_refs=False)(url)
    case(f"13.1.{i}", f"offer {offer.split('; ', 1)[1]}", f"offer '{offer}', 6 compressed messages",
         "accepted with the parameter(s); each message decodable on its own where agreed")(_ctx)

for i, bits in enumerate([9, 12, 15], 1):
    def _sbits(url, bits=bits):
        offer = f"{DEFLATE}; server_max_window_bits={bits}"
        c = connect(url, extensions=offer)
        with c:
            if c.deflate is None:
                return INFO, f"offer declined (allowed): {c.headers.get('sec-websocket-extensions')!r}"
            got = c.deflate.params.get("server_max_window_bits")
            if got in (None, True) or not 8 <= int(got) <= bits:
                return FAIL, f"RFC 7692 7.1.2.1: response must carry server_max_window_bits <= {bits}, got {got!r}"
        return _compressed_echo(offer, [3000, 3000, 8000], big_refs=True)(url)
    case(f"13.2.{i}", f"offer server_max_window_bits={bits}", f"offer '{DEFLATE}; server_max_window_bits={bits}'",
         f"decline, or accept with server_max_window_bits<={bits} and compress within that window "
         "(replies inflated with exactly that window)")(_sbits)


@case("13.2.4", "offer server_max_window_bits=8", f"offer '{DEFLATE}; server_max_window_bits=8'",
      "RFC 7692 7.1.2.1: decline the offer or accept with 8 (handshake must still succeed)", dangerous=True)
def _(url):
    offer = f"{DEFLATE}; server_max_window_bits=8"
    try:
        c = connect(url, extensions=offer)
    except HandshakeError as e:
        return FAIL, f"handshake refused with HTTP {e.status} (RFC 7692: decline the offer instead)"
    except ConnectionClosed as e:
        return FAIL, f"connection dropped during the handshake ({e}); RFC 7692: decline the offer instead"
    with c:
        if c.deflate is None:
            return PASS, "offer declined"
        return _compressed_echo(offer, [300, 3000])(url)


for i, bits in enumerate(["", "=9", "=12", "=15", "=8"], 1):
    def _cbits(url, bits=bits):
        offer = f"{DEFLATE}; client_max_window_bits{bits}"
        try:
            c = connect(url, extensions=offer)
        except HandshakeError as e:
            return FAIL, f"handshake refused with HTTP {e.status}"
        with c:
            if c.deflate is None:
                return INFO, "offer declined (allowed)"
            got = c.deflate.params.get("client_max_window_bits")
            if got not in (None, True) and bits and int(got) > int(bits[1:]):
                return FAIL, f"response client_max_window_bits={got} exceeds the offer"
        # short messages with a fresh context each: no reference can reach past 256 bytes (see wsframes.Deflate)
        sizes = [200, 250, 200] if bits == "=8" else [300, 3000, 3000]
        return _compressed_echo(offer, sizes)(url)
    label = f"client_max_window_bits{bits}"
    case(f"13.3.{i}", f"offer {label}", f"offer '{DEFLATE}; {label}'",
         "accepted (client_max_window_bits in the response <= offer, or absent) and compressed echo works")(_cbits)


@case("13.4.1", "RSV1 on a ping with deflate", "ping with RSV1 after negotiating permessage-deflate",
      "RFC 7692 6: RSV1 MUST NOT be set on control frames; receiver MUST fail -> close 1002")
def _(url):
    with _deflate_connect(url) as c:
        c.send_frame(PING, b"rsv1", rsv1=True)
        return expect_fail(c, {1002})


@case("13.4.2", "RSV1 on a continuation frame", "compressed text frame FIN=0 (RSV1), continuation with RSV1",
      "RFC 7692 6: RSV1 MUST NOT be set on non-first fragments; receiver MUST fail -> close 1002")
def _(url):
    with _deflate_connect(url) as c:
        body = c.deflate.compress(b"hello hello hello hello", fresh=True)
        a, b = body[: len(body) // 2], body[len(body) // 2:]
        c.send_frame(TEXT, a, fin=False, rsv1=True)
        c.send_frame(CONT, b, fin=True, rsv1=True)
        return expect_fail(c, {1002})


@case("13.4.3", "RSV2 with deflate negotiated", "text frame with RSV2 (deflate only defines RSV1)", "close 1002")
def _(url):
    with _deflate_connect(url) as c:
        c.send_text("x", rsv2=True)
        return expect_fail(c, {1002})


@case("13.4.4", "corrupt deflate data", "text frame with RSV1 and bytes that are not a deflate stream",
      "RFC 7692: the message can't be inflated -> fail the connection (1002/1007; other error code non-strict)")
def _(url):
    with _deflate_connect(url) as c:
        c.send_frame(TEXT, b"\xff\xff\xff\xff\xff\xff", rsv1=True)
        return expect_fail(c, {1002, 1007}, nonstrict={1003, 1008, 1011})


@case("13.4.5", "compressed invalid UTF-8", "compressed text that inflates to ED A0 80",
      "RFC 6455 8.1 applies to the inflated text -> close 1007")
def _(url):
    with _deflate_connect(url) as c:
        c.send_compressed(TEXT, b"abc\xed\xa0\x80")
        return expect_fail(c, {1007}, nonstrict={1002})


@case("13.5.1", "compressed message inflating to exactly maxMessageSize", "compressed 65536-byte text",
      "accepted (limit is inclusive, as for uncompressed 1.1.6)")
def _(url):
    with _deflate_connect(url) as c:
        text = "z" * MAX_MESSAGE
        c.send_compressed(TEXT, text)
        return expect_default_text(c, text) or (PASS, "echoed")


@case("13.5.2", "compressed message inflating past maxMessageSize", "compressed 70000-byte text (~100 bytes on the wire)",
      "close 1009 (documented)")
def _(url):
    with _deflate_connect(url) as c:
        c.send_compressed(TEXT, "z" * 70000)
        return expect_fail(c, {1009})


@case("13.5.3", "compressed fragmented message inflating past the limit", "compressed 2 x 40000 bytes in 2 frames",
      "close 1009 (each frame < limit, whole message > limit)")
def _(url):
    with _deflate_connect(url) as c:
        text = os.urandom(40000).hex()  # 80000 bytes, compresses ~2:1
        c.send_compressed(TEXT, text, fragments=2)
        return expect_fail(c, {1009})


for i, (offer, label) in enumerate([
    (f"{DEFLATE}; server_max_window_bits=20", "invalid server_max_window_bits=20"),
    (f"{DEFLATE}; foo=1", "unknown parameter"),
    (f"{DEFLATE}; server_no_context_takeover; server_no_context_takeover", "duplicate parameter"),
    (f"{DEFLATE}; server_no_context_takeover=1", "value on a value-less parameter"),
    (f"{DEFLATE}; server_max_window_bits=abc", "non-numeric server_max_window_bits"),
    (f"{DEFLATE}; server_max_window_bits=16", "invalid server_max_window_bits=16"),
    (f"{DEFLATE}; client_max_window_bits=20", "invalid client_max_window_bits=20"),
], 1):
    def _bad_offer(url, offer=offer):
        try:
            c = connect(url, extensions=offer)
        except HandshakeError as e:
            return NONSTRICT, f"handshake refused with HTTP {e.status} (RFC 7692 7: the offer should just be declined)"
        except ConnectionClosed as e:
            return FAIL, f"connection dropped during the handshake: {e}"
        with c:
            ext = c.headers.get("sec-websocket-extensions")
            if c.deflate is not None:
                return FAIL, f"RFC 7692 7: MUST decline an invalid offer, but accepted it: {ext!r}"
            return still_alive(c) or (PASS, "declined; connection works uncompressed")
    case(f"13.6.{i}", f"invalid offer: {label}", f"offer '{offer}'",
         "RFC 7692 7: server MUST decline this offer (no permessage-deflate in the response)",
         dangerous="window_bits=" in offer and "abc" not in offer)(_bad_offer)


@case("13.6.8", "invalid offer followed by a valid one", f"offer '{DEFLATE}; foo=1, {DEFLATE}'",
      "RFC 7692 5: server declines the first and may accept the second")
def _(url):
    try:
        c = connect(url, extensions=f"{DEFLATE}; foo=1, {DEFLATE}")
    except HandshakeError as e:
        return NONSTRICT, f"handshake refused with HTTP {e.status}"
    with c:
        ext = c.headers.get("sec-websocket-extensions")
        if c.deflate is not None and "foo" in c.deflate.params:
            return FAIL, f"accepted the invalid offer: {ext!r}"
        return still_alive(c) or (PASS, f"response {ext!r}")


@case("13.6.9", "unknown extension", "offer 'x-webkit-unknown; a=1'",
      "RFC 6455 9.1: server must not accept an extension it does not support")
def _(url):
    with connect(url, extensions="x-webkit-unknown; a=1") as c:
        ext = c.headers.get("sec-websocket-extensions")
        if ext:
            return FAIL, f"response {ext!r}"
        return still_alive(c) or (PASS, "not accepted; connection works")


def select(prefix: str | None) -> list[Case]:
    if not prefix:
        return list(CASES)
    return [c for c in CASES if c.id == prefix or c.id.startswith(prefix.rstrip(".") + ".")]
