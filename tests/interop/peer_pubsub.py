"""python3-websockets (Debian's, the asyncio API) subscribing to wring's examples/pubsub_server:
plain and permessage-deflate subscribers on two reactors, wildcards, order per publisher, the
ticker thread, the page, the counts. Prints one line per case, "ok<TAB>desc" or
"not<TAB>desc<TAB>why" (see lib.sh tap_from).

Usage: peer_pubsub.py PORT
"""
import asyncio
import json
import sys
import urllib.request

import websockets

T = 20


def say(ok, desc, why=""):
    print(f"ok\t{desc}" if ok else f"not\t{desc}\t{why}", flush=True)


async def case(desc, coro):
    try:
        await asyncio.wait_for(coro, T)
    except Exception as e:
        say(False, desc, f"{type(e).__name__}: {e}")
        return
    say(True, desc)


def connect(port, path, deflate=False):
    return websockets.connect(f"ws://127.0.0.1:{port}{path}", max_size=None, open_timeout=5,
                              close_timeout=5, ping_interval=None,
                              compression="deflate" if deflate else None)


def stats(port):
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/stats", timeout=5) as r:
        return json.load(r)


async def order_and_wildcards(port):
    subs = []
    for i in range(8):
        s = await connect(port, "/sub?topic=prices.*&topic=news", deflate=i % 2 == 1)
        subs.append(s)
    ext = [s.response_headers.get("Sec-WebSocket-Extensions", "") for s in subs]
    assert all("permessage-deflate" in e for e in ext[1::2]), ext
    assert not any(ext[0::2]), ext
    pubs = [await connect(port, "/pub?topic=prices.btc"), await connect(port, "/pub?topic=news")]
    n = 300
    for i in range(n):
        await pubs[0].send(f"btc {i}")
        await pubs[1].send(f"news {i} " + "x" * 200)  # above the deflate threshold
    for k, s in enumerate(subs):
        nxt = {"btc": 0, "news": 0}
        while nxt["btc"] < n or nxt["news"] < n:
            m = await s.recv()
            if m.startswith("{"):
                continue
            name, seq = m.split(" ")[:2]
            assert int(seq) == nxt[name], f"subscriber {k}: {name} {seq}, expected {nxt[name]}"
            nxt[name] += 1
    for s in subs + pubs:
        await s.close()


async def not_subscribed(port):
    s = await connect(port, "/sub?topic=a.b")
    p = await connect(port, "/pub?topic=a.c")
    await p.send("not for you")
    q = await connect(port, "/pub?topic=a.b")
    await q.send("for you")
    m = await s.recv()
    assert m == "for you", m
    for c in (s, p, q):
        await c.close()


async def ticker(port, deflate):
    s = await connect(port, "/sub?topic=ticker", deflate=deflate)
    ts = []
    while len(ts) < 4:
        m = json.loads(await s.recv())
        assert m["symbol"] == "WRNG" and isinstance(m["price"], float), m
        ts.append(m["t"])
    assert ts == sorted(ts) and len(set(ts)) == 4, ts
    await s.close()


async def counts(port):
    st = stats(port)
    assert st["published"] >= 602 and st["delivered"] >= 8 * 600, st
    assert st["compressed"] >= 1, st
    # every subscriber of the cases above has gone: its subscriptions with it
    for _ in range(50):
        st = stats(port)
        if st["subscriptions"] == 0:
            break
        await asyncio.sleep(0.1)
    assert st["subscriptions"] == 0, st


async def page(port):
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=5) as r:
        body = r.read().decode()
    assert "sub?topic=ticker" in body and "<script>" in body, body[:200]


async def main():
    port = int(sys.argv[1])
    await case("python websockets subscribers (plain and deflate, two reactors): every message "
               "of two publishers, in order, through a wildcard", order_and_wildcards(port))
    await case("a topic not subscribed is not delivered", not_subscribed(port))
    await case("the ticker thread's publications reach a plain subscriber", ticker(port, False))
    await case("... and a permessage-deflate subscriber", ticker(port, True))
    await case("GET / serves the ticker page", page(port))
    await case("GET /stats: published, delivered, compressed; no subscription left after close",
               counts(port))


asyncio.run(main())
