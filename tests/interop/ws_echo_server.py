#!/usr/bin/python3
"""A small WebSocket echo server on a third-party library, for fastws_bench and for the fastws
client's interop tests (tests/integration/client_interop_test.cpp).

Uses the Debian `websockets` module (python3-websockets). Prints "listening on 127.0.0.1:PORT"
once it accepts connections (--port 0 picks a free port), and "closed CODE REASON" when a
connection ends. Echoes each message with its type; the text "close please" is answered by
closing with 4002 "as you asked". --compress accepts permessage-deflate. Faults can be switched
on to check that the load generator notices a wrong echo or a closed connection.
"""
import argparse
import asyncio

import websockets


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--compress", action="store_true",
                        help="accept permessage-deflate (the websockets default settings)")
    parser.add_argument("--corrupt-every", type=int, default=0, metavar="N",
                        help="flip the last byte of every Nth echoed message on a connection")
    parser.add_argument("--stale-every", type=int, default=0, metavar="N",
                        help="send the previous message again instead of every Nth one")
    parser.add_argument("--close-after", type=int, default=0, metavar="N",
                        help="close each connection (code 1000) after echoing N messages")
    return parser.parse_args()


def make_handler(args):
    async def echo(websocket, _path=None):
        try:
            await echo_messages(websocket)
        except websockets.ConnectionClosed:
            pass
        print(f"closed {websocket.close_code} {websocket.close_reason}", flush=True)

    async def echo_messages(websocket):
        count = 0
        previous = None
        async for message in websocket:
            if message == "close please":
                await websocket.close(4002, "as you asked")
                return
            count += 1
            reply = message
            if args.corrupt_every and count % args.corrupt_every == 0:
                if isinstance(message, str):
                    # Text stays valid UTF-8: the last character changes.
                    reply = message[:-1] + chr(ord(message[-1]) ^ 0x01)
                else:
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
    # No size limit: the load generator and the interop tests send large messages. Compression
    # only when asked: the load generator checks the echo's bytes on the wire.
    async with websockets.serve(make_handler(args), "127.0.0.1", args.port,
                                compression="deflate" if args.compress else None,
                                max_size=None) as server:
        port = server.sockets[0].getsockname()[1]
        print(f"listening on 127.0.0.1:{port}", flush=True)
        await asyncio.Future()


if __name__ == "__main__":
    asyncio.run(serve(parse_args()))
