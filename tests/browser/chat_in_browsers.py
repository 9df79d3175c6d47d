#!/usr/bin/python3
"""The chat demo (examples/chat.cpp, or the same chat in examples/beast_server.cpp) used by real
headless browsers, as two people would.

Usage: chat_in_browsers.py CHAT_BINARY SCREENSHOT_DIR [--redis=URL] [chromium] [firefox]
(default: both browsers). Starts the chat server on a free 127.0.0.1 port; per browser opens
two windows (ann and bob in room "lobby"), waits until each sees both names in the presence
list, lets ann send with the Send button and bob with Enter, checks that each page shows both
messages, saves a PNG of each page (chat-BROWSER-USER.png; with another CHAT_BINARY than chat,
chat-BROWSER-USER-BINARY.png), closes bob and checks that ann's list drops him. Prints one
line per step ("ok   ..." or "FAIL ...: why") and exits 0 only if every step passed.
With --redis=URL two chat servers scale out through that Redis: ann is on one, bob on the other
(screenshots named chat-BROWSER-USER-redis.png).
"""
import json
import os
import re
import select
import signal
import subprocess
import sys
import time

from browser_driver import BrowserError, installed, launch

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
# A blank or broken capture of a 1000x700 window compresses to a few hundred bytes; the chat
# page with its header, text and list is several KiB.
MIN_SCREENSHOT_BYTES = 4096
MIN_SCREENSHOT_SIDE = 300
SERVER_START_TIMEOUT = 10.0
# Typed with non-ASCII letters so that the page's UTF-8 goes through the frames both ways.
MESSAGES = {"ann": "hello bob, ann here ✓", "bob": "hi ann, bob says héllo"}


class StepFailed(Exception):
    """A check whose failure was already printed."""


def step(name, action):
    """Runs one step, prints its outcome and returns its result; raises StepFailed on failure."""
    try:
        result = action()
    except (BrowserError, AssertionError, OSError) as error:
        print(f"FAIL {name}: {error}", flush=True)
        raise StepFailed from None
    print(f"ok   {name}", flush=True)
    return result


class ChatServer:
    """The chat example on 127.0.0.1, port chosen by the kernel (--port 0) and read from the line
    the example prints once it listens."""

    def __init__(self, binary, extra_args=()):
        self.process = subprocess.Popen([binary, "--host", "127.0.0.1", "--port", "0",
                                         *extra_args],
                                        stdout=subprocess.PIPE, stdin=subprocess.DEVNULL)
        ready, _, _ = select.select([self.process.stdout], [], [], SERVER_START_TIMEOUT)
        line = self.process.stdout.readline().decode(errors="replace") if ready else ""
        found = re.search(r"listening on ws://127\.0\.0\.1:(\d+)/", line)
        if not found:
            self.process.kill()
            self.process.wait()
            raise AssertionError(f"no 'listening on' line within {SERVER_START_TIMEOUT:.0f} s, "
                                 f"got {line!r}")
        self.url = f"http://127.0.0.1:{found.group(1)}/"

    def stop(self):
        """SIGTERM, then the exit status (None if it had to be killed after 5 s)."""
        self.process.terminate()
        try:
            return self.process.wait(5)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
            return None


def page_value(browser, expression):
    return browser.execute(f"return {expression};")


def wait_for_page(browser, expression, expected, what):
    """Waits until the JavaScript `expression` equals `expected` (compared as JSON)."""
    # Serialised as JSON.stringify does: no spaces, non-ASCII characters as they are.
    expected_json = json.dumps(expected, separators=(",", ":"), ensure_ascii=False)
    try:
        browser.wait_until(f"JSON.stringify({expression}) === {json.dumps(expected_json)}",
                           what=what)
    except BrowserError as error:
        raise AssertionError(f"{error}; the page shows {page_value(browser, expression)!r}")


# Sorted: with two servers each page lists its own server's users first.
PRESENCE = "[...document.querySelectorAll('#who li')].map((li) => li.textContent).sort()"
CHAT_LOG = "[...document.querySelectorAll('#log p')].map((p) => p.textContent)"
STATUS = "document.getElementById('status').textContent"


def check_screenshot(browser, path):
    size = browser.screenshot(path)
    with open(path, "rb") as png:
        head = png.read(24)
    assert head.startswith(PNG_SIGNATURE), f"{path} does not start with the PNG signature"
    # IHDR is the first chunk: width and height are the big-endian words at bytes 16..23.
    width, height = int.from_bytes(head[16:20], "big"), int.from_bytes(head[20:24], "big")
    assert size >= MIN_SCREENSHOT_BYTES, f"{path} has only {size} bytes"
    assert min(width, height) >= MIN_SCREENSHOT_SIDE, f"{path} is only {width}x{height}"
    return f"{width}x{height}, {size} bytes"


