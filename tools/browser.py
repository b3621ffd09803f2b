"""A tiny Chrome DevTools Protocol client for headless Chromium, for the site's browser test.

Why this and not selenium or ``chromium --dump-dom``: console errors, failed requests and an
image's ``naturalWidth`` are only visible from inside the browser, and CDP reports them as events.
Chromium speaks CDP over a pair of pipes (``--remote-debugging-pipe``: it reads commands from file
descriptor 3 and writes replies and events to 4, each a JSON text ended by a NUL byte), so no
port, websocket library or driver binary is needed: the standard library does it all.

    with Chromium(find_chromium()) as browser:
        page = browser.open_page("file:///.../index.html")
"""

from __future__ import annotations

import base64
import json
import os
import queue
import shutil
import subprocess
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-extensions",
    "--hide-scrollbars",
    "--window-size=1280,900",
]
CANDIDATES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")

# Run in the page once it has loaded: load every image (lazy ones too), then describe images and links.
INSPECT = """
(async () => {
  const images = [...document.images];
  images.forEach(image => { image.loading = "eager"; });
  await Promise.all(images.map(image => image.complete ? null :
    new Promise(done => { image.addEventListener("load", done); image.addEventListener("error", done); })));
  return JSON.stringify({
    title: document.title,
    images: images.map(image => ({src: image.currentSrc || image.src, alt: image.getAttribute("alt"),
                                  width: image.naturalWidth, height: image.naturalHeight})),
    links: [...document.querySelectorAll("a[href]")].map(a => a.href),
    height: Math.max(document.documentElement.scrollHeight, document.body.scrollHeight),
    overflow: document.documentElement.scrollWidth - document.documentElement.clientWidth,
  });
})()
"""


def find_chromium() -> str | None:
    """The Chromium to use: ``$CHROMIUM`` if set, else the first known name on PATH, else None."""
    if os.environ.get("CHROMIUM"):
        return os.environ["CHROMIUM"]
    return next((found for name in CANDIDATES if (found := shutil.which(name))), None)


@dataclass
class Page:
    """What one page showed: its console errors, failed and external requests, images and links."""

    url: str
    title: str = ""
    errors: list[str] = field(default_factory=list)
    external_requests: list[str] = field(default_factory=list)
    images: list[dict] = field(default_factory=list)
    links: list[str] = field(default_factory=list)
    height: int = 0
    overflow: int = 0  # CSS pixels the page is wider than the window (0: nothing spills sideways)
    screenshot: bytes = b""


