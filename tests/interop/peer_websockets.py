"""python3-websockets (Debian's, the asyncio API) as a peer of wring's example servers.
Prints one line per case, "ok<TAB>desc" or "not<TAB>desc<TAB>why" (see lib.sh tap_from).

Usage: peer_websockets.py echo PORT        echo_server: sizes, fragments, pings, close codes
       peer_websockets.py auth PORT        auth_server: /ws (1008) and /ws-strict (401)
       peer_websockets.py stop PORT PID    echo_server: SIGTERM closes clients with 1001
       peer_websockets.py serve PORT       an echo server on /ws (an upstream for
                                           examples/fiber_proxy), until killed
"""
import asyncio
import os
import signal
import sys

import websockets
from websockets.exceptions import ConnectionClosed, InvalidStatusCode

MIB = 1 << 20
T = 20  # seconds per case


def say(ok, desc, why=""):
    print(f"ok\t{desc}" if ok else f"not\t{desc}\t{why}", flush=True)


async def case(desc, coro):
    try:
        await asyncio.wait_for(coro, T)
    except Exception as e:
        say(False, desc, f"{type(e).__name__}: {e}")
        return
    say(True, desc)


def connect(port, path="/ws", **kw):
    return websockets.connect(f"ws://127.0.0.1:{port}{path}", max_size=None, open_timeout=5,
                              close_timeout=5, ping_interval=None, **kw)


