#!/usr/bin/python3
"""A real third-party peer for fastws: Debian's python3-websockets client.

Usage: python_peer.py PORT [--compress] [--tls CA_FILE]
Echo checks of several sizes (text and binary), a ping, a subprotocol, and a clean close;
prints one line per check and exits 0 only if all passed. With --compress the client offers
permessage-deflate (the default of websockets) and checks that the server accepted it. With
--tls it connects with wss://, verifying the server's certificate against CA_FILE.
"""
import asyncio
import ssl
import sys

import websockets


async def main(port: int, compress: bool, ca_file: str | None) -> int:
    secure = None
    if ca_file:
        secure = ssl.create_default_context(cafile=ca_file)
        secure.set_alpn_protocols(["http/1.1"])
    url = f"{'wss' if secure else 'ws'}://127.0.0.1:{port}/"
    failures = 0

    def check(name: str, ok: bool) -> None:
        nonlocal failures
        print(("ok   " if ok else "FAIL ") + name, flush=True)
        failures += 0 if ok else 1

    async with websockets.connect(
        url,
        compression="deflate" if compress else None,
        subprotocols=["chat.v2", "chat.v1"],
        max_size=4 << 20,
        ssl=secure,
    ) as ws:
        if secure:
            tls = ws.transport.get_extra_info("ssl_object")
            check(f"TLS {tls.version()} with ALPN {tls.selected_alpn_protocol()}",
                  tls.selected_alpn_protocol() == "http/1.1")
        negotiated = ws.response_headers.get("Sec-WebSocket-Extensions", "")
        check(f"permessage-deflate negotiated={bool(negotiated)}",
              ("permessage-deflate" in negotiated) == compress)
        check("subprotocol chat.v1 chosen", ws.subprotocol == "chat.v1")
        for size in (0, 125, 126, 65535, 65536, 1 << 20):
            text = ("κόσμε-" * (size // 11 + 1))[:size]
            await ws.send(text)
            check(f"text echo of {size} characters", await ws.recv() == text)
            data = bytes((i * 31) & 0xFF for i in range(size))
            await ws.send(data)
            check(f"binary echo of {size} bytes", await ws.recv() == data)
        pong = await ws.ping(b"are you there")
        await asyncio.wait_for(pong, 5)
        check("ping answered with a pong", True)
        await ws.close(code=1000, reason="bye")
        check("clean close 1000 from the client", ws.close_code == 1000)

    # The server closes: it answers "close please" by closing with 4001.
    async with websockets.connect(url, compression=None, ssl=secure) as ws:
        await ws.send("close please")
        try:
            await asyncio.wait_for(ws.recv(), 5)
        except websockets.ConnectionClosed:
            pass
        check("server-initiated close code 4001", ws.close_code == 4001)
    return 1 if failures else 0


if __name__ == "__main__":
    options = sys.argv[2:]
    ca = options[options.index("--tls") + 1] if "--tls" in options else None
    sys.exit(asyncio.run(main(int(sys.argv[1]), "--compress" in options, ca)))
