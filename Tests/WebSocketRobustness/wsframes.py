"""A minimal RFC 6455 / RFC 7692 WebSocket client over a raw socket, for robustness tests.

Unlike a normal client library it lets a test write *any* frame: arbitrary opcode, RSV bits, FIN,
masking (or none), payload, and length encoding (including non-minimal ones), or raw bytes; and it reads
frames one at a time with a timeout, so a test can observe exactly what the server answers.

Only the standard library is used (socket, zlib, base64, hashlib, os, struct).
"""

from __future__ import annotations

import base64
import hashlib
import os
import socket
import struct
import time
import zlib
from dataclasses import dataclass, field
from urllib.parse import urlsplit

GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

# Opcodes (RFC 6455 section 5.2)
CONT, TEXT, BINARY, CLOSE, PING, PONG = 0x0, 0x1, 0x2, 0x8, 0x9, 0xA
OPCODE_NAMES = {CONT: "cont", TEXT: "text", BINARY: "binary", CLOSE: "close", PING: "ping", PONG: "pong"}

DEFLATE_TAIL = b"\x00\x00\xff\xff"


class HandshakeError(Exception):
    def __init__(self, status: int, headers: dict, body: bytes):
        super().__init__(f"handshake refused: HTTP {status}")
        self.status, self.headers, self.body = status, headers, body


class ConnectionClosed(Exception):
    """The TCP connection was closed (EOF or reset) before the expected data arrived."""


class Timeout(Exception):
    """Nothing (or not enough) arrived within the timeout."""


class ProtocolViolation(Exception):
    """The *server* sent something RFC 6455/7692 forbids (unmasked check, bad RSV, ...)."""


@dataclass
class Frame:
    fin: bool
    rsv1: bool
    rsv2: bool
    rsv3: bool
    opcode: int
    payload: bytes
    masked: bool = False

    @property
    def rsv(self) -> int:
        return (self.rsv1 << 2) | (self.rsv2 << 1) | self.rsv3

    def close_code(self) -> int | None:
        return struct.unpack("!H", self.payload[:2])[0] if len(self.payload) >= 2 else None

    def close_reason(self) -> bytes:
        return self.payload[2:]

    def __repr__(self) -> str:
        name = OPCODE_NAMES.get(self.opcode, hex(self.opcode))
        flags = ("F" if self.fin else "-") + "".join("1" if b else "0" for b in (self.rsv1, self.rsv2, self.rsv3))
        body = self.payload[:40]
        more = "..." if len(self.payload) > 40 else ""
        return f"<{name} {flags} len={len(self.payload)} {body!r}{more}>"


@dataclass
class Message:
    """A complete data message (after reassembly and inflation)."""

    opcode: int  # TEXT or BINARY
    data: bytes
    compressed: bool = False
    frames: int = 1

    def text(self) -> str:
        return self.data.decode("utf-8")


@dataclass
class CloseInfo:
    """What happened when the connection ended."""

    close_frame: Frame | None  # the server's close frame, if one came
    eof: bool  # the server closed TCP
    elapsed: float  # seconds until the close frame (or EOF) was seen
    eof_elapsed: float | None = None  # seconds until EOF
    frames_before: list = field(default_factory=list)  # frames that came before the close

    @property
    def code(self) -> int | None:
        return self.close_frame.close_code() if self.close_frame else None

    @property
    def reason(self) -> bytes:
        return self.close_frame.close_reason() if self.close_frame else b""

    def describe(self) -> str:
        if self.close_frame is None:
            return f"no close frame, {'TCP closed' if self.eof else 'TCP still open'} after {self.elapsed:.2f}s"
        code = self.code if self.code is not None else "none"
        text = f"close {code}"
        if self.reason:
            text += f" {self.reason[:60]!r}"
        if self.eof:
            text += f", TCP closed after {self.eof_elapsed:.2f}s"
        else:
            text += ", TCP still open"
        return text


# ----------------------------------------------------------------------------------------------------------
# Frame encoding / decoding


