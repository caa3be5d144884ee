"""RFC 6455 conformance cases against a wring echo server, modelled on the categories of the
Autobahn|Testsuite (framing, pings, reserved bits, opcodes, fragmentation, UTF-8, close, sizes,
limits). Raw sockets only. Every case prints one line, "ok<TAB>desc" or
"not<TAB>desc<TAB>diagnostic", which conformance.sh turns into TAP.

Usage: conformance.py PORT SMALL_PORT SMALL_LIMIT
  PORT        echo_server with the default 16 MiB message limit
  SMALL_PORT  echo_server started with max_message_bytes = SMALL_LIMIT
"""
import base64
import os
import socket
import struct
import sys
import threading
import time

HOST = "127.0.0.1"
T_READ = 5.0        # seconds to wait for any expected frame
T_EOF = 3.0         # seconds for the server to close TCP after the closing handshake
MIB = 1 << 20

OP_CONT, OP_TEXT, OP_BIN, OP_CLOSE, OP_PING, OP_PONG = 0, 1, 2, 8, 9, 10


class Closed(Exception):
    """The server closed TCP (EOF or reset) while a frame was expected."""


class Fail(Exception):
    """The case's expectation was not met."""


def frame(op, payload=b"", fin=True, rsv=0, length=None, mask=True):
    """A client frame: masked with a random key; length overrides the announced length."""
    n = len(payload) if length is None else length
    b0 = (0x80 if fin else 0) | (rsv << 4) | op
    mbit = 0x80 if mask else 0
    if n < 126:
        hdr = struct.pack("!BB", b0, mbit | n)
    elif n < 65536:
        hdr = struct.pack("!BBH", b0, mbit | 126, n)
    else:
        hdr = struct.pack("!BBQ", b0, mbit | 127, n)
    if not mask:
        return hdr + payload
    key = os.urandom(4)
    return hdr + key + xor(payload, key)


