#!/usr/bin/env python3
"""Writes the seed corpus of every fuzzer to tests/fuzz/corpus/<fuzzer>/ (run.sh replays it
before the timed fuzzing). Deterministic: rerunning it rewrites the same files, so a diff
shows a real change. Usage: make_corpus.py [corpus_dir]

The structure-aware fuzzers (fuzz_utf8_struct, fuzz_unmask, fuzz_http_scan) read their input
as a recipe; the encoders below follow the format documented in fuzz_common.h and at the top
of each fuzzer. The seeds aim at the lengths where the kernels change step: around 16, 32, 64,
128 and 256 bytes and their multiples (127/128/129, 255/256/257, ...)."""
import os
import random
import shutil
import sys

EDGES = [16, 32, 64, 128, 256, 16, 64, 0]  # fuzz_common.h FZ_EDGES


def near_edge(value, maximum):
    """The two bytes fz_near_edge(maximum) decodes to value: the largest block size that
    reaches it as k * edge + delta with delta in -16..15."""
    assert 0 <= value <= maximum
    for idx in (4, 3, 2, 1, 0):
        edge = EDGES[idx]
        k = (value + 16) // edge
        delta = value - k * edge
        if -16 <= delta <= 15 and k < 256 and k <= maximum // edge:
            return bytes([idx | (delta + 16) << 3, k])
    return bytes([7, value >> 8, value & 0xff])  # edge 0: anywhere


def cuts(points, length):
    """fz_cuts: a count byte (1 + byte % 5 cuts), then each cut."""
    assert 1 <= len(points) <= 5
    out = bytes([len(points) - 1])
    for p in points:
        out += near_edge(p, length)
    return out


# ---- fuzz_utf8_struct ----------------------------------------------------------------------

MUT = {"none": 0, "flip": 3, "replace": 4, "insert": 5, "delete": 6, "truncate": 7}
MAX_TEXT = 2048
VALUE_BYTES = [1, 2, 2, 3]  # value bytes of a uniform code point, by width


def ascii_run(n):
    """Item: n (1..64) ASCII letters."""
    assert 1 <= n <= 64
    return bytes([2 | (n - 1) << 2])


def edge_char(width, entry):
    """Item: entry (0..7) of the edge code points of that width (1..4)."""
    return bytes([1 | (width - 1) << 2 | entry << 4])


def uniform_char(width, value):
    """Item: a code point of that width from the value bytes (1, 2, 2, 3 of them)."""
    return bytes([(width - 1) << 2]) + value.to_bytes(VALUE_BYTES[width - 1], "big")


def multibyte_char(width, value):
    """Item: as uniform_char, through the multi-byte-only kind (width 2..4)."""
    return bytes([3 | (width - 2) << 2]) + value.to_bytes(VALUE_BYTES[width - 1], "big")


def utf8_recipe(length, items=b"", mut="none", pos=0, val=0, cut_points=(0,)):
    final = {"insert": length + 1, "delete": max(length - 1, 0), "truncate": pos}.get(mut, length)
    return (near_edge(length, MAX_TEXT) + bytes([MUT[mut]]) + near_edge(pos, length) +
            bytes([val]) + cuts(list(cut_points), final) + items)


def mixed_items(rng, n):
    """n random items of every kind."""
    out = b""
    for _ in range(n):
        kind = rng.randrange(4)
        if kind == 0:
            w = rng.randrange(1, 5)
            out += uniform_char(w, rng.randrange(1 << 8 * VALUE_BYTES[w - 1]))
        elif kind == 1:
            out += edge_char(rng.randrange(1, 5), rng.randrange(8))
        elif kind == 2:
            out += ascii_run(rng.randrange(1, 65))
        else:
            w = rng.randrange(2, 5)
            out += multibyte_char(w, rng.randrange(1 << 8 * VALUE_BYTES[w - 1]))
    return out


