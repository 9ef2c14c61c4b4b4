"""A small W3C WebDriver client over Python's standard library (urllib + json), enough to drive
Debian's chromium through chromium-driver in a test: start the driver, open a headless session
with a fresh profile, navigate, find elements by CSS selector, type, click, run a script, wait
for a condition and save screenshots. No Selenium, no npm.

The protocol: https://www.w3.org/TR/webdriver2/ (commands are HTTP requests to the driver;
answers are {"value": ...}, errors {"value": {"error", "message"}} with a 4xx/5xx status)."""

import base64
import json
import os
import shutil
import socket
import subprocess
import tempfile
import time
import urllib.error
import urllib.request

ELEMENT_KEY = "element-6066-11e4-a52e-4f735466cecf"  # the W3C web element identifier

# The flags the issue asks for: no sandbox (containers, root), no GPU, and nothing that talks
# to the network or updates itself while the test runs.
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--disable-dev-shm-usage", "--no-proxy-server", "--window-size=1280,1000",
]

# every request here is to loopback: an http_proxy in the environment must not catch it
DIRECT = urllib.request.build_opener(urllib.request.ProxyHandler({}))


class WebDriverError(Exception):
    """A command the driver refused or that failed in the browser."""


class WaitTimeout(WebDriverError):
    """wait_for ran out of time; the message says what was awaited."""


def free_port():
    """A loopback port free right now (chromedriver has no 'pick one and tell me')."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Browser:
    """One chromium session behind its own chromedriver process; use as a context manager so
    the browser, the driver and the temporary profile are removed whatever happens."""

    def __init__(self, chromium="/usr/bin/chromium", chromedriver="chromedriver", log_path=None,
                 timeout=30.0):
        self.chromium = chromium
        self.chromedriver = shutil.which(chromedriver) or chromedriver
        self.log_path = log_path
        self.timeout = timeout
        self.process = None
        self.profile = None
        self.session = None
        self.base = None

    # ---- lifetime ----
    def __enter__(self):
        try:
            self._start_driver()
            self._start_session()
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(self, *exc):
        self.close()

    def _start_driver(self):
        port = free_port()
        self.base = "http://127.0.0.1:%d" % port
        log = ["--log-path=" + self.log_path] if self.log_path else []
        self.process = subprocess.Popen([self.chromedriver, "--port=%d" % port] + log,
                                        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + self.timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise WebDriverError("chromedriver exited with status %d" % self.process.returncode)
            try:
                if self._request("GET", "/status", timeout=2).get("ready"):
                    return
            except (OSError, WebDriverError):
                pass
            time.sleep(0.1)
        raise WebDriverError("chromedriver did not become ready within %.0f s" % self.timeout)

    def _start_session(self):
        # a fresh profile: no cookies, storage or cache from an earlier run
        self.profile = tempfile.mkdtemp(prefix="semb-chromium-")
        options = {"binary": self.chromium, "args": CHROMIUM_ARGS + ["--user-data-dir=" + self.profile]}
        caps = {"capabilities": {"alwaysMatch": {"browserName": "chrome",
                                                 "goog:chromeOptions": options}}}
        value = self._request("POST", "/session", caps, timeout=60)
        self.session = value["sessionId"]

    def close(self):
        if self.session:
            try:
                self._request("DELETE", "/session/" + self.session, timeout=10)
            except (OSError, WebDriverError):
                pass
            self.session = None
        if self.process:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
            self.process = None
        if self.profile:
            shutil.rmtree(self.profile, ignore_errors=True)
            self.profile = None

    # ---- the protocol ----
    def _request(self, method, path, body=None, timeout=None):
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(self.base + path, data=data, method=method,
                                     headers={"Content-Type": "application/json; charset=utf-8"})
        try:
            with DIRECT.open(req, timeout=timeout or self.timeout) as response:
                answer = json.loads(response.read() or b"{}")
        except urllib.error.HTTPError as e:
            try:
                value = json.loads(e.read()).get("value", {})
                message = "%s: %s" % (value.get("error"), value.get("message", "").splitlines()[0])
            except (ValueError, AttributeError, IndexError):
                message = "HTTP %d" % e.code
            raise WebDriverError("%s %s: %s" % (method, path, message)) from None
        return answer.get("value")

    def _command(self, method, path, body=None):
        return self._request(method, "/session/%s%s" % (self.session, path), body)

    # ---- pages ----
    def get(self, url):
        self._command("POST", "/url", {"url": url})

    def set_window_size(self, width, height):
        self._command("POST", "/window/rect", {"width": width, "height": height})

    def execute(self, script, *args):
        """Runs script (a function body; arguments in `arguments`) and returns its value."""
        return self._command("POST", "/execute/sync", {"script": script, "args": list(args)})

    def screenshot(self, path):
        """Saves the viewport as a PNG at path."""
        png = base64.b64decode(self._command("GET", "/screenshot"))
        if not png.startswith(b"\x89PNG\r\n\x1a\n"):
            raise WebDriverError("the screenshot is not a PNG")
        os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
        with open(path, "wb") as f:
            f.write(png)
        return path

    # ---- elements ----
    def find(self, css):
        """The first element matching css (WebDriverError when there is none)."""
        value = self._command("POST", "/element", {"using": "css selector", "value": css})
        return Element(self, value[ELEMENT_KEY], css)

    def find_all(self, css):
        values = self._command("POST", "/elements", {"using": "css selector", "value": css})
        return [Element(self, v[ELEMENT_KEY], css) for v in values]

    def wait_for(self, what, condition, timeout=None):
        """Polls condition() until it returns something truthy (returned) or timeout seconds
        pass (WaitTimeout naming what). A WebDriverError inside counts as not yet."""
        deadline = time.monotonic() + (timeout or self.timeout)
        last = None
        while True:
            try:
                value = condition()
                if value:
                    return value
            except WebDriverError as e:
                last = e
            if time.monotonic() >= deadline:
                raise WaitTimeout("timed out waiting for %s%s" % (what, " (%s)" % last if last else ""))
            time.sleep(0.1)


class Element:
    def __init__(self, browser, element_id, css):
        self.browser = browser
        self.id = element_id
        self.css = css

    def _command(self, method, path, body=None):
        return self.browser._command(method, "/element/%s%s" % (self.id, path), body)

    def find(self, css):
        """The first element inside this one matching css."""
        value = self._command("POST", "/element", {"using": "css selector", "value": css})
        return Element(self.browser, value[ELEMENT_KEY], css)

    def click(self):
        self._command("POST", "/click", {})

    def clear(self):
        self._command("POST", "/clear", {})

    def send_keys(self, text):
        self._command("POST", "/value", {"text": text})

    def fill(self, text):
        """Replaces the field's content by typing text (newlines included)."""
        self.clear()
        if text:
            self.send_keys(text)

    @property
    def text(self):
        return self._command("GET", "/text")

    def attribute(self, name):
        return self._command("GET", "/attribute/" + name)

    def is_displayed(self):
        return self._command("GET", "/displayed")

    def is_enabled(self):
        return self._command("GET", "/enabled")

    def select(self, value):
        """Picks the <option> with this value in a <select> (clicking it, as a user would)."""
        self.click()
        self.browser.find('%s option[value="%s"]' % (self.css, value)).click()