def xor(data, key):
    if not data:
        return b""
    k = (key * (len(data) // 4 + 1))[: len(data)]
    return (int.from_bytes(data, "big") ^ int.from_bytes(k, "big")).to_bytes(len(data), "big")


def close_payload(code, reason=b""):
    return struct.pack("!H", code) + reason


class Conn:
    def __init__(self, port, path="/ws", req=None, before=b"", after=b"", want_101=True):
        """Connect and upgrade. req replaces the handshake request; before is sent ahead of
        it on the same connection (an HTTP exchange, answered and skipped), after goes in
        the same write as the request (frames sent before the 101 is seen)."""
        self.sock = socket.create_connection((HOST, port), timeout=T_READ)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buf = bytearray()
        key = base64.b64encode(os.urandom(16)).decode()
        if req is None:
            req = (f"GET {path} HTTP/1.1\r\nHost: {HOST}:{port}\r\nUpgrade: websocket\r\n"
                   f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
                   "Sec-WebSocket-Version: 13\r\n\r\n")
        deadline = time.monotonic() + T_READ
        if before:
            self.sock.sendall(before)
            while b"\r\n\r\n" not in self.buf:
                self._fill(deadline)
            head, _, rest = bytes(self.buf).partition(b"\r\n\r\n")
            clen = 0
            for line in head.split(b"\r\n"):
                if line.lower().startswith(b"content-length:"):
                    clen = int(line.split(b":")[1])
            self._take(len(head) + 4 + clen, deadline)
        self.sock.sendall(req.encode() + after)
        while b"\r\n\r\n" not in self.buf:
            self._fill(deadline)
        head, _, rest = bytes(self.buf).partition(b"\r\n\r\n")
        self.buf = bytearray(rest)
        self.head = head
        if want_101 and not head.startswith(b"HTTP/1.1 101"):
            raise Fail("handshake refused: " + head.split(b"\r\n")[0].decode(errors="replace"))

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass

    def _fill(self, deadline):
        left = deadline - time.monotonic()
        if left <= 0:
            raise Fail("timed out waiting for the server")
        self.sock.settimeout(left)
        try:
            d = self.sock.recv(1 << 20)
        except socket.timeout:
            raise Fail("timed out waiting for the server")
        except ConnectionResetError:
            raise Closed("connection reset")
        if not d:
            raise Closed("EOF")
        self.buf += d

    def _take(self, n, deadline):
        while len(self.buf) < n:
            self._fill(deadline)
        out = bytes(self.buf[:n])
        del self.buf[:n]
        return out

    def send(self, data, chop=None):
        """Send raw bytes, whole or in writes of chop bytes. Errors after the server closed
        (it may refuse early) are ignored: the reply is what the case checks."""
        try:
            if not chop:
                self.sock.settimeout(30)
                self.sock.sendall(data)
                return
            mv = memoryview(data)
            for i in range(0, len(data), chop):
                self.sock.sendall(mv[i:i + chop])
        except (BrokenPipeError, ConnectionResetError):
            pass

    def read_frame(self, timeout=T_READ):
        """(fin, rsv, opcode, payload) of the next server frame."""
        deadline = time.monotonic() + timeout
        b0, b1 = self._take(2, deadline)
        if b1 & 0x80:
            raise Fail("server frame is masked")
        n = b1 & 0x7F
        if n == 126:
            n = struct.unpack("!H", self._take(2, deadline))[0]
        elif n == 127:
            n = struct.unpack("!Q", self._take(8, deadline))[0]
        return bool(b0 & 0x80), (b0 >> 4) & 7, b0 & 0x0F, self._take(n, deadline)

    def read_message(self, timeout=T_READ, pongs=None):
        """Next whole data message (opcode, payload); pongs seen on the way go into pongs."""
        deadline = time.monotonic() + timeout
        parts, op = [], None
        while True:
            fin, rsv, fop, pl = self.read_frame(max(0.01, deadline - time.monotonic()))
            if rsv:
                raise Fail(f"server frame with RSV {rsv}")
            if fop == OP_PONG and pongs is not None:
                pongs.append(pl)
                continue
            if fop == OP_CLOSE:
                raise Fail(f"unexpected close {parse_close(pl)}")
            if fop not in (OP_TEXT, OP_BIN, OP_CONT):
                raise Fail(f"unexpected opcode {fop}")
            if op is None:
                op = fop
            parts.append(pl)
            if fin:
                return op, b"".join(parts)

    def expect_eof(self, timeout=T_EOF):
        deadline = time.monotonic() + timeout
        try:
            while True:
                self._fill(deadline)
                self.buf.clear()  # anything after the close frame is ignored
        except Closed:
            return
        except Fail:
            raise Fail("server did not close TCP after the closing handshake")

    def expect_close(self, codes, timeout=T_READ, eof=True):
        """Read frames (data echoes of earlier valid input are allowed) until a close frame;
        its code must be in codes (None: no code), then TCP must close. Returns the payload."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                fin, rsv, op, pl = self.read_frame(max(0.01, deadline - time.monotonic()))
            except Closed as e:
                raise Fail(f"TCP closed without a close frame ({e}); wanted {codes}")
            if op == OP_CLOSE:
                break
            if op not in (OP_TEXT, OP_BIN, OP_CONT, OP_PONG):
                raise Fail(f"unexpected opcode {op} while waiting for close")
        code, reason = parse_close(pl)
        if code not in codes:
            raise Fail(f"close code {code} reason {reason!r}; wanted {codes}")
        if eof:
            self.expect_eof()
        return code, reason


def parse_close(pl):
    if len(pl) == 0:
        return None, b""
    if len(pl) == 1:
        raise Fail("server sent a 1-byte close payload")
    return struct.unpack("!H", pl[:2])[0], pl[2:]


# ---- the runner ----

RESULTS = {"ok": 0, "not": 0}


def case(desc, fn, *args):
    try:
        fn(*args)
    except (Fail, Closed, OSError) as e:
        RESULTS["not"] += 1
        print(f"not\t{desc}\t{type(e).__name__}: {e}", flush=True)
        return
    except Exception as e:  # a bug in a case must not stop the suite
        RESULTS["not"] += 1
        print(f"not\t{desc}\tcrash {type(e).__name__}: {e}", flush=True)
        return
    RESULTS["ok"] += 1
    print(f"ok\t{desc}", flush=True)


def session(port, body):
    """Run body(conn) on a fresh connection, always closing the socket."""
    c = Conn(port)
    try:
        body(c)
    finally:
        c.close()


def echo_ok(c, frames, op, payload, chop=None, timeout=T_READ):
    c.send(b"".join(frames), chop)
    rop, got = c.read_message(timeout)
    if rop != op:
        raise Fail(f"echo opcode {rop}, wanted {op}")
    if got != payload:
        raise Fail(f"echo of {len(got)} bytes differs from the {len(payload)} sent")


def clean_close(c):
    c.send(frame(OP_CLOSE, close_payload(1000)))
    c.expect_close({1000})


def pattern(n, text):
    if text:
        base = "wring ✓ κόσμε 😀 ".encode()
    else:
        base = bytes(range(256))
    rep = base * (n // len(base) + 1)
    return cut_utf8(rep, n) if text else rep[:n]


def cut_utf8(b, n):
    """A valid UTF-8 prefix of b of exactly n bytes (padding with ASCII where a character
    would be split)."""
    s = b[:n]
    while True:
        try:
            s.decode()
            return s
        except UnicodeDecodeError as e:
            s = s[:e.start] + b"a" * (len(s) - e.start)


def protocol_error(port, data, codes=(1002,), prefix_ok=None, chop=None):
    """Send data; the server must answer with a close whose code is in codes and close TCP.
    prefix_ok: a message expected to be echoed first."""
    def body(c):
        c.send(data, chop)
        if prefix_ok is not None:
            op, got = c.read_message()
            if got != prefix_ok:
                raise Fail("valid message before the error not echoed")
        c.expect_close(set(codes))
    session(port, body)


# ---- 1 framing ----

def cat1(port):
    for text in (True, False):
        kind = "text" if text else "binary"
        for n in (0, 125, 126, 127, 128, 65535, 65536, 4 * MIB, 16 * MIB):
            pl = pattern(n, text)
            op = OP_TEXT if text else OP_BIN

            def body(c, pl=pl, op=op):
                echo_ok(c, [frame(op, pl)], op, pl, timeout=30)
                clean_close(c)
            case(f"1 framing: {kind} message of {n} bytes echoed", session, port, body)

    def several(c):
        msgs = [pattern(n, True) for n in (1, 200, 70000, 3)]
        c.send(b"".join(frame(OP_TEXT, m) for m in msgs))
        for m in msgs:
            if c.read_message()[1] != m:
                raise Fail("pipelined message echoed wrong")
        clean_close(c)
    case("1 framing: 4 messages in one write echoed in order", session, port, several)

    def unmasked(c):
        c.send(frame(OP_TEXT, b"hello", mask=False))
        c.expect_close({1002})
    case("1 framing: unmasked client frame -> 1002", session, port, unmasked)

    def msb(c):
        c.send(struct.pack("!BBQ", 0x82, 0xFF, 1 << 63) + os.urandom(4))
        c.expect_close({1002, 1009})
    case("1 framing: 64-bit length with the top bit set -> 1002/1009", session, port, msb)


# ---- 2 pings and pongs ----

def cat2(port):
    for n in (0, 1, 10, 125):
        pl = os.urandom(n)

        def body(c, pl=pl):
            c.send(frame(OP_PING, pl))
            fin, rsv, op, got = c.read_frame()
            if op != OP_PONG or got != pl or not fin:
                raise Fail(f"wanted pong with the ping's {len(pl)} bytes, got op {op} len {len(got)}")
            clean_close(c)
        case(f"2 ping: {n}-byte payload answered by an equal pong", session, port, body)

    def chopped(c):
        pl = b"chopped ping payload"
        c.send(frame(OP_PING, pl), chop=1)
        fin, rsv, op, got = c.read_frame()
        if op != OP_PONG or got != pl:
            raise Fail("pong differs")
        clean_close(c)
    case("2 ping: sent in 1-byte writes answered", session, port, chopped)

    case("2 ping: 126-byte payload -> 1002", protocol_error, port, frame(OP_PING, b"x" * 126))

    def unsolicited(c):
        c.send(frame(OP_PONG, b"nobody asked") + frame(OP_TEXT, b"after pong"))
        fin, rsv, op, got = c.read_frame()
        if op != OP_TEXT or got != b"after pong":
            raise Fail(f"wanted only the text echo, got op {op}")
        clean_close(c)
    case("2 pong: unsolicited pong ignored", session, port, unsolicited)

    def ten(c):
        pls = [f"ping {i}".encode() for i in range(10)]
        c.send(b"".join(frame(OP_PING, p) for p in pls))
        for p in pls:
            fin, rsv, op, got = c.read_frame()
            if op != OP_PONG or got != p:
                raise Fail(f"pong {got!r}, wanted {p!r}")
        clean_close(c)
    case("2 ping: 10 pings answered by 10 pongs in order", session, port, ten)

    def ten_chopped(c):
        pls = [os.urandom(125) for _ in range(10)]
        c.send(b"".join(frame(OP_PING, p) for p in pls), chop=1)
        for p in pls:
            fin, rsv, op, got = c.read_frame()
            if op != OP_PONG or got != p:
                raise Fail("pong payload differs")
        clean_close(c)
    case("2 ping: 10 125-byte pings in 1-byte writes answered", session, port, ten_chopped)


# ---- 3 reserved bits ----

def cat3(port):
    for rsv in (1, 2, 4, 3, 5, 6, 7):
        for op, name, pl in ((OP_TEXT, "text", b"hello"), (OP_BIN, "binary", b"\x00\xff"),
                             (OP_PING, "ping", b"p"), (OP_CLOSE, "close", close_payload(1000))):
            case(f"3 RSV {rsv:03b} on {name} -> 1002", protocol_error, port,
                 frame(op, pl, rsv=rsv))
    case("3 RSV on the frame after a valid message -> echo, then 1002", protocol_error, port,
         frame(OP_TEXT, b"good") + frame(OP_TEXT, b"bad", rsv=1) + frame(OP_PING),
         (1002,), b"good")
    case("3 RSV on a continuation frame -> 1002", protocol_error, port,
         frame(OP_TEXT, b"a", fin=False) + frame(OP_CONT, b"b", rsv=2))


# ---- 4 opcodes ----

def cat4(port):
    for op in (3, 4, 5, 6, 7, 11, 12, 13, 14, 15):
        case(f"4 reserved opcode {op} -> 1002", protocol_error, port, frame(op))
        case(f"4 reserved opcode {op} with payload after a valid message -> echo, 1002",
             protocol_error, port, frame(OP_TEXT, b"fine") + frame(op, b"payload") + frame(OP_PING),
             (1002,), b"fine")


# ---- 5 fragmentation ----

def frags(op, pieces, ctl_between=None):
    out = []
    for i, p in enumerate(pieces):
        out.append(frame(op if i == 0 else OP_CONT, p, fin=(i == len(pieces) - 1)))
        if ctl_between is not None and i < len(pieces) - 1:
            out.append(ctl_between)
    return out


def cat5(port):
    def two(op, chop=None):
        def body(c):
            pl = pattern(1000, op == OP_TEXT)
            echo_ok(c, frags(op, [pl[:300], pl[300:]]), op, pl, chop)
            clean_close(c)
        return body
    case("5 fragments: text in 2 fragments", session, port, two(OP_TEXT))
    case("5 fragments: binary in 2 fragments", session, port, two(OP_BIN))
    case("5 fragments: text in 2 fragments, 1-byte writes", session, port, two(OP_TEXT, 1))

    def many(c):
        pl = pattern(300, False)
        echo_ok(c, frags(OP_BIN, [pl[i:i + 1] for i in range(len(pl))]), OP_BIN, pl)
        clean_close(c)
    case("5 fragments: binary in 300 1-byte fragments", session, port, many)

    def empties(c):
        echo_ok(c, frags(OP_TEXT, [b"", b"", b""]), OP_TEXT, b"")
        echo_ok(c, frags(OP_BIN, [b"", b"ab", b""]), OP_BIN, b"ab")
        clean_close(c)
    case("5 fragments: empty fragments", session, port, empties)

    for chop in (None, 1):
        def pinged(c, chop=chop):
            pl = pattern(90, True)
            c.send(b"".join(frags(OP_TEXT, [pl[:30], pl[30:60], pl[60:]],
                                  frame(OP_PING, b"between"))), chop)
            pongs = []
            op, got = c.read_message(pongs=pongs)
            if got != pl or op != OP_TEXT:
                raise Fail("fragmented message with pings between echoed wrong")
            while len(pongs) < 2:
                fin, rsv, fop, p = c.read_frame()
                if fop == OP_PONG:
                    pongs.append(p)
            if pongs != [b"between", b"between"]:
                raise Fail(f"pongs {pongs}")
            clean_close(c)
        case(f"5 fragments: pings between fragments answered{', 1-byte writes' if chop else ''}",
             session, port, pinged)

    def pong_between(c):
        echo_ok(c, frags(OP_BIN, [b"ab", b"cd"], frame(OP_PONG, b"x")), OP_BIN, b"abcd")
        clean_close(c)
    case("5 fragments: unsolicited pong between fragments ignored", session, port, pong_between)

    case("5 continuation without a start (fin) -> 1002", protocol_error, port,
         frame(OP_CONT, b"orphan"))
    case("5 continuation without a start (not fin) -> 1002", protocol_error, port,
         frame(OP_CONT, b"orphan", fin=False) + frame(OP_CONT, b"x"))
    case("5 continuation after a complete message -> echo, 1002", protocol_error, port,
         frame(OP_TEXT, b"done") + frame(OP_CONT, b"late"), (1002,), b"done")
    case("5 text inside a fragmented text -> 1002", protocol_error, port,
         frame(OP_TEXT, b"a", fin=False) + frame(OP_TEXT, b"b"))
    case("5 binary inside a fragmented text -> 1002", protocol_error, port,
         frame(OP_TEXT, b"a", fin=False) + frame(OP_BIN, b"b", fin=False) + frame(OP_CONT, b"c"))
    case("5 text inside a fragmented binary, 1-byte writes -> 1002", protocol_error, port,
         frame(OP_BIN, b"a", fin=False) + frame(OP_TEXT, b"b"), (1002,), None, 1)
    for op, name in ((OP_PING, "ping"), (OP_PONG, "pong"), (OP_CLOSE, "close")):
        pl = close_payload(1000) if op == OP_CLOSE else b"frag"
        case(f"5 fragmented {name} -> 1002", protocol_error, port,
             frame(op, pl[:2], fin=False) + frame(OP_CONT, pl[2:]))


# ---- 6 UTF-8 ----

VALID = [
    "Hello-µ@ßöäüàá-UTF-8!!",
    "κόσμε",
    "\u0080\u07ff\u0800\ud7ff\ue000\ufffd\uffff",
    "\U00010000\U0001F600\U0010FFFF",
    "\ufeffBOM is fine",
    "日本語のテキスト",
]
INVALID = [
    (b"\xc0\xaf", "overlong 2-byte /"),
    (b"\xc1\xbf", "overlong 2-byte U+7F"),
    (b"\xe0\x80\xaf", "overlong 3-byte"),
    (b"\xe0\x9f\xbf", "overlong 3-byte U+7FF"),
    (b"\xf0\x80\x80\xaf", "overlong 4-byte"),
    (b"\xf0\x8f\xbf\xbf", "overlong 4-byte U+FFFF"),
    (b"\xed\xa0\x80", "surrogate U+D800"),
    (b"\xed\xbf\xbf", "surrogate U+DFFF"),
    (b"\xed\xa0\xbd\xed\xb8\x80", "surrogate pair"),
    (b"\xf4\x90\x80\x80", "U+110000"),
    (b"\xf5\x80\x80\x80", "lead byte F5"),
    (b"\xf8\x88\x80\x80\x80", "5-byte form"),
    (b"\xfe", "byte FE"),
    (b"\xff", "byte FF"),
    (b"\x80", "lone continuation byte"),
    (b"a\xbfz", "continuation byte inside ASCII"),
    (b"\xce", "truncated 2-byte at the end"),
    (b"\xe2\x82", "truncated 3-byte at the end"),
    (b"\xf0\x9f\x98", "truncated 4-byte at the end"),
    (b"\xcea", "truncated 2-byte followed by ASCII"),
    (b"\xe2\x82a", "truncated 3-byte followed by ASCII"),
    ("κόσμε".encode() + b"\xed\xa0\x80edited", "surrogate inside valid text"),
]


def cat6(port):
    for s in VALID:
        b = s.encode()

        def whole(c, b=b):
            echo_ok(c, [frame(OP_TEXT, b)], OP_TEXT, b)
            clean_close(c)
        case(f"6 UTF-8 valid {s!r} echoed", session, port, whole)

        def splits(c, b=b):
            for i in range(1, len(b)):
                echo_ok(c, frags(OP_TEXT, [b[:i], b[i:]]), OP_TEXT, b)
            echo_ok(c, frags(OP_TEXT, [b[i:i + 1] for i in range(len(b))]), OP_TEXT, b)
            echo_ok(c, [frame(OP_TEXT, b)], OP_TEXT, b, chop=1)
            clean_close(c)
        case(f"6 UTF-8 valid {s!r} split into 2 fragments at every byte, 1-byte fragments, "
             "1-byte writes", session, port, splits)

    for b, name in INVALID:
        case(f"6 UTF-8 invalid ({name}) -> 1007", protocol_error, port, frame(OP_TEXT, b), (1007,))
        case(f"6 UTF-8 invalid ({name}) in 1-byte fragments -> 1007", protocol_error, port,
             b"".join(frags(OP_TEXT, [b[i:i + 1] for i in range(len(b))])), (1007,))
        case(f"6 UTF-8 invalid ({name}) in 1-byte writes -> 1007", protocol_error, port,
             frame(OP_TEXT, b), (1007,), None, 1)

    def ff_fragment(c):
        # The first fragment is already wrong; the message never ends.
        c.send(frame(OP_TEXT, b"ok so far \xc0\xaf and then more", fin=False))
        c.expect_close({1007})
    case("6 UTF-8 fail-fast: invalid first fragment -> 1007 before the message ends",
         session, port, ff_fragment)

    def ff_frame(c):
        # A frame announcing 4096 bytes of which only the first 20 (bad) ones arrive.
        key = os.urandom(4)
        head = struct.pack("!BBH", 0x81, 0x80 | 126, 4096) + key
        c.send(head + xor(b"fine \xed\xa0\x80 not fine", key)[:20])
        c.expect_close({1007})
    case("6 UTF-8 fail-fast: invalid bytes early in a partly sent frame -> 1007",
         session, port, ff_frame)

    def binary_any(c):
        b = b"\xc0\xaf\xed\xa0\x80\xff"
        echo_ok(c, [frame(OP_BIN, b)], OP_BIN, b)
        clean_close(c)
    case("6 UTF-8 not checked in binary messages", session, port, binary_any)


# ---- 7 close ----

def cat7(port):
    for code in (1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 1012, 1013, 1014,
                 3000, 3999, 4000, 4999):
        def body(c, code=code):
            c.send(frame(OP_CLOSE, close_payload(code, b"bye")))
            c.expect_close({code})
        case(f"7 close code {code} echoed, TCP closed", session, port, body)

    def empty(c):
        c.send(frame(OP_CLOSE))
        c.expect_close({None, 1000})
    case("7 close without payload answered (empty or 1000), TCP closed", session, port, empty)

    for code in (0, 999, 1004, 1005, 1006, 1015, 1016, 1100, 2000, 2999, 5000, 65535):
        case(f"7 invalid close code {code} -> 1002", protocol_error, port,
             frame(OP_CLOSE, close_payload(code)))
    case("7 close with a 1-byte payload -> 1002", protocol_error, port, frame(OP_CLOSE, b"\x03"))
    case("7 close reason not UTF-8 -> 1007", protocol_error, port,
         frame(OP_CLOSE, close_payload(1000, b"bad \xed\xa0\x80")), (1007,))

    def long_reason(c):
        c.send(frame(OP_CLOSE, close_payload(1000, b"r" * 123)))
        c.expect_close({1000})
    case("7 close with a 123-byte reason echoed", session, port, long_reason)
    case("7 close with a 124-byte reason (payload 126) -> 1002", protocol_error, port,
         frame(OP_CLOSE, close_payload(1000, b"r" * 124)))

    def after(c):
        c.send(frame(OP_CLOSE, close_payload(1000)) + frame(OP_TEXT, b"ignored") +
               frame(OP_PING, b"ignored"))
        fin, rsv, op, pl = c.read_frame()
        if op != OP_CLOSE:
            raise Fail(f"wanted the close reply first, got op {op}")
        try:
            while True:
                fin, rsv, op, pl = c.read_frame(T_EOF)
                raise Fail(f"frame (op {op}) after the close reply")
        except Closed:
            pass
    case("7 data and ping after close ignored, TCP closed", session, port, after)

    def big_then_close(c):
        pl = pattern(16 * MIB, False)
        c.send(frame(OP_BIN, pl) + frame(OP_CLOSE, close_payload(1000)))
        if c.read_message(timeout=30)[1] != pl:
            raise Fail("16 MiB echo before the close differs")
        c.expect_close({1000})
    case("7 16 MiB message and close in one write: whole echo, then close", session, port,
         big_then_close)

    def close_then_frag(c):
        c.send(frame(OP_TEXT, b"part", fin=False) + frame(OP_CLOSE, close_payload(1000)))
        c.expect_close({1000})
    case("7 close inside a fragmented message answered", session, port, close_then_frag)

    def chopped(c):
        c.send(frame(OP_CLOSE, close_payload(3001, b"chopped")), chop=1)
        c.expect_close({3001})
    case("7 close in 1-byte writes echoed", session, port, chopped)


# ---- 9 sizes ----

def cat9(port):
    for n in (64 * 1024, 256 * 1024, MIB, 4 * MIB, 16 * MIB):
        for op, kind in ((OP_TEXT, "text"), (OP_BIN, "binary")):
            pl = pattern(n, op == OP_TEXT)

            def whole(c, op=op, pl=pl):
                echo_ok(c, [frame(op, pl)], op, pl, timeout=60)
                clean_close(c)
            case(f"9 {kind} {n} bytes in one frame", session, port, whole)
    for n in (64, 4096, 65536):
        for op, kind in ((OP_TEXT, "text"), (OP_BIN, "binary")):
            pl = pattern(n, op == OP_TEXT)

            def chopped(c, op=op, pl=pl):
                echo_ok(c, [frame(op, pl)], op, pl, chop=1, timeout=60)
                clean_close(c)
            case(f"9 {kind} {n} bytes in 1-byte writes", session, port, chopped)
    for n, chop in ((MIB, 997), (16 * MIB, 4096), (16 * MIB, 65536)):
        pl = pattern(n, True)

        def big_chop(c, pl=pl, chop=chop):
            echo_ok(c, [frame(OP_TEXT, pl)], OP_TEXT, pl, chop=chop, timeout=60)
            clean_close(c)
        case(f"9 text {n} bytes in {chop}-byte writes", session, port, big_chop)
    for n, fs in ((65536, 1), (65536, 100), (MIB, 4096), (16 * MIB, 64 * 1024), (16 * MIB, MIB)):
        for op, kind in ((OP_TEXT, "text"), (OP_BIN, "binary")):
            pl = pattern(n, op == OP_TEXT)

            def fragd(c, op=op, pl=pl, fs=fs):
                echo_ok(c, frags(op, [pl[i:i + fs] for i in range(0, len(pl), fs)]), op, pl,
                        timeout=60)
                clean_close(c)
            case(f"9 {kind} {n} bytes in {fs}-byte fragments", session, port, fragd)

    def many_small(c):
        msgs = [os.urandom(i % 50) for i in range(1000)]
        c.send(b"".join(frame(OP_BIN, m) for m in msgs))
        for m in msgs:
            if c.read_message()[1] != m:
                raise Fail("small message echoed wrong")
        clean_close(c)
    case("9 1000 small binary messages in one burst", session, port, many_small)


# ---- 10 limits ----

def cat10(port, small_port, limit):
    def at_limit(c):
        pl = os.urandom(limit)
        echo_ok(c, [frame(OP_BIN, pl)], OP_BIN, pl)
        clean_close(c)
    case(f"10 message of exactly the limit ({limit}) echoed", session, small_port, at_limit)
    case(f"10 message of limit + 1 in one frame -> 1009", protocol_error, small_port,
         frame(OP_BIN, os.urandom(limit + 1)), (1009,))
    case(f"10 text of limit + 1 announced, nothing sent -> 1009", protocol_error, small_port,
         frame(OP_TEXT, b"", length=limit + 1), (1009,))
    pl = os.urandom(limit + 1)
    half = limit // 2
    case(f"10 message of limit + 1 in 3 fragments -> 1009", protocol_error, small_port,
         b"".join(frags(OP_BIN, [pl[:half], pl[half:limit], pl[limit:]])), (1009,))
    case(f"10 message over the limit, 1-byte fragments past the limit -> 1009", protocol_error,
         small_port, frame(OP_TEXT, b"a" * limit, fin=False) + frame(OP_CONT, b"b"), (1009,))

    def default_limit(c):
        # Announce 16 MiB + 1 and send a little: the limit applies at the header.
        c.send(frame(OP_BIN, b"", length=16 * MIB + 1)[:14] + b"\x00" * 1000)
        c.expect_close({1009})
    case("10 default server: 16 MiB + 1 -> 1009", session, port, default_limit)

    def default_frag(c):
        pl = bytes(MIB)
        c.send(b"".join(frags(OP_BIN, [pl] * 16 + [b"x"])))
        c.expect_close({1009}, timeout=30)
    case("10 default server: 16 MiB + 1 in 17 fragments -> 1009", session, port, default_frag)


# ---- 0 opening handshake ----


def http_exchange(port, req):
    """Send a raw request; return the status code of the answer."""
    with socket.create_connection((HOST, port), timeout=T_READ) as s:
        s.sendall(req.encode())
        data = b""
        deadline = time.monotonic() + T_READ
        while b"\r\n" not in data and time.monotonic() < deadline:
            d = s.recv(4096)
            if not d:
                break
            data += d
        if not data.startswith(b"HTTP/1.1 "):
            raise Fail(f"no HTTP answer: {data[:40]!r}")
        return int(data.split()[1])


def cat0(port):
    key = base64.b64encode(os.urandom(16)).decode()

    def req(**over):
        h = {"Host": f"{HOST}:{port}", "Upgrade": "websocket", "Connection": "Upgrade",
             "Sec-WebSocket-Key": key, "Sec-WebSocket-Version": "13"}
        h.update(over)
        return "GET /ws HTTP/1.1\r\n" + "".join(f"{k}: {v}\r\n" for k, v in h.items()
                                                if v is not None) + "\r\n"

    def upgraded(r=None, before=b"", after=b"", expect=None):
        def body():
            c = Conn(port, req=r, before=before, after=after)
            try:
                if expect is not None:
                    pongs = []
                    op, got = c.read_message(pongs=pongs)
                    if got != expect:
                        raise Fail("early frame not echoed")
                    if not pongs and c.read_frame()[2] != OP_PONG:
                        raise Fail("early ping not answered")
                pl = b"after the handshake"
                echo_ok(c, [frame(OP_TEXT, pl)], OP_TEXT, pl)
                clean_close(c)
            finally:
                c.close()
        return body
    case("0 handshake: accept key and headers", upgraded(req()))
    case("0 handshake: header names and tokens in other cases, Connection list",
         upgraded(req(Upgrade="WebSocket", Connection="keep-alive, upgrade")))
    case("0 handshake: first frames in the same write as the request",
         upgraded(req(), after=frame(OP_TEXT, b"eager") + frame(OP_PING, b"p"), expect=b"eager"))
    case("0 handshake: upgrade after an HTTP request on the same connection",
         upgraded(req(), before=f"GET / HTTP/1.1\r\nHost: {HOST}\r\n\r\n".encode()))

    def accept_value():
        c = Conn(port, req=req())
        c.close()
        import hashlib
        want = base64.b64encode(hashlib.sha1((key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11")
                                             .encode()).digest())
        if b"sec-websocket-accept: " + want.lower() not in c.head.lower():
            raise Fail(f"accept header wrong in {c.head!r}")
    case("0 handshake: Sec-WebSocket-Accept value", accept_value)

    def pipelined():
        c = Conn(port, req=f"GET / HTTP/1.1\r\nHost: {HOST}\r\n\r\n" + req(),
                 after=frame(OP_TEXT, b"pipelined"), want_101=False)
        try:
            # The 200 for GET / comes first and Conn stopped at its head: skip its body.
            head = c.head.lower()
            if not head.startswith(b"http/1.1 200"):
                raise Fail(f"first answer {head[:20]!r}")
            clen = int(head.split(b"content-length:")[1].split(b"\r\n")[0])
            del c.buf[:clen]
            deadline = time.monotonic() + T_READ
            while b"\r\n\r\n" not in c.buf:
                c._fill(deadline)
            h2, _, rest = bytes(c.buf).partition(b"\r\n\r\n")
            c.buf = bytearray(rest)
            if not h2.startswith(b"HTTP/1.1 101"):
                raise Fail(f"second answer {h2[:20]!r}")
            if c.read_message()[1] != b"pipelined":
                raise Fail("frame after the upgrade not echoed")
            clean_close(c)
        finally:
            c.close()
    case("0 handshake: GET /, upgrade and a frame pipelined in one write", pipelined)

    def big_head():
        got = http_exchange(port, req(**{"X-Big": "b" * 9000}))
        if got != 431:
            raise Fail(f"status {got}")
    case("0 handshake with 9000 bytes of headers -> 431", big_head)

    for name, r, want in (
            ("version 8", req(**{"Sec-WebSocket-Version": "8"}), 426),
            ("no version", req(**{"Sec-WebSocket-Version": None}), 426),
            ("no key", req(**{"Sec-WebSocket-Key": None}), 400),
            ("short key", req(**{"Sec-WebSocket-Key": "c2hvcnQ="}), 400),
            ("no Upgrade header", req(Upgrade=None), 400),
            ("Connection without upgrade", req(Connection="keep-alive"), 400),
            ("POST", req().replace("GET", "POST", 1), (400, 405)),
    ):
        def refused(r=r, want=want):
            got = http_exchange(port, r)
            if got not in (want if isinstance(want, tuple) else (want,)):
                raise Fail(f"status {got}, wanted {want}")
        case(f"0 handshake refused: {name} -> {want}", refused)

    def unknown():
        got = http_exchange(port, req().replace("/ws", "/nope", 1))
        if got != 404:
            raise Fail(f"status {got}")
    case("0 handshake on an unknown path -> 404", unknown)


# ---- 11 concurrency and full duplex ----

def cat11(port):
    def many_conns():
        errs = []

        def worker(i):
            try:
                c = Conn(port)
                for j in range(20):
                    pl = f"conn {i} msg {j} ✓".encode() * (j + 1)
                    echo_ok(c, [frame(OP_TEXT, pl)], OP_TEXT, pl)
                clean_close(c)
                c.close()
            except Exception as e:
                errs.append(f"conn {i}: {type(e).__name__}: {e}")
        ts = [threading.Thread(target=worker, args=(i,)) for i in range(100)]
        for t in ts:
            t.start()
        for t in ts:
            t.join(30)
        if any(t.is_alive() for t in ts):
            raise Fail("a connection hung")
        if errs:
            raise Fail(f"{len(errs)} failed, first: {errs[0]}")
    case("11 100 concurrent connections x 20 echoes", many_conns)

    def duplex(c):
        msgs = [pattern(16 * MIB - i, i % 2 == 0) for i in range(4)]
        err = []

        def sender():
            try:
                for i, m in enumerate(msgs):
                    c.sock.sendall(frame(OP_TEXT if i % 2 == 0 else OP_BIN, m))
            except OSError as e:
                err.append(e)
        t = threading.Thread(target=sender, daemon=True)
        t.start()
        for i, m in enumerate(msgs):
            op, got = c.read_message(timeout=60)
            if got != m:
                raise Fail(f"message {i} differs")
        t.join(10)
        if err:
            raise Fail(f"send: {err[0]}")
        clean_close(c)
    case("11 full duplex: 4 x 16 MiB sent while echoes come back", session, port, duplex)

    def abrupt():
        for i in range(20):
            c = Conn(port)
            c.send(frame(OP_BIN, b"x" * 100000)[:50000 + i * 1000])  # cut mid-frame
            c.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            c.close()  # RST
        session(port, lambda c: (echo_ok(c, [frame(OP_TEXT, b"still")], OP_TEXT, b"still"),
                                 clean_close(c)))
    case("11 20 peers reset mid-frame, the server still echoes", abrupt)

    def heavy():
        errs = []
        big = [os.urandom(MIB + i) for i in range(3)]
        frames_ = b"".join(frame(OP_BIN, b) for b in big)

        def worker(i):
            try:
                c = Conn(port)
                sender = threading.Thread(target=c.send, args=(frames_,), daemon=True)
                sender.start()
                for b in big:
                    if c.read_message(timeout=60)[1] != b:
                        raise Fail("echo differs")
                sender.join(10)
                clean_close(c)
                c.close()
            except Exception as e:
                errs.append(f"conn {i}: {type(e).__name__}: {e}")
        ts = [threading.Thread(target=worker, args=(i,)) for i in range(64)]
        for t in ts:
            t.start()
        for t in ts:
            t.join(90)
        if any(t.is_alive() for t in ts):
            raise Fail("a connection hung")
        if errs:
            raise Fail(f"{len(errs)} failed, first: {errs[0]}")
    case("11 64 connections x 3 x 1 MiB at once (receive buffers under pressure)", heavy)

    def slow_consumer(c):
        # Never read while 6 x 16 MiB are echoed: past max_send_buffer (64 MiB) the server
        # must give up on this peer rather than grow.
        pl = bytes(16 * MIB)
        t = threading.Thread(target=lambda: [c.send(frame(OP_BIN, pl)) for _ in range(6)],
                             daemon=True)
        t.start()
        t.join(60)
        time.sleep(1)
        c.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
        try:
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline:
                c._fill(deadline)
                c.buf.clear()
        except Closed:
            return
        raise Fail("connection still open after 96 MiB of unread echoes")
    case("11 slow consumer (96 MiB never read) is cut off", session, port, slow_consumer)


# ---- 12 timeouts (the example uses the default handshake_timeout_ms, 10 s) ----

def cat12(port):
    def watch(sock, trickle, out):
        """Wait up to 16 s for the server to close sock, sending one header byte a second if
        trickle; out gets the seconds it took, or None."""
        t0 = time.monotonic()
        sock.settimeout(1.0)
        while time.monotonic() - t0 < 16:
            try:
                if trickle:
                    sock.sendall(b"X")
                if sock.recv(4096) == b"":
                    out.append(time.monotonic() - t0)
                    return
            except socket.timeout:
                continue
            except OSError:
                out.append(time.monotonic() - t0)
                return
        out.append(None)

    results = {}
    socks = []
    for name, first, trickle in (("silent", b"", False),
                                 ("partial head", b"GET /ws HTTP/1.1\r\nHost: x\r\n", False),
                                 ("trickled head", b"GET /ws HTTP/1.1\r\nX-Slow: ", True)):
        sock = socket.create_connection((HOST, port))
        socks.append(sock)
        if first:
            sock.sendall(first)
        results[name] = []
        threading.Thread(target=watch, args=(sock, trickle, results[name]), daemon=True).start()
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and not all(results.values()):
        time.sleep(0.2)
    for sock in socks:
        sock.close()
    for name, r in results.items():
        def verdict(r=r):
            if not r or r[0] is None:
                raise Fail("still open after 16 s")
            if r[0] < 8:
                raise Fail(f"closed after {r[0]:.1f} s, before the timeout")
        case(f"12 {name} connection closed after the 10 s handshake timeout", verdict)


# ---- side connection: the server keeps serving others while peers misbehave ----

class Side(threading.Thread):
    def __init__(self, port):
        super().__init__(daemon=True)
        self.port = port
        self.stop = threading.Event()
        self.count = 0
        self.error = None

    def run(self):
        try:
            c = Conn(self.port)
            while not self.stop.is_set():
                pl = f"side {self.count} ✓".encode()
                echo_ok(c, [frame(OP_TEXT, pl)], OP_TEXT, pl)
                self.count += 1
                self.stop.wait(0.02)
            clean_close(c)
            c.close()
        except Exception as e:
            self.error = f"{type(e).__name__}: {e} after {self.count} echoes"


# ---- 13 permessage-deflate (in the spirit of Autobahn 12 and 13) ----

class Pmd:
    """A permessage-deflate client on a raw connection: offers `offer`, parses the answer,
    compresses with its own window and context rules, inflates with the server's."""

    def __init__(self, port, offer, cbits=15):
        import zlib
        self.zlib = zlib
        key = base64.b64encode(os.urandom(16)).decode()
        req = (f"GET /ws HTTP/1.1\r\nHost: {HOST}:{port}\r\nUpgrade: websocket\r\n"
               f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
               f"Sec-WebSocket-Version: 13\r\nSec-WebSocket-Extensions: {offer}\r\n\r\n")
        self.c = Conn(port, req=req)
        ext = None
        for line in self.c.head.split(b"\r\n")[1:]:
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"sec-websocket-extensions":
                ext = value.strip().decode()
        self.answer = ext
        params = {}
        if ext:
            parts = [p.strip() for p in ext.split(";")]
            if parts[0] != "permessage-deflate":
                raise Fail(f"answer names {parts[0]}")
            for p in parts[1:]:
                k, _, v = p.partition("=")
                params[k] = int(v) if v else True
        self.params = params
        self.sbits = params.get("server_max_window_bits", 15)
        self.cbits = min(params.get("client_max_window_bits", 15), cbits)
        self.snct = "server_no_context_takeover" in params
        self.cnct = "client_no_context_takeover" in params
        self.tx = zlib.compressobj(6, zlib.DEFLATED, -max(self.cbits, 9))
        self.rx = zlib.decompressobj(-15)

    def compress(self, data):
        out = self.tx.compress(data) + self.tx.flush(self.zlib.Z_SYNC_FLUSH)
        assert out.endswith(b"\x00\x00\xff\xff")
        if self.cnct:
            self.tx = self.zlib.compressobj(6, self.zlib.DEFLATED, -max(self.cbits, 9))
        return out[:-4]

    def read(self, timeout=T_READ):
        """Next message (op, payload, was_compressed), inflated as the server's rules say."""
        deadline = time.monotonic() + timeout
        parts, op, comp = [], None, False
        while True:
            fin, rsv, fop, pl = self.c.read_frame(max(0.01, deadline - time.monotonic()))
            if fop in (OP_PING, OP_PONG):
                continue
            if fop == OP_CLOSE:
                raise Fail(f"unexpected close {parse_close(pl)}")
            if op is None:
                op, comp = fop, bool(rsv & 4)
                if rsv & 3:
                    raise Fail(f"RSV {rsv} on the first frame")
            elif rsv:
                raise Fail(f"RSV {rsv} on a continuation frame")
            parts.append(pl)
            if fin:
                break
        data = b"".join(parts)
        if comp:
            data = self.rx.decompress(data + b"\x00\x00\xff\xff")
            if self.snct:
                self.rx = self.zlib.decompressobj(-15)
        return op, data, comp


def cat13(port, small_port):
    import json as _json
    import zlib

    def payload(n, text, seed):
        if not text:
            return bytes((i * 7 + seed + (i >> 5)) & 0xFF for i in range(n))
        items, k = [], seed
        s = b""
        while len(s) < n:
            items.append({"id": k, "user": f"u{k % 37}", "v": k * 3 % 1000})
            k += 1
            if len(items) % 50 == 0 or n < 200:
                s = _json.dumps(items).encode()
        return s[:n]

    # Autobahn 13: each offer, echo of compressed messages of several sizes.
    offers = [
        ("permessage-deflate", {}),
        ("permessage-deflate; client_max_window_bits", {}),
        ("permessage-deflate; client_no_context_takeover", {"client_no_context_takeover": True}),
        ("permessage-deflate; server_no_context_takeover", {"server_no_context_takeover": True}),
        ("permessage-deflate; server_no_context_takeover; client_no_context_takeover",
         {"server_no_context_takeover": True, "client_no_context_takeover": True}),
    ] + [(f"permessage-deflate; server_max_window_bits={b}; client_max_window_bits={b}",
          {"server_max_window_bits": b, "client_max_window_bits": b}) for b in (9, 11, 13, 15)]
    for offer, want in offers:
        def body(offer=offer, want=want):
            p = Pmd(port, offer)
            try:
                for k, v in want.items():
                    if p.params.get(k) != v:
                        raise Fail(f"answer {p.answer!r} lacks {k}={v}")
                for text in (True, False):
                    for n in (16, 64, 256, 1024, 4096, 16384, 65536, 131072):
                        for rep in range(3):
                            pl = payload(n, text, rep)
                            op = OP_TEXT if text else OP_BIN
                            p.c.send(frame(op, p.compress(pl), rsv=4))
                            rop, got, comp = p.read()
                            if rop != op or got != pl:
                                raise Fail(f"{n}-byte echo differs ({len(got)} bytes)")
                            if n >= 256 and text and not comp:
                                raise Fail(f"{n}-byte text echoed uncompressed")
                clean_close(p.c)
            finally:
                p.c.close()
        case(f"13 permessage-deflate \"{offer}\": text/binary 16 B..128 KiB echoed", body)

    # Autobahn 12 style: a compressed message split into fragments, and uncompressed
    # messages between compressed ones.
    def fragmented():
        p = Pmd(port, "permessage-deflate")
        try:
            pl = payload(50000, True, 1)
            z = p.compress(pl)
            cut = [z[:10], z[10:1000], z[1000:]]
            p.c.send(frame(OP_TEXT, cut[0], fin=False, rsv=4) + frame(OP_CONT, cut[1], fin=False)
                     + frame(OP_PING, b"x") + frame(OP_CONT, cut[2]))
            rop, got, _ = p.read()
            if got != pl:
                raise Fail("fragmented compressed message not echoed")
            p.c.send(frame(OP_TEXT, b"plain in between"))
            if p.read()[1] != b"plain in between":
                raise Fail("uncompressed message not echoed")
            p.c.send(frame(OP_TEXT, p.compress(pl), rsv=4))
            if p.read()[1] != pl:
                raise Fail("compressed message after an uncompressed one not echoed")
            clean_close(p.c)
        finally:
            p.c.close()
    case("13 permessage-deflate: compressed message in 3 fragments with a ping, then plain", fragmented)

    def refused(offer):
        p = Pmd(port, offer)
        p.c.close()
        if p.answer is not None:
            raise Fail(f"malformed offer accepted: {p.answer!r}")
    for offer in ("permessage-deflate; server_max_window_bits", "permessage-deflate; foo=1",
                  "permessage-deflate; client_max_window_bits=16",
                  "permessage-deflate; server_no_context_takeover; server_no_context_takeover"):
        case(f"13 permessage-deflate: malformed offer \"{offer}\" declined", refused, offer)

    def second_offer():
        p = Pmd(port, "permessage-deflate; bogus, permessage-deflate; server_max_window_bits=10")
        p.c.close()
        if p.params.get("server_max_window_bits") != 10:
            raise Fail(f"answer {p.answer!r}")
    case("13 permessage-deflate: the first acceptable of several offers is chosen", second_offer)

    def rsv_errors(data, code):
        def body():
            p = Pmd(port, "permessage-deflate")
            try:
                p.c.send(data(p))
                p.c.expect_close({code})
            finally:
                p.c.close()
        return body
    case("13 permessage-deflate: RSV1 on a continuation -> 1002", rsv_errors(
        lambda p: frame(OP_TEXT, b"a", fin=False, rsv=4) + frame(OP_CONT, b"b", rsv=4), 1002))
    case("13 permessage-deflate: RSV1 on a ping -> 1002", rsv_errors(
        lambda p: frame(OP_PING, b"a", rsv=4), 1002))
    case("13 permessage-deflate: undecodable data -> 1007", rsv_errors(
        lambda p: frame(OP_BIN, b"\xff\xff\xff\xff", rsv=4), 1007))
    case("13 permessage-deflate: inflated text not UTF-8 -> 1007", rsv_errors(
        lambda p: frame(OP_TEXT, p.compress(b"ok \xff"), rsv=4), 1007))

    def bomb():
        p = Pmd(small_port, "permessage-deflate")
        try:
            p.c.send(frame(OP_BIN, p.compress(bytes(64 << 20)), rsv=4))
            p.c.expect_close({1009})
        finally:
            p.c.close()
    case("13 permessage-deflate: 64 MiB of zeros in 64 KiB on the wire -> 1009", bomb)


def main():
    port, small_port, limit = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
    only = sys.argv[4:] or ["0", "1", "2", "3", "4", "5", "6", "7", "9", "10", "11", "12", "13"]
    side = Side(port)
    side.start()
    cats = {"0": lambda: cat0(port), "11": lambda: cat11(port), "12": lambda: cat12(port), "1": lambda: cat1(port), "2": lambda: cat2(port), "3": lambda: cat3(port),
            "4": lambda: cat4(port), "5": lambda: cat5(port), "6": lambda: cat6(port),
            "7": lambda: cat7(port), "9": lambda: cat9(port),
            "10": lambda: cat10(port, small_port, limit), "13": lambda: cat13(port, small_port)}
    for k in only:
        cats[k]()
    side.stop.set()
    side.join(10)

    def side_check():
        if side.is_alive():
            raise Fail("side connection hung")
        if side.error:
            raise Fail(side.error)
        if side.count < 2:
            raise Fail(f"only {side.count} side echoes")
    case(f"side connection kept echoing during all cases ({side.count} echoes)", side_check)


if __name__ == "__main__":
    main()
