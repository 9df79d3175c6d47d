#!/usr/bin/python3
"""The interop matrix (docs/interop.md) from what the interop tests' peers printed.

Usage: interop_matrix.py REPORT_DIR [COMMAND]
REPORT_DIR holds one <Suite>.<Test>.txt per interop test run with FASTWS_INTEROP_REPORT_DIR
set (tests/integration/interop_echo_server.hpp writes them): "exit N", then the peer's lines,
"ok   check" or "FAIL check: why", and indented lines naming the peer's version. Each row is a
peer (all the configurations its suite ran: TLS, compression modes); each column a kind of
exchange, recognised in the check names. A cell is "pass" when at least one check of its kind
ran and none failed, "FAIL" when one failed, and "-" when none ran. COMMAND is printed as the
way to regenerate the page.
"""
import datetime
import os
import platform
import re
import sys

# Column -> what its checks are called, in any of the peers (python_peer.py, ws_peer.mjs,
# interop_page.html, and the fastws client's checks against the other servers).
COLUMNS = [
    ("text", r"^text echo of [1-9]|^UTF-8 text"),
    ("binary", r"^binary echo of [1-9]"),
    ("empty", r"echo of 0 "),
    ("16 MiB", r"echo of 16777216 "),
    ("fragmented", r"fragment"),
    ("compressed", r'permessage-deflate negotiated=True|extensions "permessage-deflate'),
    ("ping/pong", r"ping answered"),
    ("close with a code", r"close \d{4}"),
]

# Suite -> the row's name: who talks to whom.
ROWS = {
    "PythonInterop": "Python websockets client -> fastws server",
    "NodeInterop": "Node ws client -> fastws server",
    "BrowserInterop.Chromium": "Chromium -> fastws server",
    "BrowserInterop.Firefox": "Firefox -> fastws server",
    "ClientInterop.PythonWebsockets": "fastws client -> Python websockets server",
    "ClientInterop.NodeWs": "fastws client -> Node ws server",
}


def row_of(stem):
    """The row of a test: the longest ROWS key its name starts with, else its suite."""
    keys = [key for key in ROWS if stem == key or stem.startswith(key + ".") or
            stem.startswith(key)]
    return ROWS[max(keys, key=len)] if keys else stem.split(".")[0]


def read_runs(directory):
    rows = {}
    for name in sorted(os.listdir(directory)):
        if not name.endswith(".txt"):
            continue
        with open(os.path.join(directory, name), encoding="utf-8", errors="replace") as file:
            lines = file.read().splitlines()
        status = int(lines[0].split()[1]) if lines and lines[0].startswith("exit ") else -1
        stem = name[:-len(".txt")]
        row = rows.setdefault(row_of(stem), {"tests": [], "checks": [], "versions": set(),
                                             "failed_runs": []})
        row["tests"].append(stem)
        if status != 0:
            row["failed_runs"].append(f"{stem} (exit {status})")
        for line in lines[1:]:
            if line.startswith("ok   "):
                row["checks"].append((True, line[5:]))
            elif line.startswith("FAIL "):
                row["checks"].append((False, line[5:]))
            elif line.startswith("     ") and line.strip():
                row["versions"].add(line.strip().split(", ws")[0].split(", http")[0])
    return rows


def cell(checks, pattern):
    matching = [ok for ok, name in checks if re.search(pattern, name)]
    if not matching:
        return "-"
    return "pass" if all(matching) else "FAIL"


def main(directory, command):
    rows = read_runs(directory)
    if not rows:
        print(f"no interop results in {directory}", file=sys.stderr)
        return 1
    out = ["# Interoperability matrix", "",
           "Each row is a real peer exchanging messages with fastws over loopback; each cell says",
           "whether every check of that kind passed in every configuration the row ran (plain and",
           "TLS, compression off and in each negotiated mode). Generated from a test run, not",
           "written by hand:", "", f"    {command}", "",
           f"Run on {datetime.date.today().isoformat()}, {platform.system()} "
           f"{platform.release()}, {os.cpu_count()} CPUs.", "",
           "| peer | " + " | ".join(name for name, _ in COLUMNS) + " | checks |",
           "|---" * (len(COLUMNS) + 2) + "|"]
    failed = False
    for name in sorted(rows):
        row = rows[name]
        cells = [cell(row["checks"], pattern) for _, pattern in COLUMNS]
        passed = sum(1 for ok, _ in row["checks"] if ok)
        failed |= "FAIL" in cells or bool(row["failed_runs"])
        out.append(f"| {name} | " + " | ".join(cells) + f" | {passed}/{len(row['checks'])} |")
    out += ["", "## Peers and configurations", ""]
    for name in sorted(rows):
        row = rows[name]
        out.append(f"- **{name}**: " + ("; ".join(sorted(row["versions"])) or "-"))
        out.append("  - tests: " + ", ".join(row["tests"]))
        for run in row["failed_runs"]:
            out.append(f"  - FAILED RUN: {run}")
        for ok, check in row["checks"]:
            if not ok:
                out.append(f"  - FAILED CHECK: {check}")
    print("\n".join(out))
    return 1 if failed else 0


if __name__ == "__main__":
    if len(sys.argv) < 2:
        print(__doc__)
        sys.exit(2)
    sys.exit(main(sys.argv[1], sys.argv[2] if len(sys.argv) > 2 else "scripts/interop-matrix.sh"))
