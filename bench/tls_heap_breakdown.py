#!/usr/bin/python3
"""What stays allocated per idle wss connection, by call stack (heaptrack).

Runs the echo example over TLS under heaptrack, opens CONNECTIONS idle wss connections (TLS
handshake, then the WebSocket upgrade, as tls_idle_memory.py does), kills the server with the
connections open, so that heaptrack's "leaked" memory is what the open connections hold, and
prints the allocation sites that ran about once (or more) per connection: bytes per connection,
allocations per connection, and the innermost frames. Needs heaptrack and heaptrack_print.

  /usr/bin/python3 bench/tls_heap_breakdown.py [BUILD_DIR] [CONNECTIONS]
"""
import os
import re
import resource
import signal
import ssl
import subprocess
import sys
import tempfile
import time

from tls_idle_memory import make_certificate, open_connections

SIZE = re.compile(r"^(\S+) leaked over (\d+) calls from(:?)$")
UNITS = {"K": 1024, "M": 1024 ** 2, "G": 1024 ** 3}
# Frames every stack ends with: they say nothing about the allocation.
NOISE = ("fastws::net::EventLoop", "fastws::net::EventLoops", "main", "fastws::detail::Connection::on_io")


def bytes_of(text: str) -> float:
    text = text.rstrip("B")
    return float(text[:-1]) * UNITS[text[-1]] if text[-1] in UNITS else float(text)


def heaptrack_leaks(output: str) -> str:
    return subprocess.run(["heaptrack_print", "-f", output, "--print-leaks", "1",
                           "--print-peaks", "0", "--print-allocators", "0",
                           "--print-temporary", "0", "-n", "100", "-s", "100",
                           "--print-histogram", os.devnull],
                          capture_output=True, text=True, check=True).stdout


def sites(report: str):
    """(bytes, calls, frames) of each call stack heaptrack_print lists under MEMORY LEAKS."""
    lines = report.split("\n")
    allocator = None
    at = 0
    while at < len(lines):
        found = SIZE.match(lines[at])
        if found and not found.group(3):  # a group's allocation function follows
            allocator = lines[at + 1].strip()
            at += 2
            continue
        if found:
            frames, at = [allocator], at + 1
            while at < len(lines) and lines[at].startswith("    "):
                if not lines[at].strip().startswith("in "):
                    frames.append(lines[at].strip())
                at += 1
            yield bytes_of(found.group(1)), int(found.group(2)), frames
            continue
        at += 1


def main() -> int:
    build_dir = sys.argv[1] if len(sys.argv) > 1 else "build/release"
    connections = int(sys.argv[2]) if len(sys.argv) > 2 else 2000
    binary = os.path.join(build_dir, "examples", "echo")
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    with tempfile.TemporaryDirectory() as directory:
        cert, key = make_certificate(directory)
        output = os.path.join(directory, "heaptrack")
        server = subprocess.Popen(["heaptrack", "-o", output, binary, "--port", "0",
                                   "--threads", "1", "--cert", cert, "--key", key],
                                  stdout=subprocess.PIPE, text=True)
        line = server.stdout.readline()
        while line and "listening" not in line:
            line = server.stdout.readline()
        port = int(re.search(r":(\d+)/", line).group(1))
        held = open_connections(port, connections, ssl.create_default_context(cafile=cert))
        time.sleep(1.0)  # heaptrack writes its data on a timer
        echo = subprocess.check_output(["pgrep", "-P", str(server.pid), "-x", "echo"]).split()[0]
        os.kill(int(echo), signal.SIGKILL)  # with the connections open: they are the leaks
        server.wait()
        for sock in held:
            sock.close()
        report = heaptrack_leaks(output + ".zst")
    total = 0.0
    print(f"{'bytes/conn':>10} {'allocs/conn':>11}  innermost frames")
    for size, calls, frames in sorted(sites(report), key=lambda site: -site[0]):
        if calls < 0.95 * connections or size < connections:
            continue
        per_connection = size / connections
        total += per_connection
        shown = [frame for frame in frames if not frame.startswith(NOISE)][:5]
        print(f"{per_connection:>10.0f} {calls / connections:>11.1f}  " + " < ".join(shown))
    print(f"{total:>10.0f} in all ({connections} idle wss connections, one loop)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