def utf8_struct_seeds(rng):
    seeds = {}
    lengths = [0, 1, 4, 15, 16, 17, 31, 32, 33, 63, 64, 65, 127, 128, 129, 255, 256, 257,
               1023, 1024, 2047, 2048]
    for n in lengths:
        seeds[f"valid-len{n}-mixed"] = utf8_recipe(n, mixed_items(rng, 24),
                                                   cut_points=(n // 2,))
    # every width alone, long enough for several AVX-512 rounds
    for w in (2, 3, 4):
        items = b"".join(multibyte_char(w, rng.randrange(1 << 8 * VALUE_BYTES[w - 1]))
                         for _ in range(48))
        seeds[f"valid-len257-width{w}"] = utf8_recipe(257, items, cut_points=(128, 129))
    # ASCII up to just before a block edge, then a long character across it
    for edge in (16, 32, 64, 128, 256):
        for w in (2, 3, 4) if edge >= 128 else (2, 4):
            lead = edge - 1
            items = b"".join(ascii_run(min(64, lead - i)) for i in range(0, lead, 64))
            items += edge_char(w, 0) + ascii_run(64) * 2
            seeds[f"valid-straddle{edge}-width{w}"] = utf8_recipe(edge + 130, items,
                                                                  cut_points=(edge, edge + 1))
    # the boundary code points of every width, in a row
    items = b"".join(edge_char(w, e) for w in (1, 2, 3, 4) for e in range(8)) * 3
    seeds["valid-len255-edge-code-points"] = utf8_recipe(255, items, cut_points=(64, 128, 192))
    # one mutation at an edge
    for n, mut, pos, val in [(129, "replace", 128, 0x80), (128, "replace", 127, 0xc0),
                             (256, "insert", 128, 0xed), (257, "delete", 128, 0),
                             (255, "flip", 64, 6), (200, "truncate", 129, 0),
                             (300, "replace", 255, 0xf4), (130, "replace", 0, 0xbf),
                             (1024, "insert", 1023, 0xf0), (64, "replace", 63, 0xff)]:
        seeds[f"{mut}-len{n}-at{pos}"] = utf8_recipe(n, mixed_items(rng, 16), mut, pos, val,
                                                     cut_points=(pos // 2, pos))
    # many small pieces, including empty ones
    seeds["valid-len129-five-cuts"] = utf8_recipe(129, mixed_items(rng, 8),
                                                  cut_points=(1, 2, 2, 64, 128))
    return seeds


# ---- fuzz_utf8 (split byte, then the text itself) ------------------------------------------

def valid_text(rng, length, alphabet):
    """Valid UTF-8 of exactly length bytes from the alphabet's characters, ASCII to finish."""
    out = b""
    while True:
        ch = rng.choice(alphabet).encode()
        if len(out) + len(ch) > length:
            break
        out += ch
    return out + b"z" * (length - len(out))


def utf8_seeds(rng):
    alphabet = ["a", "é", "ß", "€", "中", "\ud7ff", "\ue000", "\uffff", "😀", "\U0010ffff",
                "\U00010000", "\u0800", "\u07ff", "\x7f"]
    seeds = {}
    for n in (15, 16, 17, 31, 32, 33, 63, 64, 65, 127, 128, 129, 255, 256, 257, 511, 1024):
        text = valid_text(rng, n, alphabet)
        seeds[f"valid-len{n}"] = bytes([n // 2 % 256]) + text
        if n >= 64:  # the last character cut open: valid prefix, open at the end
            seeds[f"open-len{n}"] = bytes([0]) + text[:-1] + "€".encode()[:2]
    for bad, name in [(b"\xed\xa0\x80", "surrogate"), (b"\xc0\xaf", "overlong2"),
                      (b"\xe0\x80\xaf", "overlong3"), (b"\xf4\x90\x80\x80", "too-large"),
                      (b"\x80", "stray-cont"), (b"\xff", "ff")]:
        text = valid_text(rng, 127, alphabet)
        seeds[f"bad-{name}-at127"] = bytes([128]) + text + bad + valid_text(rng, 60, alphabet)
    return seeds


# ---- fuzz_unmask ---------------------------------------------------------------------------

def unmask_recipe(rng, length, offset, phase, cut_points):
    return (near_edge(length, 4096) + bytes([offset]) + rng.randbytes(4) + bytes([phase]) +
            cuts(cut_points, length) + rng.randbytes(min(length, 64)))


def unmask_seeds(rng):
    seeds = {}
    lengths = [0, 1, 3, 4, 5, 15, 16, 17, 31, 32, 33, 63, 64, 65, 127, 128, 129, 159, 160, 161,
               255, 256, 257, 511, 512, 513, 1027, 4096]
    for i, n in enumerate(lengths):
        off = [0, 1, 3, 31, 33, 63][i % 6]
        phase = [0, 1, 2, 3, 255][i % 5]
        seeds[f"len{n}-off{off}-phase{phase}"] = unmask_recipe(
            rng, n, off, phase, [n // 3, n // 2] if n else [0])
    seeds["len257-off1-pieces"] = unmask_recipe(rng, 257, 1, 1, [1, 2, 31, 129, 256])
    return seeds


# ---- fuzz_http_scan ------------------------------------------------------------------------

def scan_recipe(rng, value_class, length, bad, offset):
    out = bytes([1 if value_class else 0]) + near_edge(length, 4096)
    if bad is None or length == 0:
        out += bytes([0])
    else:
        out += bytes([1]) + near_edge(bad, length - 1) + bytes([rng.randrange(256)])
    return out + bytes([offset]) + rng.randbytes(min(length, 32))


def http_scan_seeds(rng):
    seeds = {}
    cases = [(0, None), (1, 0), (15, None), (16, 15), (17, 16), (31, 30), (32, None), (33, 32),
             (63, 62), (64, 63), (65, 64), (127, None), (128, 127), (129, 128), (255, 254),
             (256, 255), (257, 256), (300, 256), (511, 300), (512, None), (513, 512),
             (1024, 1000), (4096, 4095)]
    for i, (n, bad) in enumerate(cases):
        for cls in ("value", "target"):
            off = [0, 1, 15, 33, 63][i % 5]
            name = f"{cls}-len{n}-" + ("clean" if bad is None else f"bad{bad}") + f"-off{off}"
            seeds[name] = scan_recipe(rng, cls == "value", n, bad, off)
    return seeds


# ---- the byte-stream fuzzers: hand-made protocol inputs ------------------------------------

def http_seeds(_rng):
    req = (b"GET /chat?x=1 HTTP/1.1\r\nHost: example.com\r\nUpgrade: websocket\r\n"
           b"Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
           b"Sec-WebSocket-Version: 13\r\n\r\n")
    post = (b"POST /up HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n"
            b"5\r\nhello\r\n0\r\n\r\n")
    resp = b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\n"
    long_value = b"GET / HTTP/1.1\r\nX-Long: " + b"v" * 300 + b"\r\n\r\n"
    return {"upgrade-split40": bytes([40]) + req, "chunked-post": bytes([60]) + post,
            "response-101": bytes([10]) + resp, "long-header-value": bytes([200]) + long_value}


def ws_seeds(_rng):
    def frame(opcode, payload, mask=None, fin=True):
        head = bytes([(0x80 if fin else 0) | opcode])
        n = len(payload)
        m = 0x80 if mask else 0
        if n < 126:
            head += bytes([m | n])
        elif n < 65536:
            head += bytes([m | 126]) + n.to_bytes(2, "big")
        else:
            head += bytes([m | 127]) + n.to_bytes(8, "big")
        if mask:
            head += mask
            payload = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
        return head + payload
    key = b"\x12\x34\x56\x78"
    text = "héllo € 😀 ".encode() * 12
    return {
        "server-masked-text": bytes([3, 0]) + frame(1, text, key),
        "server-fragmented": bytes([7, 0]) + frame(1, text[:10], key, fin=False) +
        frame(9, b"ping", key) + frame(0, text[10:], key),
        "client-binary-200": bytes([16, 1]) + frame(2, bytes(range(200))),
        "client-close": bytes([1, 1]) + frame(8, b"\x03\xe8bye"),
    }


def url_seeds(_rng):
    return {"plain": b"ws://example.com/chat", "port-query": b"ws://127.0.0.1:9001/a?b=c",
            "ipv6": b"wss://[::1]:443/", "no-path": b"ws://host"}


FUZZERS = {
    "fuzz_utf8_struct": utf8_struct_seeds,
    "fuzz_utf8": utf8_seeds,
    "fuzz_unmask": unmask_seeds,
    "fuzz_http_scan": http_scan_seeds,
    "fuzz_http": http_seeds,
    "fuzz_ws": ws_seeds,
    "fuzz_url": url_seeds,
}


def main():
    root = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "corpus")
    for name, make in FUZZERS.items():
        out = os.path.join(root, name)
        shutil.rmtree(out, ignore_errors=True)
        os.makedirs(out)
        for seed_name, data in make(random.Random(name)).items():
            with open(os.path.join(out, seed_name), "wb") as f:
                f.write(data)


if __name__ == "__main__":
    main()