def text_of(n):
    """A text whose UTF-8 form is exactly n bytes, mostly multi-byte characters."""
    s = ("wring ✓ κόσμε 😀 " * (n // 10 + 1)).encode()[:n].decode(errors="ignore")
    return s + "a" * (n - len(s.encode()))


def check(cond, why):
    if not cond:
        raise AssertionError(why)


async def echo(port):
    async with connect(port) as ws:
        for n in (0, 1, 125, 126, 65535, 65536, MIB, 16 * MIB):
            t = "x" * n if n < 126 else text_of(n)
            b = os.urandom(n)

            async def one(t=t, b=b):
                await ws.send(t)
                got = await ws.recv()
                check(got == t, f"text echo differs ({len(got)} chars)")
                await ws.send(b)
                got = await ws.recv()
                check(isinstance(got, bytes) and got == b, "binary echo differs")
            await case(f"websockets: text and binary of {n} bytes echoed", one())

    async with connect(port) as ws:
        async def frag_text():
            parts = ["κό", "σμε", "", " 😀" * 1000]
            await ws.send(iter(parts))
            check(await ws.recv() == "".join(parts), "fragmented text echo differs")
        await case("websockets: fragmented text (iterable) echoed", frag_text())

        async def frag_bin():
            parts = [os.urandom(n) for n in (1, 0, 70000, MIB, 3)]
            await ws.send(iter(parts))
            check(await ws.recv() == b"".join(parts), "fragmented binary echo differs")
        await case("websockets: fragmented binary (iterable) echoed", frag_bin())

        async def frag_async():
            async def gen():
                for i in range(100):
                    yield f"{i},"
            await ws.send(gen())
            check(await ws.recv() == "".join(f"{i}," for i in range(100)), "differs")
        await case("websockets: 100 fragments from an async iterator echoed", frag_async())

        async def ping():
            waiter = await ws.ping(b"are you there")
            await asyncio.wait_for(waiter, 5)
            waiters = [await ws.ping(os.urandom(125)) for _ in range(10)]
            await asyncio.wait_for(asyncio.gather(*waiters), 5)
        await case("websockets: pings answered (1 + 10 x 125 bytes)", ping())

    for code in (1000, 1001, 3000, 4999):
        async def close_code(code=code):
            ws = await connect(port)
            await ws.send("before close")
            check(await ws.recv() == "before close", "echo before close")
            await ws.close(code, "client says bye")
            check(ws.close_code == code, f"server answered close with {ws.close_code}")
        await case(f"websockets: client close {code} echoed by the server", close_code())

    async def too_big():
        ws = await connect(port)
        await ws.send(b"x" * (16 * MIB + 1))
        try:
            await ws.recv()
        except ConnectionClosed as e:
            check(e.rcvd is not None and e.rcvd.code == 1009, f"closed with {e.rcvd}")
            return
        raise AssertionError("no close after 16 MiB + 1")
    await case("websockets: server closes 16 MiB + 1 with 1009", too_big())


async def auth(port):
    async def seed_pattern(header):
        kw = {"extra_headers": {"Authorization": "Bearer t0ken"}} if header else {}
        async with connect(port, "/ws", **kw) as ws:
            if header:
                await ws.send("hi")
                check(await ws.recv() == "hi", "echo with Authorization")
                return
            try:
                await ws.recv()
            except ConnectionClosed as e:
                check(e.rcvd is not None and e.rcvd.code == 1008 and e.rcvd.reason == "unauthorized",
                      f"closed with {e.rcvd}")
                return
            raise AssertionError("no close")
    await case("auth /ws without Authorization: opened, then close 1008 \"unauthorized\"",
               seed_pattern(False))
    await case("auth /ws with Authorization: echo", seed_pattern(True))

    async def strict(header):
        kw = {"extra_headers": {"Authorization": "Bearer t0ken"}} if header else {}
        try:
            async with connect(port, "/ws-strict", **kw) as ws:
                check(header, "upgraded without Authorization")
                await ws.send(b"\x00\x01")
                check(await ws.recv() == b"\x00\x01", "echo with Authorization")
        except InvalidStatusCode as e:
            check(not header, f"refused with {e.status_code} despite Authorization")
            check(e.status_code == 401, f"status {e.status_code}")
            hdrs = getattr(e, "headers", None)
            if hdrs is not None:
                check("Bearer" in hdrs.get("WWW-Authenticate", ""), f"WWW-Authenticate {hdrs}")
    await case("auth /ws-strict without Authorization: HTTP 401 + WWW-Authenticate", strict(False))
    await case("auth /ws-strict with Authorization: echo", strict(True))


async def stop(port, pid):
    async def going_away():
        conns = [await connect(port) for _ in range(3)]
        for ws in conns:
            await ws.send("x")
            check(await ws.recv() == "x", "echo")
        os.kill(pid, signal.SIGTERM)
        for ws in conns:
            try:
                await ws.recv()
            except ConnectionClosed as e:
                check(e.rcvd is not None and e.rcvd.code == 1001, f"closed with {e.rcvd}")
                continue
            raise AssertionError("message instead of close")
    await case("websockets: SIGTERM closes 3 open clients with 1001", going_away())


def big_json(n):
    """JSON-like text of n bytes: what permessage-deflate is for."""
    import json
    items, k = [], 0
    while True:
        items.append({"id": k, "user": f"user{k % 97}", "price": k * 1.25, "ok": k % 3 == 0})
        k += 1
        if k % 200 == 0 and len(json.dumps(items)) >= n:
            break
    return json.dumps(items)[:n]


async def deflate(port):
    """permessage-deflate against echo_server, for each window-bits setting and with and
    without context takeover: the extension is negotiated as asked and large JSON echoes."""
    from websockets.extensions.permessage_deflate import ClientPerMessageDeflateFactory
    msg = big_json(300_000)
    settings = [dict()]
    settings += [dict(server_max_window_bits=b, client_max_window_bits=b) for b in range(9, 16)]
    settings += [dict(client_max_window_bits=True), dict(server_no_context_takeover=True,
                 client_no_context_takeover=True), dict(server_max_window_bits=10,
                 client_no_context_takeover=True)]
    for kw in settings:
        async def one(kw=kw):
            f = ClientPerMessageDeflateFactory(**kw)
            async with connect(port, extensions=[f], compression=None) as ws:
                exts = ws.extensions
                check(len(exts) == 1 and exts[0].name == "permessage-deflate", f"extensions {exts}")
                pm = exts[0]
                if "server_max_window_bits" in kw:
                    check(pm.remote_max_window_bits == kw["server_max_window_bits"],
                          f"server window {pm.remote_max_window_bits}")
                if kw.get("server_no_context_takeover"):
                    check(pm.remote_no_context_takeover, "server_no_context_takeover not agreed")
                for m in (msg, msg[:1000], msg, "short", msg.encode()):
                    await ws.send(m)
                    got = await ws.recv()
                    check(got == m, f"echo differs ({len(got)} of {len(m)})")
        await case(f"websockets: permessage-deflate {kw or 'default offer'} echoes 300 KB JSON", one())


async def serve(port):
    async def echo_handler(ws, path=None):
        async for m in ws:
            await ws.send(m)
    async with websockets.serve(echo_handler, "127.0.0.1", port, max_size=None,
                                ping_interval=None):
        await asyncio.Future()


def main():
    what, port = sys.argv[1], int(sys.argv[2])
    if what == "serve":
        asyncio.run(serve(port))
    elif what == "deflate":
        asyncio.run(deflate(port))
    elif what == "echo":
        asyncio.run(echo(port))
    elif what == "auth":
        asyncio.run(auth(port))
    elif what == "stop":
        asyncio.run(stop(port, int(sys.argv[3])))


if __name__ == "__main__":
    main()
