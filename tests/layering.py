#!/usr/bin/env python3
"""The layering check: fails when a lower layer of lib/ includes or calls a higher one.

Each folder of lib/ is a layer, and may use only the layers listed for it below. "Use" is an
#include of a header that lives in another layer's folder, or a call to (or mention of) a
wr__ function or a public wr_ function that another layer defines. Codec files additionally
do no I/O and no allocation: they call none of the functions in IO_CALLS.

Usage: layering.py LIBDIR             check LIBDIR, print TAP
       layering.py --selftest LIBDIR  check that deliberate breaks, made in copies of LIBDIR,
                                      are caught (and the untouched copy passes)
"""
import os
import re
import shutil
import sys
import tempfile

# Which layers each layer may use (itself always). The core knows no protocol; codecs know
# only codecs; protocols know the core and codecs; client and server wire everything.
ALLOWED = {
    "core": set(),
    "simd": set(),
    "tls": {"core"},
    "http": {"core", "simd"},
    "ws": {"core", "simd", "http"},
    "fiber": {"core", "simd", "http", "ws", "client"},
    "client": {"core", "simd", "http", "ws", "tls"},
    "server": {"core", "simd", "http", "ws", "tls", "fiber"},
}
# Pure functions: no I/O, no allocation, and no layer but other codecs (the core is I/O).
CODECS = {
    "simd": None,  # every file
    "http": {"http_parse.c", "http_parse.h", "http_chunked.c"},
    "ws": {"ws_codec.h", "ws_parse.c", "ws_frame.c", "ws_handshake.c", "sha1.c", "sha1.h",
           "base64.c", "base64.h", "deflate_codec.h", "deflate_negotiate.c", "topic.c", "topic.h"},
    "client": {"url.c", "url.h"},
}
CODEC_MAY_USE = {"simd", "http", "ws", "client"}  # and only their codec files
IO_CALLS = {"malloc", "calloc", "realloc", "free", "aligned_alloc", "mmap", "munmap",
            "read", "write", "send", "recv", "sendmsg", "recvmsg", "socket", "connect",
            "accept", "accept4", "bind", "listen", "close", "poll", "epoll_wait", "open",
            "fopen", "getaddrinfo", "printf", "fprintf", "puts"}


def is_codec(layer, name):
    files = CODECS.get(layer, set())
    return layer in CODECS and (files is None or name in files)


def strip_comments(text):
    """Comments out; string literals emptied, except the names in #include lines."""
    text = re.sub(r"/\*.*?\*/", lambda m: "\n" * m.group(0).count("\n"), text, flags=re.S)
    text = re.sub(r"//[^\n]*", "", text)
    lines = []
    for line in text.split("\n"):
        if not re.match(r"\s*#\s*include", line):
            line = re.sub(r'"(?:\\.|[^"\\])*"', '""', line)
        lines.append(line)
    return "\n".join(lines)


def scan(libdir):
    """-> ({header name: layer}, {symbol: (layer, file)}, [(layer, file, text)])"""
    headers, symbols, files = {}, {}, []
    for layer in sorted(os.listdir(libdir)):
        d = os.path.join(libdir, layer)
        if not os.path.isdir(d):
            continue
        for name in sorted(os.listdir(d)):
            if not name.endswith((".c", ".h")):
                continue
            text = strip_comments(open(os.path.join(d, name), errors="replace").read())
            files.append((layer, name, text))
            if name.endswith(".h"):
                headers[name] = layer
                # wr__ functions and types declared in a header belong to its layer.
                for m in re.finditer(r"\b(wr__\w+)\s*\(", text):
                    symbols.setdefault(m.group(1), (layer, name))
            else:
                # Functions defined at file scope (public wr_ and internal wr__).
                for m in re.finditer(r"^[A-Za-z_][\w \*]*?\b(wr_{1,2}\w+)\s*\([^;{]*\)\s*\{",
                                     text, flags=re.M):
                    symbols.setdefault(m.group(1), (layer, name))
                for m in re.finditer(r"^(?:const\s+)?wr_\w+\s+(wr__\w+)\s*=", text, flags=re.M):
                    symbols.setdefault(m.group(1), (layer, name))
    # Header-defined objects (extern const tables).
    for layer, name, text in files:
        if name.endswith(".h"):
            for m in re.finditer(r"extern\s+const\s+\w+\s+(wr__\w+)\s*;", text):
                symbols.setdefault(m.group(1), (layer, name))
    return headers, symbols, files


