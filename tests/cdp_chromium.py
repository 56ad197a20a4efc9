"""A minimal headless-Chromium driver over the DevTools protocol (for tests and benchmarks).

Starts ``chromium --headless`` with a fresh profile and ``--remote-debugging-port=0``, reads
the port from the profile's ``DevToolsActivePort``, and talks to the page (and the browser,
for downloads) over ``websocket-client``. Only the loopback interface is used; the flags turn
off every background network service of Chromium.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import time
import urllib.request
from pathlib import Path
from typing import Any

#: Flags that work in a container without a display, GPU, sandbox or network.
FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
    "--hide-scrollbars",
    "--mute-audio",
)

_KEYS = {
    "ArrowDown": 40,
    "ArrowUp": 38,
    "ArrowLeft": 37,
    "ArrowRight": 39,
    "Enter": 13,
    "Escape": 27,
    "Backspace": 8,
}


def find_browser() -> str | None:
    """Path of a Chromium-family browser, or None (``$BROOKER_CHROMIUM`` first)."""
    env = os.environ.get("BROOKER_CHROMIUM")
    if env and Path(env).is_file():
        return env
    for name in ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable"):
        found = shutil.which(name)
        if found:
            return found
    return None


class CDPError(RuntimeError):
    """A DevTools command failed or timed out."""


class _Conn:
    def __init__(self, url: str, timeout: float) -> None:
        import websocket  # websocket-client

        self.ws = websocket.create_connection(url, timeout=timeout, suppress_origin=True)
        self.next_id = 0
        self.events: list[dict[str, Any]] = []

    def send(self, method: str, timeout: float = 30.0, **params: Any) -> dict[str, Any]:
        self.next_id += 1
        my_id = self.next_id
        self.ws.send(json.dumps({"id": my_id, "method": method, "params": params}))
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            msg = json.loads(self.ws.recv())
            if msg.get("id") == my_id:
                if "error" in msg:
                    raise CDPError(f"{method}: {msg['error']}")
                return dict(msg.get("result") or {})
            if "method" in msg:
                self.events.append(msg)
        raise CDPError(f"{method}: no answer in {timeout} s")

    def close(self) -> None:
        try:
            self.ws.close()
        except Exception:  # pragma: no cover - best effort
            pass


class Chromium:
    """One headless Chromium with one page; use as a context manager."""

    def __init__(
        self, binary: str, profile_dir: Path, *, width: int = 1400, height: int = 1000,
        timeout: float = 30.0,
    ) -> None:
        profile_dir.mkdir(parents=True, exist_ok=True)
        self.proc = subprocess.Popen(
            [
                binary,
                *FLAGS,
                f"--user-data-dir={profile_dir}",
                "--remote-debugging-address=127.0.0.1",
                "--remote-debugging-port=0",
                f"--window-size={width},{height}",
                "about:blank",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,  # its own process group, ended as a whole in close()
        )
        try:
            port_file = profile_dir / "DevToolsActivePort"
            deadline = time.monotonic() + timeout
            lines: list[str] = []
            while time.monotonic() < deadline:
                if port_file.is_file():
                    lines = port_file.read_text().split()
                    if len(lines) >= 2:
                        break
                if self.proc.poll() is not None:
                    raise CDPError(f"{binary} exited with {self.proc.returncode}")
                time.sleep(0.05)
            else:
                raise CDPError(f"{binary} did not open a DevTools port in {timeout} s")
            port = int(lines[0])
            base = f"http://127.0.0.1:{port}"
            self.browser = _Conn(f"ws://127.0.0.1:{port}{lines[1]}", timeout)
            pages: list[dict[str, Any]] = []
            while time.monotonic() < deadline and not pages:
                with urllib.request.urlopen(f"{base}/json/list", timeout=timeout) as resp:
                    pages = [t for t in json.load(resp) if t.get("type") == "page"]
                if not pages:
                    time.sleep(0.05)
            if not pages:
                raise CDPError("no page target")
            self.page = _Conn(pages[0]["webSocketDebuggerUrl"], timeout)
            self.page.send("Page.enable")
            self.page.send("Runtime.enable")
        except BaseException:
            self.close()
            raise

    def __enter__(self) -> Chromium:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Close the connections and end the browser's process group."""
        for name in ("page", "browser"):
            conn = getattr(self, name, None)
            if conn is not None:
                conn.close()
        if self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, signal.SIGTERM)
            except ProcessLookupError:  # pragma: no cover
                pass
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:  # pragma: no cover
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=10)

    # ---- page helpers ---------------------------------------------------------------------

    def evaluate(self, expression: str, timeout: float = 30.0) -> Any:
        """Value of a JavaScript expression in the page (promises awaited)."""
        res = self.page.send(
            "Runtime.evaluate",
            timeout=timeout,
            expression=expression,
            returnByValue=True,
            awaitPromise=True,
        )
        if "exceptionDetails" in res:
            raise CDPError(f"{expression!r}: {res['exceptionDetails']}")
        return res.get("result", {}).get("value")

    def wait_for(self, expression: str, timeout: float = 30.0) -> Any:
        """Poll until a JavaScript expression is truthy (an exception counts as false)."""
        guarded = f"(() => {{ try {{ return ({expression}); }} catch (e) {{ return false; }} }})()"
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            value = self.evaluate(guarded)
            if value:
                return value
            time.sleep(0.02)
        raise CDPError(f"timed out waiting for {expression!r}")

    def _forget_ready(self) -> None:
        # so that the page being left cannot pass for the one being opened
        self.evaluate(
            "document.documentElement && delete document.documentElement.dataset.ready"
        )

    def navigate(self, url: str, ready: str = "document.readyState === 'complete'") -> None:
        """Open ``url`` and wait until ``ready`` holds (``ready`` must be false on the
        page being left, or rely on ``dataset.ready``, which is cleared first)."""
        self._forget_ready()
        self.page.send("Page.navigate", url=url)
        self.wait_for(ready)

    def reload(self, ready: str) -> None:
        """Reload the page and wait until ``ready`` holds."""
        self._forget_ready()
        self.page.send("Page.reload")
        self.wait_for(ready)

    def key(self, key: str) -> None:
        """Press and release one key (``"j"``, ``"3"``, ``"ArrowDown"``, ``"Enter"``...)."""
        if key in _KEYS:
            down: dict[str, Any] = {
                "type": "rawKeyDown",
                "key": key,
                "code": key,
                "windowsVirtualKeyCode": _KEYS[key],
            }
            if key == "Enter":
                down = {**down, "type": "keyDown", "text": "\r"}
        else:
            code = f"Digit{key}" if key.isdigit() else f"Key{key.upper()}"
            down = {
                "type": "keyDown",
                "key": key,
                "code": code,
                "text": key,
                "windowsVirtualKeyCode": ord(key.upper()),
            }
        self.page.send("Input.dispatchKeyEvent", **down)
        up = {k: v for k, v in down.items() if k != "text"}
        self.page.send("Input.dispatchKeyEvent", **{**up, "type": "keyUp"})

    def type_text(self, text: str) -> None:
        """Type text into the focused element."""
        self.page.send("Input.insertText", text=text)

    def click(self, selector: str) -> None:
        """A real mouse click in the middle of the first element matching ``selector``."""
        box = self.evaluate(
            f"(() => {{ const e = document.querySelector({json.dumps(selector)});"
            " e.scrollIntoView({block: 'center'}); const r = e.getBoundingClientRect();"
            " return [r.left + r.width / 2, r.top + r.height / 2]; })()"
        )
        x, y = box
        for kind in ("mouseMoved", "mousePressed", "mouseReleased"):
            self.page.send(
                "Input.dispatchMouseEvent", type=kind, x=x, y=y, button="left", clickCount=1
            )

    def set_files(self, selector: str, paths: list[Path]) -> None:
        """Choose ``paths`` in the file input matching ``selector``, as a user picking them in
        the file dialog does (its ``change`` event fires)."""
        root = self.page.send("DOM.getDocument")["root"]["nodeId"]
        node = self.page.send("DOM.querySelector", nodeId=root, selector=selector)["nodeId"]
        self.page.send("DOM.setFileInputFiles", nodeId=node, files=[str(p) for p in paths])

    def allow_downloads(self, folder: Path) -> None:
        """Save downloads into ``folder`` without asking."""
        folder.mkdir(parents=True, exist_ok=True)
        self.browser.send(
            "Browser.setDownloadBehavior", behavior="allow", downloadPath=str(folder)
        )

    def screenshot(self, path: Path, *, full_page: bool = False) -> Path:
        """A PNG of the viewport (or of the whole page)."""
        import base64

        params: dict[str, Any] = {"format": "png"}
        if full_page:
            params["captureBeyondViewport"] = True
            metrics = self.page.send("Page.getLayoutMetrics")
            size = metrics["cssContentSize"]
            params["clip"] = {
                "x": 0, "y": 0, "width": size["width"], "height": size["height"], "scale": 1,
            }
        data = self.page.send("Page.captureScreenshot", **params)["data"]
        path.write_bytes(base64.b64decode(data))
        return path
