"""Drive a real headless browser from the standard library alone (no selenium, no downloads).

Two backends behind one interface (Browser):
  - Chromium through chromedriver's W3C WebDriver HTTP API;
  - Firefox ESR through its built-in Marionette protocol (no geckodriver is needed: Marionette
    is the protocol geckodriver itself speaks to Firefox).

    with launch("firefox") as browser:
        browser.open("http://127.0.0.1:8080/")
        browser.wait_until("document.title !== ''", what="the page title")
        browser.type_into("#text", "hello\\n")
        browser.screenshot("/tmp/page.png")

Every wait is bounded; the processes started here are killed by their PID (and their process
group, which they lead) when the browser quits, also after an error or an interrupt.
"""
import base64
import json
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import urllib.error
import urllib.request

DEFAULT_TIMEOUT = 20.0
# Starting a browser with a fresh profile on a busy machine takes far longer than a command.
LAUNCH_TIMEOUT = 60.0
QUIT_TIMEOUT = 5.0
# Firefox's profile lock resolves the machine's own hostname. Where that name is not in
# /etc/hosts and the configured DNS server never answers (a machine without outside network),
# glibc's default 5 s x 2 attempts for each address family held Firefox's start for 20 s.
# One attempt of 1 s is plenty on such a machine and changes nothing where DNS answers.
RESOLVER_OPTIONS = "timeout:1 attempts:1"
BROWSER_BINARIES = {
    "chromium": ("/usr/bin/chromium", "/usr/bin/chromedriver"),
    "firefox": ("/usr/bin/firefox-esr",),
}
# The W3C WebDriver element reference key (WebDriver spec, "Elements").
ELEMENT_KEY = "element-6066-11e4-a52e-4f735466cecf"


class BrowserError(Exception):
    """A browser could not start, a command failed, or a wait timed out."""


def installed(kind):
    """True if every program the backend `kind` needs is installed."""
    return all(os.access(path, os.X_OK) for path in BROWSER_BINARIES[kind])


def free_port():
    """A TCP port on 127.0.0.1 that was free a moment ago (for programs without a port 0)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_for(condition, timeout, what):
    """Polls condition() until it returns a true value, which is returned; raises after timeout."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise BrowserError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(0.1)


