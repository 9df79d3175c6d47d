#!/usr/bin/python3
"""The report of bench/compare: medians of its rounds, ratios to fastws and to the TCP echo, a
printed table, and (when asked) docs/benchmarks.md and PNG charts (matplotlib, if installed).

  compare_report.py RESULTS.tsv RUN.txt [--markdown FILE] [--charts DIR] [--require-figures]

RESULTS.tsv has one line per run: measurement, server, run, status (ok, failed, unsupported) and
fastws_bench's key=value line (or why it failed). RUN.txt holds key=value lines about the run.
With --require-figures the exit status is 1 when a measurement that a server supports produced no
figure for it (the smoke test's check).
"""

import argparse
import os
import statistics
import sys


NOTES = """## How to read these figures

- The servers are the same program in each library (bench/peers/): echo on any path, broadcast on
  `/broadcast`, one thread or event loop, written the way each library's own examples write it.
  fastws is `examples/echo --threads 1` and `bench/load/fastws_broadcast_server --threads 1`; the
  TCP baselines are `bench/load/tcp_echo_server` and `tcp_broadcast_server`.
- Per server CPU-second counts all of a server's threads: Node's helper threads and Go's runtime
  threads are in it (all pinned to the server's core), so it stays comparable.
- Every echo is checked byte for byte, so a server must send each message back as one frame; a
  run that sees anything else fails rather than counting it.
- Rated: each connection sends its messages on a 1 ms clock whatever comes back, as tcpkali
  does; a server that cannot keep up shows fewer messages echoed than sent (within 2 s after
  sending stops). Per server CPU-second is then echoed messages per CPU-second.
- Handshakes: the load generator pays for the connect and the TCP handshake too, and on two
  cores it can be the limit: per server CPU-second is the fairer figure there.
- Broadcast: fastws and gorilla frame a broadcast once and share it; Beast shares the payload
  and frames it per connection; websocketpp, libwebsockets (a copy per connection in its queue,
  as lws's examples do) and Node `ws` frame and copy it per connection.
- Deflate: permessage-deflate with no context takeover either way; each server compresses with
  its own defaults (level, and whether a 1 KiB message is worth compressing at all).
- Idle memory is the growth of the server's resident set (VmRSS) per connection, user space
  only: the kernel's socket buffers are not in it.
"""


class Measurement:
    def __init__(self, key, title, rate_key, cpu_key, unit, lower_is_better=False):
        self.key = key
        self.title = title
        self.rate_key = rate_key
        self.cpu_key = cpu_key
        self.unit = unit
        self.lower_is_better = lower_is_better


def pretty_size(size):
    return f"{size // 1024} KiB" if size >= 1024 else f"{size} B"


def measurement_of(key, run):
    if key.startswith("echo_"):
        size, connections = key[len("echo_"):].split("_")
        size = int(size.rstrip("B"))
        connections = int(connections.rstrip("c"))
        return Measurement(key, f"Ping-pong echo, {pretty_size(size)}, {connections:,} connections",
                           "msgs_per_s", "msgs_per_server_cpu_s", "messages")
    if key == "pipelined":
        return Measurement(key, "Pipelined echo, 16 B, 100 connections, no limit in flight",
                           "msgs_per_s", "msgs_per_server_cpu_s", "messages")
    if key == "rate":
        return Measurement(key, "Rated (tcpkali's test): 100 connections x 10,000 msg/s of "
                           f"'hello world!!13212312!' for {run.get('rate_seconds', '?')} s",
                           "echoed_per_s", "echoed_per_server_cpu_s", "messages echoed")
    if key == "broadcast":
        return Measurement(key, f"Broadcast, 1 KiB to {int(run.get('broadcast_connections', 0)):,} "
                           "subscribers, 32 in flight", "deliveries_per_s",
                           "deliveries_per_server_cpu_s", "deliveries")
    if key == "handshakes":
        return Measurement(key, "Handshakes: connect, upgrade, close (32 at a time; TCP: connect "
                           "and reset)", "handshakes_per_s", "handshakes_per_server_cpu_s",
                           "handshakes")
    if key == "idle":
        return Measurement(key, f"Memory per idle connection at "
                           f"{int(run.get('idle_connections', 0)):,} (server RSS growth, bytes)",
                           "bytes_per_conn", None, "bytes", lower_is_better=True)
    if key == "deflate":
        return Measurement(key, "Ping-pong echo with permessage-deflate, 1 KiB, 100 connections",
                           "msgs_per_s", "msgs_per_server_cpu_s", "messages")
    return Measurement(key, key, "msgs_per_s", "msgs_per_server_cpu_s", "messages")


