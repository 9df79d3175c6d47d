#!/usr/bin/python3
"""A real browser's WebSocket against the fastws interop echo server.

Usage: interop_in_browser.py URL BROWSER   (BROWSER: chromium or firefox)
Opens URL (tests/browser/interop_page.html, served by the server under test), waits until the
page's checks have run, and prints one line per check ("ok   ..." or "FAIL ...: why"), then the
browser's user agent. Exits 0 only if every check passed.
"""
import sys

from browser_driver import BrowserError, launch

# The page's own waits are 30 s per event; the whole run (16 MiB echoes included) takes a few
# seconds on an idle machine.
RUN_TIMEOUT = 150.0


def main(url, kind):
    try:
        with launch(kind) as browser:
            browser.open(url)
            browser.wait_until("window.interopDone === true", timeout=RUN_TIMEOUT,
                               what="the page's checks")
            results = browser.execute("return window.interopResults;")
            agent = browser.execute("return navigator.userAgent;")
    except BrowserError as error:
        print(f"FAIL {kind}: {error}", flush=True)
        return 1
    failures = 0
    for result in results:
        if result["ok"]:
            print(f"ok   {result['name']}")
        else:
            print(f"FAIL {result['name']}: {result['why']}")
            failures += 1
    print(f"     {agent}")
    if not results:
        print("FAIL the page reported no checks")
        return 1
    return 1 if failures else 0


if __name__ == "__main__":
    if len(sys.argv) != 3 or sys.argv[2] not in ("chromium", "firefox"):
        print(__doc__)
        sys.exit(2)
    sys.exit(main(sys.argv[1], sys.argv[2]))
