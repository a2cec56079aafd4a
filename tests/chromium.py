"""One headless Chromium client for the browser tests (and tools/bench_web.py): Debian's `chromium` driven
over the DevTools protocol through a pipe (--remote-debugging-pipe: requests on fd 3, answers on fd 4,
NUL-separated JSON), so no port is opened and no driver package is needed.

`launch_or_skip()` starts one, or skips the test when no Chromium is installed, unless
CHARKERAS_REQUIRE_BROWSER=1 (CI sets it) makes that a failure. Standard library only (plus pytest there).
"""

from __future__ import annotations

import base64
import fcntl
import json
import os
import select
import shutil
import subprocess
import tempfile
import time


def find_chromium() -> str | None:
    for name in (os.environ.get("CHARKERAS_CHROMIUM"), "chromium", "chromium-browser", "google-chrome"):
        if name and shutil.which(name):
            return shutil.which(name)
    return None


def required() -> bool:
    return os.environ.get("CHARKERAS_REQUIRE_BROWSER") == "1"


def launch_or_skip() -> Chromium:
    import pytest

    exe = find_chromium()
    if exe is None:
        message = "no Chromium found: install Debian's `chromium` package (or set CHARKERAS_CHROMIUM)"
        if required():
            pytest.fail(message)
        pytest.skip(message)
    return Chromium(exe)


def _high_fd(fd: int) -> int:
    """`fd` moved to 10 or above, so the shell's `3<&A 4>&B` below never overwrites A or B before using it."""
    high = fcntl.fcntl(fd, fcntl.F_DUPFD, 10)
    os.close(fd)
    return high


class Chromium:
    """A headless Chromium with a DevTools-protocol session on one page at a time."""

    def __init__(self, exe: str, window: str = "1280,900"):
        self.profile = tempfile.mkdtemp(prefix="charkeras-chromium-")
        cmd_read, self._cmd = os.pipe()
        self._answers, answer_write = os.pipe()
        # Chromium wants the pipe on fds 3 and 4; bash moves them there (dash cannot name fds above 9,
        # and preexec_fn is unsafe once TensorFlow has started threads in this process). The child's ends
        # are moved above 9 first: were one of them 3 or 4, the remap would close it before reading it.
        cmd_read, answer_write = _high_fd(cmd_read), _high_fd(answer_write)
        remap = f'exec "$0" "$@" 3<&{cmd_read} 4>&{answer_write} {cmd_read}<&- {answer_write}>&-'
        self.proc = subprocess.Popen(
            [shutil.which("bash") or "/bin/bash", "-c", remap, exe, "--headless", "--no-sandbox", "--disable-gpu",
             "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update",
             "--disable-sync", "--disable-extensions", f"--user-data-dir={self.profile}", "--remote-debugging-pipe",
             f"--window-size={window}", "--hide-scrollbars", "about:blank"],
            pass_fds=(cmd_read, answer_write), stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        os.close(cmd_read)
        os.close(answer_write)
        self._buffer, self._next_id, self.events, self.session, self.target = b"", 0, [], None, None

    def send(self, method: str, params: dict | None = None, timeout: float = 30.0, browser: bool = False):
        self._next_id += 1
        message = {"id": self._next_id, "method": method, "params": params or {}}
        if self.session and not browser:
            message["sessionId"] = self.session
        os.write(self._cmd, json.dumps(message).encode() + b"\0")
        deadline = time.monotonic() + timeout
        while True:
            answer = self._receive(deadline)
            if answer.get("id") == self._next_id:
                if "error" in answer:
                    raise RuntimeError(f"{method}: {answer['error']}")
                return answer["result"]
            self.events.append(answer)

    def _receive(self, deadline: float) -> dict:
        while b"\0" not in self._buffer:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([self._answers], [], [], left)[0]:
                raise TimeoutError("Chromium did not answer in time")
            chunk = os.read(self._answers, 1 << 20)
            if not chunk:
                raise RuntimeError("Chromium closed the DevTools pipe")
            self._buffer += chunk
        raw, self._buffer = self._buffer.split(b"\0", 1)
        return json.loads(raw)

    def wait_for(self, method: str, timeout: float = 30.0) -> dict:
        deadline = time.monotonic() + timeout
        while True:
            for event in self.events:
                if event.get("method") == method:
                    self.events.remove(event)
                    return event
            self.events.append(self._receive(deadline))

    def open(self, url: str, timeout: float = 30.0) -> None:
        """A new page (the previous one closed) with console, log and network events recorded; returns once
        it has loaded."""
        if self.target:
            self.send("Target.closeTarget", {"targetId": self.target}, browser=True)
        self.target = self.send("Target.createTarget", {"url": "about:blank"}, browser=True)["targetId"]
        self.session = self.send("Target.attachToTarget", {"targetId": self.target, "flatten": True},
                                 browser=True)["sessionId"]
        self.events.clear()
        for domain in ("Page", "Runtime", "Log", "Network"):
            self.send(f"{domain}.enable")
        self.send("Page.navigate", {"url": url})
        self.wait_for("Page.loadEventFired", timeout)

    def js(self, expression: str, timeout: float = 30.0):
        result = self.send("Runtime.evaluate", {"expression": expression, "returnByValue": True,
                                                "awaitPromise": True}, timeout=timeout)
        if "exceptionDetails" in result:
            raise RuntimeError(result["exceptionDetails"])
        return result["result"].get("value")

    def wait_until(self, expression: str, timeout: float = 60.0, poll: float = 0.1):
        """Poll `expression` until it is truthy; returns its value, or raises TimeoutError."""
        deadline = time.monotonic() + timeout
        while True:
            value = self.js(expression)
            if value:
                return value
            if time.monotonic() > deadline:
                raise TimeoutError(f"{expression!r} still falsy after {timeout:.0f} s")
            time.sleep(poll)

    def problems(self) -> list[str]:
        """Console errors and warnings, uncaught exceptions, log errors and dialogs seen so far."""
        found = []
        for event in self.events:
            method, params = event.get("method"), event.get("params", {})
            if method == "Runtime.consoleAPICalled" and params.get("type") in ("error", "warning", "assert"):
                args = [a.get("value", a.get("description")) for a in params.get("args", [])]
                found.append(f"console.{params['type']}: {args}")
            elif method == "Runtime.exceptionThrown":
                found.append(f"exception: {params['exceptionDetails']}")
            elif method == "Log.entryAdded" and params["entry"]["level"] in ("error", "warning"):
                found.append(f"log: {params['entry']['text']}")
            elif method == "Page.javascriptDialogOpening":
                found.append(f"dialog: {params.get('message')}")
        return found

    def requested_urls(self) -> list[str]:
        return [e["params"]["request"]["url"] for e in self.events if e.get("method") == "Network.requestWillBeSent"]

    def screenshot(self) -> bytes:
        return base64.b64decode(self.send("Page.captureScreenshot", {"format": "png"})["data"])

    def close(self) -> None:
        """Close the browser (killed if it does not exit within 10 s) and remove its profile."""
        try:
            self.send("Browser.close", browser=True, timeout=10)
            self.proc.wait(timeout=10)
        except (RuntimeError, TimeoutError, OSError, subprocess.TimeoutExpired):
            self.proc.kill()
            self.proc.wait(timeout=10)
        os.close(self._cmd)
        os.close(self._answers)
        shutil.rmtree(self.profile, ignore_errors=True)
