#!/usr/bin/python3
"""A small WebSocket echo server for testing fastws_bench before fastws has its own.

Uses the Debian `websockets` module (python3-websockets). Prints "listening on 127.0.0.1:PORT"
once it accepts connections (--port 0 picks a free port). Two faults can be switched on to check
that the load generator notices a wrong echo or a closed connection.
"""
import argparse
import asyncio

import websockets


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--corrupt-every", type=int, default=0, metavar="N",
                        help="flip the last byte of every Nth echoed message on a connection")
    parser.add_argument("--stale-every", type=int, default=0, metavar="N",
                        help="send the previous message again instead of every Nth one")
    parser.add_argument("--close-after", type=int, default=0, metavar="N",
                        help="close each connection (code 1000) after echoing N messages")
    return parser.parse_args()


def make_handler(args):
    async def echo(websocket, _path=None):
        count = 0
        previous = None
        async for message in websocket:
            count += 1
            reply = message
            if args.corrupt_every and count % args.corrupt_every == 0:
                data = bytearray(message)
                data[-1] ^= 0xFF
                reply = bytes(data)
            if args.stale_every and count % args.stale_every == 0 and previous is not None:
                reply = previous
            previous = message
            await websocket.send(reply)
            if args.close_after and count >= args.close_after:
                await websocket.close(1000, "done")
                return
    return echo


async def serve(args):
    # No compression and no size limit: the echo must be byte-exact and the load generator may
    # send large messages.
    async with websockets.serve(make_handler(args), "127.0.0.1", args.port, compression=None,
                                max_size=None) as server:
        port = server.sockets[0].getsockname()[1]
        print(f"listening on 127.0.0.1:{port}", flush=True)
        await asyncio.Future()


if __name__ == "__main__":
    asyncio.run(serve(parse_args()))
