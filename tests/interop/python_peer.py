#!/usr/bin/python3
"""A real third-party peer for fastws: Debian's python3-websockets client.

Usage: python_peer.py PORT [--compress] [--tls CA_FILE]
Echo checks of several sizes up to 16 MiB (text and binary), a fragmented message each way, a
ping each way, a subprotocol, and a close with a code each way;
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

    print(f"     websockets {websockets.__version__} on Python {sys.version.split()[0]}, {url}",
          flush=True)
    async with websockets.connect(
        url,
        compression="deflate" if compress else None,
        subprotocols=["chat.v2", "chat.v1"],
        max_size=32 << 20,
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
        # The server's default max_message_size, exactly (ASCII: 16 MiB of characters is 16 MiB
        # of UTF-8).
        size = 16 << 20
        text = "0123456789abcdef" * (size // 16)
        await ws.send(text)
        check(f"text echo of {size} characters (16 MiB)", await ws.recv() == text)
        data = bytes(range(256)) * (size // 256)
        await ws.send(data)
        check(f"binary echo of {size} bytes (16 MiB)", await ws.recv() == data)
        # websockets sends an iterable as the fragments of one message.
        await ws.send(["frag-one ", "frag-two ", "frag-three"])
        check("text sent in 3 fragments echoed whole",
              await ws.recv() == "frag-one frag-two frag-three")
        await ws.send("fragments please")
        check("fragmented message from the server reassembled", await ws.recv() == "fragmented ✓")
        pong = await ws.ping(b"are you there")
        await asyncio.wait_for(pong, 5)
        check("ping answered with a pong", True)
        await ws.send("ping me")
        check("server's ping answered with a pong",
              await asyncio.wait_for(ws.recv(), 5) == "pong received")
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