def chat_in(kind, server_urls, screenshot_dir, suffix):
    """Every step for one browser; raises StepFailed at the first failure. `server_urls`: each
    user's chat server."""
    windows = {}
    try:
        for user in ("ann", "bob"):
            windows[user] = step(f"{kind}: start a browser for {user}", lambda: launch(kind))
            step(f"{kind}: {user} opens the chat page at {server_urls[user]}",
                 lambda: windows[user].open(f"{server_urls[user]}?name={user}&room=lobby"))
        for user, browser in windows.items():
            step(f"{kind}: {user}'s page is connected",
                 lambda: wait_for_page(browser, STATUS, "connected", "the socket to open"))
            step(f"{kind}: {user}'s presence list shows ann and bob",
                 lambda: wait_for_page(browser, PRESENCE, ["ann", "bob"], "both names"))

        sent = [f"ann: {MESSAGES['ann']}"]
        step(f"{kind}: ann types and clicks Send", lambda: (
            windows["ann"].type_into("#text", MESSAGES["ann"]), windows["ann"].click("#send")))
        step(f"{kind}: bob's page shows ann's message",
             lambda: wait_for_page(windows["bob"], CHAT_LOG, sent, "ann's message"))
        sent.append(f"bob: {MESSAGES['bob']}")
        step(f"{kind}: bob types and presses Enter",
             lambda: windows["bob"].type_into("#text", MESSAGES["bob"] + "\n"))
        for user, browser in windows.items():
            step(f"{kind}: {user}'s page shows both messages in order",
                 lambda: wait_for_page(browser, CHAT_LOG, sent, "both messages"))
            step(f"{kind}: {user}'s input is cleared after sending",
                 lambda: wait_for_page(browser, "document.getElementById('text').value", "",
                                       "an empty input"))
            path = os.path.join(screenshot_dir, f"chat-{kind}-{user}{suffix}.png")
            details = step(f"{kind}: screenshot of {user}'s page",
                           lambda: check_screenshot(browser, path))
            print(f"     {path}: {details}", flush=True)

        step(f"{kind}: bob closes his browser", windows.pop("bob").quit)
        step(f"{kind}: ann's presence list drops bob",
             lambda: wait_for_page(windows["ann"], PRESENCE, ["ann"], "bob to leave"))
    except StepFailed:
        for user, browser in windows.items():
            try:
                browser.screenshot(
                    os.path.join(screenshot_dir, f"chat-{kind}-{user}{suffix}-failed.png"))
            except BrowserError:
                pass
        raise
    finally:
        for browser in windows.values():
            browser.quit()


def main(argv):
    if len(argv) < 3:
        print(__doc__, file=sys.stderr)
        return 2
    binary, screenshot_dir = argv[1], argv[2]
    redis = [arg[len("--redis="):] for arg in argv[3:] if arg.startswith("--redis=")]
    kinds = [arg for arg in argv[3:] if not arg.startswith("--redis=")] or ["chromium", "firefox"]
    # A runner's SIGTERM unwinds through the finally blocks, which kill the browsers.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    os.makedirs(screenshot_dir, exist_ok=True)
    servers = []
    if redis:
        for user in ("ann", "bob"):
            servers.append(step(f"{user}'s chat server starts on 127.0.0.1 with --redis",
                                lambda: ChatServer(binary, ["--redis", redis[0]])))
    else:
        servers.append(step("chat server starts on 127.0.0.1", lambda: ChatServer(binary)))
    server_urls = {"ann": servers[0].url, "bob": servers[-1].url}
    program = os.path.basename(binary)
    suffix = ("" if program == "chat" else "-" + program) + ("-redis" if redis else "")
    failed = []
    try:
        for kind in kinds:
            if not installed(kind):
                print(f"FAIL {kind}: not installed")
                failed.append(kind)
                continue
            started = time.monotonic()
            try:
                chat_in(kind, server_urls, screenshot_dir, suffix)
                print(f"ok   {kind}: all steps in {time.monotonic() - started:.1f} s", flush=True)
            except StepFailed:
                failed.append(kind)
    finally:
        statuses = [server.stop() for server in servers]
    if any(status != 0 for status in statuses):
        print(f"FAIL chat server exit statuses after SIGTERM: {statuses}")
        failed.append("server")
    print("FAILED: " + ", ".join(failed) if failed else "ALL PASSED", flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
