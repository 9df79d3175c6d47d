#!/usr/bin/env python3
"""Python's websockets against a fastws echo server in the shared-compressor mode
(shared_deflate_test.cpp): 16 connections at once, half of them offering
client_no_context_takeover, echo messages of several sizes concurrently, so that the server's
loop interleaves them. Each size starts with the last one (a server that kept context would refer
back to it). websockets checks RSV1 and inflates what arrives; this checks the agreed header and
every echo. Prints "ok   ..." / "FAIL ..." lines; exits nonzero on a failure.

    python_shared_deflate_peer.py PORT
"""
import asyncio
import random
import sys

import websockets
from websockets.extensions.permessage_deflate import ClientPerMessageDeflateFactory

CONNECTIONS = 16
SIZES = (64, 1000, 20_000, 300_000)
WORDS = ["alpha ", "bravo ", "charlie ", "delta ", "echo ", "fox ", "golf ", "hotel "]


def text_for(connection: int) -> str:
    rng = random.Random(connection)
    return "".join(rng.choice(WORDS) for _ in range(SIZES[-1] // 4))[: SIZES[-1]]


async def one_connection(url: str, connection: int) -> list[str]:
    problems = []
    drops_context = connection % 2 == 1
    factory = ClientPerMessageDeflateFactory(
        client_no_context_takeover=drops_context, client_max_window_bits=True)
    async with websockets.connect(url, extensions=[factory], compression=None,
                                  max_size=1 << 24) as ws:
        agreed = ws.response_headers.get("Sec-WebSocket-Extensions", "")
        if "server_no_context_takeover" not in agreed:
            problems.append(f"connection {connection}: agreed {agreed!r}")
        if ("client_no_context_takeover" in agreed) != drops_context:
            problems.append(f"connection {connection}: agreed {agreed!r}")
        text = text_for(connection)
        for size in SIZES:
            await ws.send(text[:size])
            echo = await ws.recv()
            if echo != text[:size]:
                problems.append(f"connection {connection}: echo of {size} differs")
            await asyncio.sleep(0)  # let the other connections' messages in between
    return problems


async def main(port: int) -> int:
    url = f"ws://127.0.0.1:{port}/"
    print(f"     websockets {websockets.__version__}, {url}", flush=True)
    results = await asyncio.gather(*(one_connection(url, i) for i in range(CONNECTIONS)))
    problems = [p for r in results for p in r]
    for problem in problems:
        print("FAIL " + problem, flush=True)
    if not problems:
        print(f"ok   every echo of {CONNECTIONS} connections, sizes {SIZES}", flush=True)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main(int(sys.argv[1]))))