def parse_line(line):
    values = {}
    for field in line.split():
        if "=" in field:
            name, value = field.split("=", 1)
            try:
                values[name] = float(value)
            except ValueError:
                values[name] = value
    return values


def read_run(path):
    run = {}
    with open(path, encoding="utf-8") as f:
        for line in f:
            if "=" in line:
                name, value = line.rstrip("\n").split("=", 1)
                run[name] = value
    return run


class Cell:
    """What one server got in one measurement: medians of its runs, or why there are none."""

    def __init__(self):
        self.runs = []  # parsed key=value lines of the runs that succeeded
        self.problems = []  # (status, reason) of the others

    def median(self, key):
        values = [r[key] for r in self.runs if isinstance(r.get(key), float)]
        return statistics.median(values) if values else None

    def status(self):
        if self.runs:
            return "ok"
        if any(status == "failed" for status, _ in self.problems):
            return "failed"
        return "n/a"


def read_results(path):
    cells = {}
    order = []
    with open(path, encoding="utf-8") as f:
        for line in f:
            parts = line.rstrip("\n").split("\t", 4)
            if len(parts) < 5:
                continue
            measurement, server, _, status, text = parts
            if measurement not in order:
                order.append(measurement)
            cell = cells.setdefault((measurement, server), Cell())
            if status == "ok":
                cell.runs.append(parse_line(text))
            else:
                cell.problems.append((status, text))
    return order, cells


def human(value):
    if value is None:
        return "-"
    for limit, suffix in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if abs(value) >= limit:
            return f"{value / limit:.3g}{suffix}" if abs(value) < 100 * limit \
                else f"{value / limit:.0f}{suffix}"
    return f"{value:.3g}" if abs(value) < 100 else f"{value:.0f}"


def ratio(a, b):
    if a is None or b is None or b == 0:
        return "-"
    return f"{a / b:.2f}"