class Chromium:
    """Headless Chromium driven over CDP pipes; a context manager that ends the browser it started."""

    def __init__(self, executable: str, timeout: float = 30.0):
        self.timeout = timeout
        self._profile = tempfile.mkdtemp(prefix="coursekit-chromium-")  # a fresh --user-data-dir
        commands_read, self._commands = os.pipe()
        self._replies, replies_write = os.pipe()

        def give_pipes() -> None:  # in the child: the protocol's descriptors are 3 and 4
            read, write = os.dup(commands_read), os.dup(replies_write)
            os.dup2(read, 3)
            os.dup2(write, 4)

        self.process = subprocess.Popen(
            [executable, *FLAGS, f"--user-data-dir={self._profile}", "--remote-debugging-pipe", "about:blank"],
            # close_fds=False keeps the two dup2'd descriptors; Python's own are close-on-exec anyway.
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            close_fds=False,
            preexec_fn=give_pipes,
        )
        os.close(commands_read)
        os.close(replies_write)
        self._inbox: queue.Queue = queue.Queue()
        self._next_id = 0
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        buffer = b""
        with os.fdopen(self._replies, "rb", buffering=0) as stream:
            while chunk := stream.read(1 << 16):
                buffer += chunk
                *messages, buffer = buffer.split(b"\0")
                for message in messages:
                    self._inbox.put(json.loads(message))
        self._inbox.put(None)  # the browser has gone

    def send(
        self, method: str, params: dict | None = None, session: str | None = None, events: list | None = None
    ) -> dict:
        """Send one command and return its result; events that arrive meanwhile go to ``events``."""
        self._next_id += 1
        message = {"id": self._next_id, "method": method, "params": params or {}}
        if session:
            message["sessionId"] = session
        os.write(self._commands, json.dumps(message).encode() + b"\0")
        deadline = time.monotonic() + self.timeout
        while True:
            reply = self._get(deadline, method)
            if reply.get("id") == self._next_id:
                if "error" in reply:
                    raise RuntimeError(f"{method}: {reply['error']}")
                return reply.get("result", {})
            if events is not None and "method" in reply:
                events.append(reply)

    def _get(self, deadline: float, waiting_for: str) -> dict:
        try:
            reply = self._inbox.get(timeout=max(0.0, deadline - time.monotonic()))
        except queue.Empty:
            raise TimeoutError(f"Chromium did not answer {waiting_for} within {self.timeout} s") from None
        if reply is None:
            raise RuntimeError(f"Chromium exited while waiting for {waiting_for}")
        return reply

    def wait_for(self, event: str, events: list, session: str) -> None:
        """Collect events into ``events`` until ``event`` arrives for ``session``."""
        if any(e["method"] == event for e in events):
            return
        deadline = time.monotonic() + self.timeout
        while True:
            reply = self._get(deadline, event)
            if "method" in reply:
                events.append(reply)
                if reply["method"] == event and reply.get("sessionId") == session:
                    return

    def drain(self, events: list, seconds: float) -> None:
        """Collect the events that arrive within ``seconds`` (late console errors)."""
        deadline = time.monotonic() + seconds
        while (left := deadline - time.monotonic()) > 0:
            try:
                reply = self._inbox.get(timeout=left)
            except queue.Empty:
                return
            if reply is None:
                return
            if "method" in reply:
                events.append(reply)

    def open_page(self, url: str, width: int = 1280, max_height: int = 16000) -> Page:
        """Load ``url`` in a fresh tab and report what happened, with a full-page screenshot."""
        target = self.send("Target.createTarget", {"url": "about:blank"})["targetId"]
        session = self.send("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
        events: list = []
        try:
            for domain in ("Page", "Runtime", "Log", "Network"):
                self.send(f"{domain}.enable", session=session, events=events)
            self.send(
                "Emulation.setDeviceMetricsOverride",
                {"width": width, "height": 900, "deviceScaleFactor": 1, "mobile": False},
                session=session,
                events=events,
            )
            events.clear()  # only what the page itself does counts
            self.send("Page.navigate", {"url": url}, session=session, events=events)
            self.wait_for("Page.loadEventFired", events, session)
            result = self.send(
                "Runtime.evaluate",
                {"expression": INSPECT, "awaitPromise": True, "returnByValue": True},
                session=session,
                events=events,
            )
            if "exceptionDetails" in result:
                raise RuntimeError(f"inspecting {url} failed: {result['exceptionDetails']}")
            found = json.loads(result["result"]["value"])
            # A viewport as tall as the page (capped) photographs it whole, laid out as on a screen.
            height = min(max_height, max(900, int(found["height"])))
            self.send(
                "Emulation.setDeviceMetricsOverride",
                {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": False},
                session=session,
                events=events,
            )
            self.drain(events, 0.5)  # re-layout, and any late console error
            shot = self.send("Page.captureScreenshot", {"format": "png"}, session=session, events=events)
        finally:
            self.send("Target.closeTarget", {"targetId": target})
        page = Page(
            url,
            found["title"],
            images=found["images"],
            links=found["links"],
            height=int(found["height"]),
            overflow=int(found.get("overflow", 0)),
            screenshot=base64.b64decode(shot["data"]),
        )
        for event in events:
            if event.get("sessionId") not in (None, session):
                continue
            page.errors += _error_of(event)
            if event["method"] == "Network.requestWillBeSent":
                request = event["params"]["request"]["url"]
                if not request.startswith(("file:", "data:", "about:", "blob:")):
                    page.external_requests.append(request)
        return page

    def close(self) -> None:
        """End the browser and remove its profile folder."""
        try:
            os.write(self._commands, json.dumps({"id": 0, "method": "Browser.close"}).encode() + b"\0")
            self.process.wait(timeout=10)
        except (OSError, subprocess.TimeoutExpired):
            self.process.kill()
            self.process.wait()
        finally:
            os.close(self._commands)
            shutil.rmtree(self._profile, ignore_errors=True)

    def __enter__(self) -> "Chromium":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def _error_of(event: dict) -> list[str]:
    """The console error an event reports, as text (none for other events)."""
    method, params = event["method"], event.get("params", {})
    if method == "Runtime.exceptionThrown":
        details = params["exceptionDetails"]
        return [f"uncaught exception: {details.get('exception', {}).get('description') or details.get('text')}"]
    if method == "Runtime.consoleAPICalled" and params.get("type") in ("error", "assert"):
        return [
            "console.error: " + " ".join(str(arg.get("value", arg.get("description", ""))) for arg in params["args"])
        ]
    if method == "Log.entryAdded" and params["entry"]["level"] == "error":
        entry = params["entry"]
        return [f"{entry['source']} error: {entry['text']} {entry.get('url', '')}".rstrip()]
    if method == "Network.loadingFailed" and not params.get("canceled"):
        return [f"request failed: {params.get('errorText')} (request {params.get('requestId')})"]
    return []


def save_screenshot(page: Page, folder: Path, name: str) -> Path:
    """Write ``page``'s screenshot to ``folder/name.png``; return its path."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.png"
    path.write_bytes(page.screenshot)
    return path