def may_use(layer, name, other_layer, other_file):
    if other_layer == layer:
        if is_codec(layer, name):
            return is_codec(other_layer, other_file)
        return True
    if is_codec(layer, name):
        return other_layer in CODEC_MAY_USE and is_codec(other_layer, other_file)
    return other_layer in ALLOWED.get(layer, set())


def check(libdir):
    headers, symbols, files = scan(libdir)
    problems = []
    for layer, name, text in files:
        if layer not in ALLOWED:
            problems.append(f"lib/{layer}: a folder that is no layer (add it to layering.py)")
            continue
        for m in re.finditer(r'^\s*#\s*include\s*"([^"]+)"', text, flags=re.M):
            if m.group(1).startswith("wring/"):
                continue  # a public header (include/wring), open to every layer
            inc = os.path.basename(m.group(1))
            if inc in headers and not may_use(layer, name, headers[inc], inc):
                problems.append(f"lib/{layer}/{name} includes {inc} of layer {headers[inc]}")
        for m in re.finditer(r"\b(wr_{1,2}\w+)\b", text):
            sym = m.group(1)
            if sym in symbols:
                ol, of = symbols[sym]
                if not may_use(layer, name, ol, of):
                    problems.append(f"lib/{layer}/{name} uses {sym} of lib/{ol}/{of}")
        if is_codec(layer, name):
            for m in re.finditer(r"(?<![\w.>])(\w+)\s*\(", text):
                if m.group(1) in IO_CALLS:
                    problems.append(f"lib/{layer}/{name} (a codec) calls {m.group(1)}")
    return sorted(set(problems)), len(files)


def run(libdir):
    problems, n = check(libdir)
    print("1..2")
    print(f"ok 1 - {n} files of {libdir} scanned")
    if problems:
        print(f"not ok 2 - the layering holds: {len(problems)} violations")
        for p in problems:
            print(f"#   {p}")
        return 1
    print("ok 2 - the layering holds")
    return 0


# Deliberate breaks: (file to edit, text appended, what the check must report).
BREAKS = [
    ("core/conn.c", '\n#include "ws.h"\n', "includes ws.h"),
    ("core/reactor.c", "\nstatic void f(wr_conn *c) { wr__http_attach(c, 0); }\n",
     "uses wr__http_attach"),
    ("http/http_conn.c", "\nstatic void g(wr_conn *c) { wr__ws_state_free(c); }\n",
     "uses wr__ws_state_free"),
    ("ws/ws_parse.c", "\nstatic void *h(void) { return malloc(4); }\n", "calls malloc"),
    ("simd/utf8.c", '\n#include "reactor.h"\n', "includes reactor.h"),
    ("tls/tls.c", "\nstatic void k(void) { wr_ws_close(0, 1000, 0); }\n", "uses wr_ws_close"),
]


def selftest(libdir):
    print(f"1..{len(BREAKS) + 1}")
    failed = 0
    with tempfile.TemporaryDirectory() as tmp:
        copy = os.path.join(tmp, "lib")
        shutil.copytree(libdir, copy)
        problems, _ = check(copy)
        if problems:
            failed += 1
            print("not ok 1 - the untouched copy passes")
            for p in problems:
                print(f"#   {p}")
        else:
            print("ok 1 - the untouched copy passes")
        for i, (path, text, want) in enumerate(BREAKS, 2):
            target = os.path.join(copy, path)
            orig = open(target).read()
            open(target, "w").write(orig + text)
            problems, _ = check(copy)
            open(target, "w").write(orig)
            hit = [p for p in problems if want in p and path in p]
            if hit:
                print(f"ok {i} - {path} + a deliberate break is caught: {hit[0]}")
            else:
                failed += 1
                print(f"not ok {i} - {path} + a deliberate break ({want}) is not caught")
    return 1 if failed else 0


if __name__ == "__main__":
    args = sys.argv[1:]
    if args and args[0] == "--selftest":
        sys.exit(selftest(args[1]))
    sys.exit(run(args[0] if args else os.path.join(os.path.dirname(__file__), "..", "lib")))
