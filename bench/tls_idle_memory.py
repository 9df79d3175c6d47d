#!/usr/bin/python3
"""Server and client memory per idle WebSocket connection, plain and over TLS, in the same run.

Server: starts the echo example twice (ws://, then wss:// with a certificate made here by the
openssl command), opens WARMUP connections from Python (one-time costs: OpenSSL's tables,
arenas), reads the server's VmRSS, opens CONNECTIONS more (TLS handshake where there is one, then
the WebSocket upgrade), reads VmRSS again and prints (after - before) / CONNECTIONS for each, and
the ratio. Client: the same against a fresh echo example with fastws's client, BUILD_DIR's
bench/client_load idle (skipped when it is not built), which reads its own VmRSS likewise; its
warm-up is at least CLIENT_HANDSHAKES_IN_FLIGHT connections, so that the memory of that many
concurrent handshakes (freed, not given back) is taken before the first reading.
User-space memory only: the kernel's socket buffers are not in VmRSS. What the wss server figure
is made of, by call stack: bench/tls_heap_breakdown.py.

  /usr/bin/python3 bench/tls_idle_memory.py [BUILD_DIR] [CONNECTIONS] [WARMUP]
"""
import os
import re
import resource
import socket
import ssl
import subprocess
import sys
import tempfile

UPGRADE = (b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
           b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n")


def rss_bytes(pid: int) -> int:
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    raise RuntimeError("no VmRSS")


def start(binary: str, flags: list[str]) -> tuple[subprocess.Popen, int]:
    server = subprocess.Popen([binary, "--port", "0", "--threads", "1", *flags],
                              stdout=subprocess.PIPE, text=True)
    line = server.stdout.readline()
    found = re.search(r"listening on wss?://127\.0\.0\.1:(\d+)/", line)
    if not found:
        server.kill()
        raise RuntimeError(f"no URL from {binary}: {line!r}")
    return server, int(found.group(1))


def open_connections(port: int, count: int, context: ssl.SSLContext | None) -> list:
    held = []
    for _ in range(count):
        sock = socket.create_connection(("127.0.0.1", port), timeout=10)
        if context is not None:
            sock = context.wrap_socket(sock, server_hostname="localhost")
        sock.sendall(UPGRADE)
        head = b""
        while b"\r\n\r\n" not in head:
            chunk = sock.recv(4096)
            if not chunk:
                raise RuntimeError("closed during the upgrade")
            head += chunk
        if b" 101 " not in head.split(b"\r\n")[0]:
            raise RuntimeError(f"upgrade refused: {head[:80]!r}")
        held.append(sock)
    return held


def make_certificate(directory: str) -> tuple[str, str]:
    """A self-signed P-256 certificate for localhost and its key, as PEM files in `directory`."""
    cert, key = os.path.join(directory, "cert.pem"), os.path.join(directory, "key.pem")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                    "ec_paramgen_curve:P-256", "-nodes", "-days", "1", "-subj", "/CN=localhost",
                    "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1", "-keyout", key,
                    "-out", cert],
                   check=True, capture_output=True)
    return cert, key


def measure(binary: str, flags: list[str], context, connections: int, warmup: int) -> float:
    server, port = start(binary, flags)
    try:
        warm = open_connections(port, warmup, context)
        before = rss_bytes(server.pid)
        held = open_connections(port, connections, context)
        after = rss_bytes(server.pid)
        for sock in warm + held:
            sock.close()
        return (after - before) / connections
    finally:
        server.terminate()
        server.wait(timeout=10)


# client_load opens connections with up to this many handshakes in flight.
CLIENT_HANDSHAKES_IN_FLIGHT = 500


def measure_client(build_dir: str, flags: list[str], cert: str | None, connections: int,
                   warmup: int) -> float:
    """fastws's client memory per idle connection (client_load idle), against a fresh echo."""
    server, port = start(os.path.join(build_dir, "examples", "echo"), flags)
    try:
        command = [os.path.join(build_dir, "bench", "client_load"), "idle", "--port", str(port),
                   "--connections", str(connections), "--warmup-connections",
                   str(max(warmup, CLIENT_HANDSHAKES_IN_FLIGHT))]
        if cert is not None:
            command += ["--ca-file", cert]
        line = subprocess.run(command, check=True, capture_output=True, text=True).stdout
        found = re.search(r"client_bytes_per_conn=(-?\d+)", line)
        if not found:
            raise RuntimeError(f"no figure from client_load: {line!r}")
        return float(found.group(1))
    finally:
        server.terminate()
        server.wait(timeout=10)


def main() -> int:
    build_dir = sys.argv[1] if len(sys.argv) > 1 else "build/release"
    connections = int(sys.argv[2]) if len(sys.argv) > 2 else 2000
    warmup = int(sys.argv[3]) if len(sys.argv) > 3 else 200
    binary = os.path.join(build_dir, "examples", "echo")
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    with tempfile.TemporaryDirectory() as directory:
        cert, key = make_certificate(directory)
        context = ssl.create_default_context(cafile=cert)
        tls_flags = ["--cert", cert, "--key", key]
        plain = measure(binary, [], None, connections, warmup)
        secure = measure(binary, tls_flags, context, connections, warmup)
        client_load = os.path.join(build_dir, "bench", "client_load")
        clients = None
        if os.access(client_load, os.X_OK):
            clients = (measure_client(build_dir, [], None, connections, warmup),
                       measure_client(build_dir, tls_flags, cert, connections, warmup))
    print(f"{'server':<12}{'bytes per idle connection':>28}{'x plain':>10}")
    print(f"{'fastws ws':<12}{plain:>28.0f}{1.0:>10.2f}")
    print(f"{'fastws wss':<12}{secure:>28.0f}{secure / plain:>10.2f}")
    print(f"({connections} connections after {warmup} warm-up ones, server VmRSS growth, one loop)")
    if clients is None:
        print(f"(client: skipped, {client_load} is not built)")
        return 0
    print()
    print(f"{'client':<12}{'bytes per idle connection':>28}{'x plain':>10}")
    print(f"{'fastws ws':<12}{clients[0]:>28.0f}{1.0:>10.2f}")
    print(f"{'fastws wss':<12}{clients[1]:>28.0f}{clients[1] / clients[0]:>10.2f}")
    print(f"(client_load idle: {connections} connections after "
          f"{max(warmup, CLIENT_HANDSHAKES_IN_FLIGHT)} warm-up ones, client VmRSS growth, one loop)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