def encode_frame(
    opcode: int,
    payload: bytes = b"",
    *,
    fin: bool = True,
    rsv1: bool = False,
    rsv2: bool = False,
    rsv3: bool = False,
    mask: bool = True,
    mask_key: bytes | None = None,
    length_encoding: str | None = None,
    declared_length: int | None = None,
) -> bytes:
    """Encodes one frame.

    length_encoding: None (minimal, as RFC 6455 requires), "7", "16" or "64" to force an encoding (a non-minimal
    one is a protocol violation by the sender). declared_length overrides the length written in the header
    (to announce more or less than is sent)."""
    b0 = (0x80 if fin else 0) | (0x40 if rsv1 else 0) | (0x20 if rsv2 else 0) | (0x10 if rsv3 else 0) | (opcode & 0xF)
    length = len(payload) if declared_length is None else declared_length
    enc = length_encoding or ("7" if length <= 125 else "16" if length <= 0xFFFF else "64")
    mbit = 0x80 if mask else 0
    if enc == "7":
        if length > 125:
            raise ValueError("length does not fit in 7 bits")
        header = bytes([b0, mbit | length])
    elif enc == "16":
        header = bytes([b0, mbit | 126]) + struct.pack("!H", length)
    elif enc == "64":
        header = bytes([b0, mbit | 127]) + struct.pack("!Q", length)
    else:
        raise ValueError(enc)
    if not mask:
        return header + payload
    key = mask_key if mask_key is not None else os.urandom(4)
    return header + key + apply_mask(payload, key)


