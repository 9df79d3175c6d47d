#!/usr/bin/python3
"""A client testee on Python websockets (Debian's), for checking fastws-conformance's fuzzing
server against a client it did not come from (scripts/conformance-peers.sh).

Usage: autobahn_testee.py ws://127.0.0.1:PORT [AGENT]
Asks /getCaseCount, plays every case on its own connection (echoing each message back as it
came), then asks /updateReports. Limits as the official suite's websockets testee sets them:
messages up to 32 MiB, no queue of unread messages.
"""
import asyncio
import sys

import websockets


async def play(url):
    try:
        async with websockets.connect(url, max_size=2**25, max_queue=1) as ws:
            async for message in ws:
                await ws.send(message)
    except (websockets.exceptions.WebSocketException, OSError):
        pass  # the case's verdict says what went wrong


async def main(base, agent):
    async with websockets.connect(base + "/getCaseCount") as ws:
        count = int(await ws.recv())
    for case in range(1, count + 1):
        await play(f"{base}/runCase?case={case}&agent={agent}")
    async with websockets.connect(f"{base}/updateReports?agent={agent}") as ws:
        await ws.wait_closed()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1].rstrip("/"), sys.argv[2] if len(sys.argv) > 2 else "websockets"))