class OwnProcess:
    """A program started in its own process group, so that its helpers (renderers, content
    processes) can be ended with it; its output goes to a log file for error messages."""

    def __init__(self, argv, log_path, env=None):
        self.log_path = log_path
        env = dict(env or os.environ, RES_OPTIONS=RESOLVER_OPTIONS)
        with open(log_path, "wb") as log:
            self.popen = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=log,
                                          stderr=subprocess.STDOUT, env=env,
                                          start_new_session=True)

    def running(self):
        return self.popen.poll() is None

    def log_tail(self, lines=15):
        try:
            with open(self.log_path, errors="replace") as log:
                return "".join(log.readlines()[-lines:])
        except OSError:
            return ""

    def stop(self, grace=3.0):
        """Asks the program to end (SIGTERM), then after `grace` seconds kills the group it leads:
        helpers left behind by a crash or a hang go too."""
        try:
            self.popen.terminate()
            self.popen.wait(grace)
        except subprocess.TimeoutExpired:
            pass
        try:
            os.killpg(self.popen.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        try:
            self.popen.wait(grace)
        except subprocess.TimeoutExpired:
            pass


# The commands the interface uses: W3C HTTP method and path (after /session/{id}), and the
# Marionette name of the same command. Element commands take the element in the "id" parameter.
COMMANDS = {
    "navigate": ("POST", "/url", "WebDriver:Navigate"),
    "execute": ("POST", "/execute/sync", "WebDriver:ExecuteScript"),
    "find_element": ("POST", "/element", "WebDriver:FindElement"),
    "send_keys": ("POST", "/element/{id}/value", "WebDriver:ElementSendKeys"),
    "click": ("POST", "/element/{id}/click", "WebDriver:ElementClick"),
    "screenshot": ("GET", "/screenshot", "WebDriver:TakeScreenshot"),
}


class Browser:
    """One browser window in a WebDriver session. Backends implement _launch() (start the
    programs and the session), _command() and _shutdown() (end the session)."""

    kind = None

    def __init__(self, timeout=DEFAULT_TIMEOUT):
        self.timeout = timeout
        self.workdir = tempfile.mkdtemp(prefix=f"fastws-{self.kind}-")
        self.processes = []
        try:
            self._launch()
        except BrowserError as error:
            # The programs' own last words say why; quit() removes them with the profile.
            logs = "".join(f"\n--- last lines of {os.path.basename(process.log_path)}:\n"
                           f"{process.log_tail()}" for process in self.processes)
            self.quit()
            raise BrowserError(f"{error}{logs}") from None
        except BaseException:
            self.quit()  # nothing started here outlives a failed start
            raise

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.quit()

    def open(self, url):
        self._command("navigate", {"url": url})

    def execute(self, script, *args):
        """Runs `script` as the body of a function in the page and returns its return value."""
        return self._command("execute", {"script": script, "args": list(args)})

    def wait_until(self, condition, timeout=None, what=None):
        """Waits until the JavaScript expression `condition` is truthy in the page."""
        return wait_for(lambda: self.execute(f"return Boolean({condition});"),
                        timeout or self.timeout, what or condition)

    def type_into(self, css, text):
        """Types `text` into the element as keystrokes ("\\n" presses Enter)."""
        element = self._find(css)
        self._command("send_keys", {"id": element, "text": text.replace("\n", "\ue007")})

    def click(self, css):
        self._command("click", {"id": self._find(css)})

    def screenshot(self, png_path):
        png = base64.b64decode(self._command("screenshot", {}))
        with open(png_path, "wb") as out:
            out.write(png)
        return len(png)

    def quit(self):
        """Ends the session, then the processes (by PID), then removes the temporary profile."""
        try:
            self._shutdown()
        except (BrowserError, OSError):
            pass  # the processes are killed below anyway
        for process in reversed(self.processes):
            process.stop()
        self.processes = []
        shutil.rmtree(self.workdir, ignore_errors=True)

    def _find(self, css):
        found = self._command("find_element", {"using": "css selector", "value": css})
        return found[ELEMENT_KEY]

    def _start(self, argv, name, env=None):
        process = OwnProcess(argv, os.path.join(self.workdir, f"{name}.log"), env)
        self.processes.append(process)
        return process

    def _launch(self):
        raise NotImplementedError

    def _command(self, name, params):
        raise NotImplementedError

    def _shutdown(self):
        raise NotImplementedError


class ChromiumBrowser(Browser):
    """Chromium driven by chromedriver over HTTP (W3C WebDriver)."""

    kind = "chromium"
    session = None

    def _launch(self):
        port = free_port()
        self.base = f"http://127.0.0.1:{port}"
        self.driver = self._start([BROWSER_BINARIES["chromium"][1], f"--port={port}"],
                                  "chromedriver")
        # Chromium is started here, not by chromedriver, and attached by its DevTools address
        # as a number: chromedriver reaches a browser it starts itself at "localhost", which a
        # machine whose /etc/hosts lacks that name resolves through DNS, if at all.
        profile = os.path.join(self.workdir, "profile")
        self.chromium = self._start(
            [BROWSER_BINARIES["chromium"][0], "--headless", "--no-sandbox", "--disable-gpu",
             "--disable-quic", "--no-first-run", "--disable-background-networking",
             "--disable-component-update", "--disable-sync", "--window-size=1000,700",
             "--ignore-certificate-errors",
             "--remote-debugging-address=127.0.0.1", "--remote-debugging-port=0",
             f"--user-data-dir={profile}", "about:blank"], "chromium")
        devtools_port = wait_for(lambda: self._devtools_port(profile), LAUNCH_TIMEOUT,
                                 "Chromium to open its DevTools port")
        wait_for(self._driver_ready, LAUNCH_TIMEOUT, "chromedriver to listen")
        # acceptInsecureCerts: the wss tests' server has a certificate made at test time.
        capabilities = {"goog:chromeOptions": {"debuggerAddress": f"127.0.0.1:{devtools_port}"},
                        "acceptInsecureCerts": True}
        created = self._http("POST", "/session", {"capabilities": {"alwaysMatch": capabilities}},
                             timeout=LAUNCH_TIMEOUT)
        self.session = created["sessionId"]

    def _devtools_port(self, profile):
        """The port Chromium chose (--remote-debugging-port=0), from the first line of the
        DevToolsActivePort file it writes into its profile once it listens."""
        if not self.chromium.running():
            raise BrowserError("chromium exited")
        try:
            with open(os.path.join(profile, "DevToolsActivePort")) as active_port:
                first_line = active_port.readline().strip()
        except OSError:
            return None
        return int(first_line) if first_line.isdigit() else None

    def _driver_ready(self):
        if not self.driver.running():
            raise BrowserError("chromedriver exited")
        try:
            return self._http("GET", "/status", None, timeout=1.0).get("ready")
        except (BrowserError, OSError):
            return False

    def _command(self, name, params):
        method, path, _ = COMMANDS[name]
        params = dict(params)
        if "{id}" in path:
            path = path.replace("{id}", params.pop("id"))
        return self._http(method, f"/session/{self.session}{path}",
                          params if method == "POST" else None)

    def _shutdown(self):
        if self.session is not None:
            # An attached browser outlives its session: quit() ends Chromium by its PID next.
            self._http("DELETE", f"/session/{self.session}", None, timeout=QUIT_TIMEOUT)
            self.session = None

    def _http(self, method, path, body, timeout=None):
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(self.base + path, data=data, method=method,
                                         headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(request, timeout=timeout or self.timeout) as response:
                return json.loads(response.read())["value"]
        except urllib.error.HTTPError as error:
            detail = json.loads(error.read() or b"{}").get("value", {})
            raise BrowserError(f"chromedriver {method} {path}: {detail.get('error')}: "
                               f"{detail.get('message', '')[:400]}") from None
        except (urllib.error.URLError, TimeoutError) as error:
            raise BrowserError(f"chromedriver {method} {path}: {error}") from None


# Firefox preferences for a quiet test profile: Marionette on our port, nothing fetched in the
# background (updates, telemetry, safe browsing, remote settings, captive portal checks).
FIREFOX_PREFS = {
    "app.normandy.enabled": False,
    "app.update.disabledForTesting": True,
    "browser.aboutwelcome.enabled": False,
    "browser.safebrowsing.blockedURIs.enabled": False,
    "browser.safebrowsing.downloads.enabled": False,
    "browser.safebrowsing.malware.enabled": False,
    "browser.safebrowsing.phishing.enabled": False,
    "browser.search.update": False,
    "browser.shell.checkDefaultBrowser": False,
    "browser.startup.homepage_override.mstone": "ignore",
    "browser.startup.page": 0,
    "datareporting.healthreport.uploadEnabled": False,
    "datareporting.policy.dataSubmissionEnabled": False,
    "extensions.update.enabled": False,
    "network.captive-portal-service.enabled": False,
    "network.connectivity-service.enabled": False,
    "network.dns.disablePrefetch": True,
    "network.prefetch-next": False,
    "services.settings.server": "http://127.0.0.1:9/",
    "toolkit.telemetry.enabled": False,
    "toolkit.telemetry.server": "",
    "toolkit.telemetry.unified": False,
}


class FirefoxBrowser(Browser):
    """Firefox ESR driven directly over Marionette: TCP messages `LENGTH:JSON`, where a command
    is [0, id, name, params] and its answer [1, id, error, result]."""

    kind = "firefox"
    connection = None
    next_id = 0
    buffer = b""

    def _launch(self):
        port = free_port()
        profile = os.path.join(self.workdir, "profile")
        os.mkdir(profile)
        prefs = dict(FIREFOX_PREFS, **{"marionette.port": port})
        with open(os.path.join(profile, "user.js"), "w") as user_js:
            for key, value in prefs.items():
                user_js.write(f"user_pref({json.dumps(key)}, {json.dumps(value)});\n")
        env = dict(os.environ, HOME=self.workdir, MOZ_CRASHREPORTER_DISABLE="1",
                   MOZ_HEADLESS_WIDTH="1000", MOZ_HEADLESS_HEIGHT="700")
        self.firefox = self._start(
            [BROWSER_BINARIES["firefox"][0], "--headless", "--marionette", "--no-remote",
             "--profile", profile], "firefox", env)
        self.connection = wait_for(lambda: self._connect(port), LAUNCH_TIMEOUT,
                                   "Marionette to listen")
        self.connection.settimeout(LAUNCH_TIMEOUT)
        try:
            self._read_message()  # the greeting: {"applicationType": "gecko", ...}
        except OSError as error:
            raise BrowserError(f"no Marionette greeting: {error}") from None
        # Marionette takes the matched capabilities themselves as parameters (geckodriver
        # matches them otherwise).
        self._call("WebDriver:NewSession", {"acceptInsecureCerts": True})
        self.connection.settimeout(self.timeout)

    def _connect(self, port):
        if not self.firefox.running():
            raise BrowserError("firefox exited")
        try:
            return socket.create_connection(("127.0.0.1", port), timeout=1.0)
        except OSError:
            return None

    def _command(self, name, params):
        result = self._call(COMMANDS[name][2], params)
        return result.get("value") if isinstance(result, dict) else result

    def _shutdown(self):
        if self.connection is None:
            return
        try:
            # Bounded so that quitting a hung browser leaves time to kill it.
            self.connection.settimeout(QUIT_TIMEOUT)
            self._call("Marionette:Quit", {"flags": ["eForceQuit"]})
            self.firefox.popen.wait(QUIT_TIMEOUT)  # a clean exit ends its content processes
        except subprocess.TimeoutExpired:
            pass
        finally:
            self.connection.close()
            self.connection = None

    def _call(self, name, params):
        self.next_id += 1
        body = json.dumps([0, self.next_id, name, params]).encode()
        try:
            self.connection.sendall(str(len(body)).encode() + b":" + body)
            while True:
                reply = self._read_message()
                if isinstance(reply, list) and reply[:2] == [1, self.next_id]:
                    break
        except OSError as error:
            raise BrowserError(f"marionette {name}: {error}") from None
        _, _, error, result = reply
        if error:
            raise BrowserError(f"marionette {name}: {error.get('error')}: "
                               f"{error.get('message', '')[:400]}")
        return result

    def _read_message(self):
        while b":" not in self.buffer:
            self._receive()
        length, _, self.buffer = self.buffer.partition(b":")
        while len(self.buffer) < int(length):
            self._receive()
        message, self.buffer = self.buffer[:int(length)], self.buffer[int(length):]
        return json.loads(message)

    def _receive(self):
        chunk = self.connection.recv(65536)
        if not chunk:
            raise BrowserError("marionette closed the connection:\n" + self.firefox.log_tail())
        self.buffer += chunk


BACKENDS = {"chromium": ChromiumBrowser, "firefox": FirefoxBrowser}


def launch(kind, timeout=DEFAULT_TIMEOUT):
    """Starts the browser `kind` ("chromium" or "firefox") with a fresh profile."""
    return BACKENDS[kind](timeout)