def apply_mask(data: bytes, key: bytes) -> bytes:
    if not data:
        return b""
    n = len(data)
    k = (key * (n // 4 + 1))[:n]
    return (int.from_bytes(data, "big") ^ int.from_bytes(k, "big")).to_bytes(n, "big")


def close_payload(code: int | None = None, reason: bytes | str = b"") -> bytes:
    if code is None:
        return b""
    if isinstance(reason, str):
        reason = reason.encode()
    return struct.pack("!H", code) + reason


# ----------------------------------------------------------------------------------------------------------
# permessage-deflate (RFC 7692)


def parse_extensions(header: str) -> list[tuple[str, dict]]:
    """Parses a Sec-WebSocket-Extensions value into [(name, {param: value-or-True})]."""
    result = []
    for item in header.split(","):
        parts = [p.strip() for p in item.split(";") if p.strip()]
        if not parts:
            continue
        params = {}
        for p in parts[1:]:
            if "=" in p:
                k, v = p.split("=", 1)
                params[k.strip()] = v.strip().strip('"')
            else:
                params[p] = True
        result.append((parts[0], params))
    return result


class Deflate:
    """permessage-deflate state for one connection, from the negotiated parameters."""

    def __init__(self, params: dict):
        self.params = params
        self.server_no_context_takeover = "server_no_context_takeover" in params
        self.client_no_context_takeover = "client_no_context_takeover" in params
        sbits = params.get("server_max_window_bits")
        cbits = params.get("client_max_window_bits")
        self.server_window = int(sbits) if sbits not in (None, True) else 15
        self.client_window = int(cbits) if cbits not in (None, True) else 15
        self._inflater = None
        self._deflater = None

    # zlib cannot make raw deflate streams with an 8-bit window (it refuses windowBits -8); with
    # client_max_window_bits=8 we use 9 and callers keep messages short (< 256 bytes, fresh context)
    # so no back-reference reaches further than 256 bytes.
    def _client_wbits(self) -> int:
        return max(self.client_window, 9)

    def compress(self, data: bytes, *, fresh: bool = False) -> bytes:
        if self._deflater is None or self.client_no_context_takeover or fresh:
            self._deflater = zlib.compressobj(6, zlib.DEFLATED, -self._client_wbits())
        out = self._deflater.compress(data) + self._deflater.flush(zlib.Z_SYNC_FLUSH)
        assert out.endswith(DEFLATE_TAIL)
        return out[:-4]

    def decompress(self, data: bytes, max_size: int = 16 << 20) -> bytes:
        if self._inflater is None or self.server_no_context_takeover:
            # inflate with exactly the negotiated server window, so a server that compresses with a larger
            # window than it agreed to is caught ("invalid distance too far back")
            self._inflater = zlib.decompressobj(-self.server_window)
        out = self._inflater.decompress(data + DEFLATE_TAIL, max_size)
        if self._inflater.unconsumed_tail:
            raise ProtocolViolation("inflated message is larger than max_size")
        return out


# ----------------------------------------------------------------------------------------------------------
# The client


class WSClient:
    """A WebSocket connection. Use connect(); all reads take a timeout and raise Timeout/ConnectionClosed."""

    def __init__(self, sock: socket.socket, response_headers: dict, status: int, leftover: bytes):
        self.sock = sock
        self.headers = response_headers
        self.status = status
        self.buf = bytearray(leftover)
        self.eof = False
        self.deflate: Deflate | None = None
        self.extensions = parse_extensions(response_headers.get("sec-websocket-extensions", ""))
        for name, params in self.extensions:
            if name == "permessage-deflate":
                self.deflate = Deflate(params)
        self.subprotocol = response_headers.get("sec-websocket-protocol")
        self.pongs_sent = 0

    # ---- connecting

    @classmethod
    def connect(
        cls,
        url: str,
        *,
        extensions: str | None = None,
        subprotocols: list[str] | None = None,
        headers: dict | None = None,
        timeout: float = 15.0,
    ) -> "WSClient":
        parts = urlsplit(url)
        if parts.scheme != "ws":
            raise ValueError("only ws:// URLs are supported")
        host = parts.hostname or "127.0.0.1"
        port = parts.port or 80
        path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        sock = socket.create_connection((host, port), timeout=timeout)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        key = base64.b64encode(os.urandom(16)).decode()
        lines = [
            f"GET {path} HTTP/1.1",
            f"Host: {host}:{port}",
            "Upgrade: websocket",
            "Connection: Upgrade",
            f"Sec-WebSocket-Key: {key}",
            "Sec-WebSocket-Version: 13",
        ]
        if extensions:
            lines.append(f"Sec-WebSocket-Extensions: {extensions}")
        if subprotocols:
            lines.append(f"Sec-WebSocket-Protocol: {', '.join(subprotocols)}")
        for k, v in (headers or {}).items():
            lines.append(f"{k}: {v}")
        sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
        data = b""
        deadline = time.monotonic() + timeout
        while b"\r\n\r\n" not in data:
            sock.settimeout(max(0.01, deadline - time.monotonic()))
            try:
                chunk = sock.recv(65536)
            except socket.timeout:
                sock.close()
                raise Timeout("no handshake response")
            if not chunk:
                sock.close()
                raise ConnectionClosed(f"connection closed during handshake (got {data[:200]!r})")
            data += chunk
        head, _, rest = data.partition(b"\r\n\r\n")
        status_line, *header_lines = head.decode("latin-1").split("\r\n")
        status = int(status_line.split()[1])
        resp_headers: dict = {}
        for line in header_lines:
            k, _, v = line.partition(":")
            k = k.strip().lower()
            resp_headers[k] = (resp_headers[k] + ", " + v.strip()) if k in resp_headers else v.strip()
        if status != 101:
            sock.close()
            raise HandshakeError(status, resp_headers, rest)
        expected = base64.b64encode(hashlib.sha1((key + GUID).encode()).digest()).decode()
        if resp_headers.get("sec-websocket-accept") != expected:
            sock.close()
            raise ProtocolViolation("bad Sec-WebSocket-Accept")
        return cls(sock, resp_headers, status, rest)

    # ---- writing

    def send_raw(self, data: bytes) -> None:
        try:
            self.sock.sendall(data)
        except (BrokenPipeError, ConnectionResetError) as e:
            raise ConnectionClosed(str(e))

    def send_frame(self, opcode: int, payload: bytes | str = b"", **kw) -> None:
        if isinstance(payload, str):
            payload = payload.encode()
        self.send_raw(encode_frame(opcode, payload, **kw))

    def send_text(self, text: str | bytes, **kw) -> None:
        self.send_frame(TEXT, text, **kw)

    def send_binary(self, data: bytes, **kw) -> None:
        self.send_frame(BINARY, data, **kw)

    def send_compressed(self, opcode: int, data: bytes | str, *, fragments: int = 1, fresh: bool = False) -> None:
        """Sends one message compressed with the negotiated permessage-deflate, in `fragments` frames
        (RSV1 on the first frame only, as RFC 7692 section 6.1 requires)."""
        assert self.deflate is not None, "permessage-deflate was not negotiated"
        if isinstance(data, str):
            data = data.encode()
        body = self.deflate.compress(data, fresh=fresh)
        chunks = split(body, fragments)
        for i, chunk in enumerate(chunks):
            self.send_frame(
                opcode if i == 0 else CONT, chunk, fin=(i == len(chunks) - 1), rsv1=(i == 0))

    def send_close(self, code: int | None = 1000, reason: bytes | str = b"", **kw) -> None:
        self.send_frame(CLOSE, close_payload(code, reason), **kw)

    # ---- reading

    def _fill(self, n: int, deadline: float) -> None:
        while len(self.buf) < n:
            if self.eof:
                raise ConnectionClosed("EOF")
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise Timeout(f"timed out waiting for {n - len(self.buf)} more bytes")
            self.sock.settimeout(remaining)
            try:
                chunk = self.sock.recv(1 << 20)
            except socket.timeout:
                raise Timeout(f"timed out waiting for {n - len(self.buf)} more bytes")
            except (ConnectionResetError, BrokenPipeError):
                self.eof = True
                raise ConnectionClosed("connection reset")
            if not chunk:
                self.eof = True
                raise ConnectionClosed("EOF")
            self.buf += chunk

    def recv_frame(self, timeout: float = 2.0) -> Frame:
        """Reads one frame exactly as sent. Raises ProtocolViolation for a masked server frame."""
        deadline = time.monotonic() + timeout
        self._fill(2, deadline)
        b0, b1 = self.buf[0], self.buf[1]
        length = b1 & 0x7F
        pos = 2
        if length == 126:
            self._fill(4, deadline)
            length = struct.unpack("!H", self.buf[2:4])[0]
            pos = 4
        elif length == 127:
            self._fill(10, deadline)
            length = struct.unpack("!Q", self.buf[2:10])[0]
            pos = 10
        masked = bool(b1 & 0x80)
        key = b""
        if masked:
            self._fill(pos + 4, deadline)
            key = bytes(self.buf[pos:pos + 4])
            pos += 4
        self._fill(pos + length, deadline)
        payload = bytes(self.buf[pos:pos + length])
        del self.buf[:pos + length]
        if masked:
            payload = apply_mask(payload, key)
        frame = Frame(bool(b0 & 0x80), bool(b0 & 0x40), bool(b0 & 0x20), bool(b0 & 0x10), b0 & 0x0F, payload, masked)
        if masked:
            raise ProtocolViolation(f"server sent a masked frame {frame}")
        return frame

    def recv_message(self, timeout: float = 2.0, *, answer_pings: bool = True, collect: list | None = None) -> Message:
        """Reads the next complete data message, answering pings on the way. Control frames seen on the way
        are appended to `collect`. A close frame raises ConnectionClosed (with the frame as .frame)."""
        deadline = time.monotonic() + timeout
        parts: list[bytes] = []
        first: Frame | None = None
        count = 0
        while True:
            frame = self.recv_frame(max(0.0, deadline - time.monotonic()))
            if frame.opcode >= 0x8:
                if collect is not None:
                    collect.append(frame)
                if frame.opcode == PING and answer_pings:
                    self.send_frame(PONG, frame.payload)
                    self.pongs_sent += 1
                elif frame.opcode == CLOSE:
                    err = ConnectionClosed(f"server sent {frame} (code {frame.close_code()})")
                    err.frame = frame  # type: ignore[attr-defined]
                    raise err
                continue
            self._check_server_data_frame(frame, first)
            count += 1
            if first is None:
                first = frame
            parts.append(frame.payload)
            if frame.fin:
                data = b"".join(parts)
                compressed = first.rsv1
                if compressed:
                    data = self.deflate.decompress(data)
                if first.opcode == TEXT:
                    try:
                        data.decode("utf-8")
                    except UnicodeDecodeError:
                        raise ProtocolViolation("server sent a text message that is not valid UTF-8")
                return Message(first.opcode, data, compressed, count)

    def _check_server_data_frame(self, frame: Frame, first: Frame | None) -> None:
        if first is None and frame.opcode == CONT:
            raise ProtocolViolation("server sent a continuation frame without a started message")
        if first is not None and frame.opcode != CONT:
            raise ProtocolViolation(f"server sent {frame} inside a fragmented message")
        if frame.opcode not in (CONT, TEXT, BINARY):
            raise ProtocolViolation(f"server sent reserved opcode {frame.opcode:#x}")
        if frame.rsv2 or frame.rsv3:
            raise ProtocolViolation(f"server set RSV2/RSV3 on {frame}")
        if frame.rsv1:
            if self.deflate is None:
                raise ProtocolViolation(f"server set RSV1 without permessage-deflate on {frame}")
            if frame.opcode == CONT:
                raise ProtocolViolation(f"server set RSV1 on a continuation frame {frame} (RFC 7692 6.1)")

    def expect_close(self, timeout: float = 2.0, *, reply: bool = True, eof_timeout: float = 2.0) -> CloseInfo:
        """Reads until the server's close frame (or EOF), skipping/collecting other frames; optionally answers
        the close (as a client should, echoing the code), then waits up to eof_timeout for the server to
        close TCP (RFC 6455 7.1.1: the server closes the TCP connection first)."""
        start = time.monotonic()
        deadline = start + timeout
        before = []
        close = None
        try:
            while True:
                frame = self.recv_frame(max(0.0, deadline - time.monotonic()))
                if frame.opcode == CLOSE:
                    close = frame
                    break
                if frame.opcode == PING:
                    try:
                        self.send_frame(PONG, frame.payload)
                    except ConnectionClosed:
                        pass
                before.append(frame)
        except ConnectionClosed:
            t = time.monotonic() - start
            return CloseInfo(None, True, t, t, before)
        except Timeout:
            return CloseInfo(None, False, time.monotonic() - start, None, before)
        elapsed = time.monotonic() - start
        if reply:
            try:
                code = close.close_code()
                self.send_close(code if code is not None and code not in (1005, 1006, 1015) else None)
            except (ConnectionClosed, OSError):
                pass
        eof_at = self.wait_eof(eof_timeout)
        return CloseInfo(close, eof_at is not None, elapsed, None if eof_at is None else time.monotonic() - start,
                         before)

    def wait_eof(self, timeout: float) -> float | None:
        """Waits for the server to close TCP, discarding anything else. Returns seconds waited, or None."""
        start = time.monotonic()
        deadline = start + timeout
        while not self.eof:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return None
            self.sock.settimeout(remaining)
            try:
                chunk = self.sock.recv(1 << 16)
            except socket.timeout:
                return None
            except (ConnectionResetError, BrokenPipeError):
                self.eof = True
                break
            if not chunk:
                self.eof = True
                break
            self.buf += chunk
        return time.monotonic() - start

    def close(self) -> None:
        try:
            self.sock.close()
        except OSError:
            pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def split(data: bytes, parts: int) -> list[bytes]:
    """Splits data into `parts` chunks (some may be empty when data is short)."""
    parts = max(1, parts)
    size = -(-len(data) // parts) if data else 0
    return [data[i * size:(i + 1) * size] for i in range(parts)]