class Report:
    def __init__(self, order, cells, run, servers):
        self.order = order
        self.cells = cells
        self.run = run
        self.servers = servers
        self.measurements = [measurement_of(key, run) for key in order]

    def cell(self, measurement, server):
        return self.cells.get((measurement.key, server), Cell())

    def figure(self, measurement, server, per_cpu):
        key = measurement.cpu_key if per_cpu else measurement.rate_key
        return self.cell(measurement, server).median(key) if key else None

    def shown(self, measurement, server, per_cpu):
        cell = self.cell(measurement, server)
        if cell.status() != "ok":
            return cell.status()
        return human(self.figure(measurement, server, per_cpu))

    def print_table(self):
        width = max(9, max(len(s) for s in self.servers) + 1)
        for per_cpu, heading in ((False, "per second (idle: bytes per connection)"),
                                 (True, "per server CPU-second")):
            print(f"\n{heading}; medians of {self.run.get('runs')} run(s)")
            print(f"{'':<26}" + "".join(f"{s:>{width}}" for s in self.servers))
            for m in self.measurements:
                if per_cpu and not m.cpu_key:
                    continue
                print(f"{m.key:<26}" + "".join(f"{self.shown(m, s, per_cpu):>{width}}"
                                                for s in self.servers))
        problems = [(m.key, s, status, reason) for m in self.measurements for s in self.servers
                    for status, reason in self.cell(m, s).problems if status == "failed"]
        for key, server, _, reason in problems:
            print(f"failed: {key} {server}: {reason}")

    def missing_figures(self):
        return [(m.key, s) for m in self.measurements for s in self.servers
                if self.cell(m, s).status() == "failed"]

    def markdown(self, chart_names):
        run = self.run
        out = []
        out.append("# Benchmarks: fastws beside its peers\n")
        out.append("Generated by `bench/compare` from one run on one machine; every server ran in "
                   "the same run, taking turns, so the figures compare with each other, not with "
                   "another machine's. Rerun it to check them: see README.md, *Benchmarks*.\n")
        out.append(f"- Command: `{run.get('command')}` ({run.get('profile')} profile, "
                   f"{run.get('runs')} round(s), {run.get('duration')} s per measured run, "
                   f"about {run.get('minutes')} minutes), {run.get('started')}")
        out.append(f"- Machine: {run.get('cpu')}, {run.get('cores')} cores, Linux "
                   f"{run.get('kernel')}; load average {run.get('load')}")
        out.append(f"- Each server pinned to CPU {run.get('server_cpu')} (one thread or event "
                   f"loop), `fastws_bench` to CPU {run.get('client_cpu')}. Figures are medians of "
                   "the rounds; per server CPU-second = the count divided by the server's "
                   "user + system time over the measured seconds (/proc/PID/stat), which holds "
                   "better than the rate when other work shares the machine.")
        out.append("- Ratios: to fastws (`x fastws`) and to the plain epoll TCP echo or relay "
                   "(`x tcp`), which does the same socket work with no WebSocket at all: the "
                   "limit. For memory, lower is better.\n")
        out.append("| server | version |\n|---|---|")
        for server in self.servers:
            out.append(f"| {server} | {run.get('version.' + server, '')} |")
        out.append("")
        out.append("## Summary: per server CPU-second, as a ratio to fastws\n")
        out.append("Above 1.00 the server did more with each second of its CPU than fastws; idle "
                   "memory is bytes per connection. `n/a`: not supported (or not run); `failed`: "
                   "see the measurement's section.\n")
        out.append("| measurement | " + " | ".join(self.servers) + " |")
        out.append("|---|" + "---:|" * len(self.servers))
        for m in self.measurements:
            row = []
            for server in self.servers:
                status = self.cell(m, server).status()
                if status != "ok":
                    row.append(status)
                elif m.cpu_key:
                    row.append(ratio(self.figure(m, server, True), self.figure(m, "fastws", True)))
                else:
                    row.append(human(self.figure(m, server, False)) + " B")
            out.append(f"| {m.key} | " + " | ".join(row) + " |")
        out.append("")
        for name, title in chart_names:
            out.append(f"![{title}](benchmarks/{name})\n")
        for m in self.measurements:
            out.append(f"## {m.title}\n")
            out.extend(self.measurement_table(m))
            out.append("")
        out.append(NOTES)
        return "\n".join(out) + "\n"

    def measurement_table(self, m):
        lines = []
        if not m.cpu_key:
            lines.append(f"| server | {m.unit} per connection | x fastws | x tcp |")
            lines.append("|---|---:|---:|---:|")
            for server in self.servers:
                value = self.figure(m, server, False)
                lines.append(f"| {server} | {self.shown(m, server, False)} | "
                             f"{ratio(value, self.figure(m, 'fastws', False))} | "
                             f"{ratio(value, self.figure(m, 'tcp_echo', False))} |")
            return lines + self.problem_lines(m)
        head = f"| server | {m.unit}/s | x fastws | x tcp | per server CPU-s | x fastws | x tcp |"
        rule = "|---|---:|---:|---:|---:|---:|---:|"
        if m.key == "rate":
            head += " echoed | MiB sent | MiB received | server CPU s |"
            rule += "---:|---:|---:|---:|"
        if m.key == "deflate":
            head += " echo compressed | echo frame bytes |"
            rule += "---:|---:|"
        lines += [head, rule]
        for server in self.servers:
            rate = self.figure(m, server, False)
            cpu = self.figure(m, server, True)
            row = (f"| {server} | {self.shown(m, server, False)} | "
                   f"{ratio(rate, self.figure(m, 'fastws', False))} | "
                   f"{ratio(rate, self.figure(m, 'tcp_echo', False))} | "
                   f"{self.shown(m, server, True)} | "
                   f"{ratio(cpu, self.figure(m, 'fastws', True))} | "
                   f"{ratio(cpu, self.figure(m, 'tcp_echo', True))} |")
            cell = self.cell(m, server)
            if m.key == "deflate":
                compressed = cell.median("echo_compressed")
                row += (f" {'-' if compressed is None else ('yes' if compressed else 'no')} | "
                        f"{human(cell.median('echo_frame_bytes'))} |")
            if m.key == "rate":
                fraction = cell.median("echoed_fraction")
                row += (f" {'-' if fraction is None else f'{100 * fraction:.1f} %'} | "
                        f"{human(cell.median('sent_mib'))} | {human(cell.median('received_mib'))}"
                        f" | {human(cell.median('server_cpu_s'))} |")
            lines.append(row)
        return lines + self.problem_lines(m)

    def problem_lines(self, m):
        lines = []
        for server in self.servers:
            for status, reason in self.cell(m, server).problems:
                lines.append(f"\n{server}: {status}: {reason}")
        return lines

    def charts(self, directory):
        try:
            import matplotlib
            matplotlib.use("Agg")
            import matplotlib.pyplot as plt
        except ImportError:
            print("note: no charts: matplotlib is not installed (apt-get install "
                  "python3-matplotlib)")
            return []
        os.makedirs(directory, exist_ok=True)
        made = []
        rated = [m for m in self.measurements if m.cpu_key]
        colors = plt.get_cmap("tab10")

        def grouped(measurements, value, ylabel, title, name, log=False, line=None):
            fig, ax = plt.subplots(figsize=(max(8, 1.3 * len(measurements) + 3), 4.8))
            width = 0.8 / len(self.servers)
            for i, server in enumerate(self.servers):
                xs = [j + (i - (len(self.servers) - 1) / 2) * width
                      for j in range(len(measurements))]
                ys = [value(m, server) or 0 for m in measurements]
                ax.bar(xs, ys, width, label=server, color=colors(i % 10))
            ax.set_xticks(range(len(measurements)))
            ax.set_xticklabels([m.key for m in measurements], rotation=20, ha="right")
            ax.set_ylabel(ylabel)
            ax.set_title(title)
            if log:
                ax.set_yscale("log")
            if line is not None:
                ax.axhline(line, color="black", linewidth=0.8)
            ax.legend(fontsize="small", ncol=min(4, len(self.servers)))
            fig.tight_layout()
            fig.savefig(os.path.join(directory, name), dpi=90)
            plt.close(fig)
            made.append((name, title))

        grouped(rated, lambda m, s: self.figure(m, s, True), "per server CPU-second (log)",
                "Work per second of server CPU, by measurement", "per_server_cpu.png", log=True)

        def relative(m, server):
            base = self.figure(m, "fastws", True)
            value = self.figure(m, server, True)
            return value / base if base and value else None

        grouped(rated, relative, "x fastws, per server CPU-second (log)",
                "Per server CPU-second, relative to fastws (1.0)", "relative_to_fastws.png",
                log=True, line=1.0)
        grouped(rated, lambda m, s: self.figure(m, s, False), "per second (log)",
                "Throughput, by measurement", "per_second.png", log=True)
        idle = [m for m in self.measurements if m.key == "idle"]
        if idle:
            grouped(idle, lambda m, s: self.figure(m, s, False), "bytes per idle connection",
                    "Server memory per idle connection (lower is better)", "idle_memory.png")
        return made


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("results")
    parser.add_argument("run")
    parser.add_argument("--markdown")
    parser.add_argument("--charts")
    parser.add_argument("--require-figures", action="store_true")
    args = parser.parse_args()
    run = read_run(args.run)
    servers = [key[len("version."):] for key in run if key.startswith("version.")]
    order, cells = read_results(args.results)
    report = Report(order, cells, run, servers)
    report.print_table()
    chart_names = report.charts(args.charts) if args.charts else []
    if args.markdown:
        with open(args.markdown, "w", encoding="utf-8") as f:
            f.write(report.markdown(chart_names))
        print(f"\nwrote {args.markdown}" + (f" and {len(chart_names)} charts in {args.charts}"
                                            if chart_names else ""))
    missing = report.missing_figures()
    if args.require_figures and missing:
        print("no figure for: " + ", ".join(f"{key} ({server})" for key, server in missing))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
