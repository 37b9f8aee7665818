"""A real ComfyUI server in a temporary folder and a headless Chromium driven over the DevTools
protocol (plain CDP over a websocket, with aiohttp), for the browser test.

The server is ``python main.py --cpu`` from the host folder with every writable path in a temporary
base directory (--base-directory, --user-directory, --output-directory, an in-memory database):
the ComfyUI folder itself is never written. Its custom_nodes folder holds a symlink to this pack and
one to tests/support/substitutes_pack (the tiny stand-in nodes of hh_substitutes.py). Only 127.0.0.1.
"""
from __future__ import annotations

import asyncio
import base64
import itertools
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

SUPPORT_DIR = Path(__file__).resolve().parent
PACK_DIR = SUPPORT_DIR.parents[1]
PACK_FOLDER_NAME = "ComfyUI-HeadHunter"
CHROMIUM_FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--hide-scrollbars", "--mute-audio", "--remote-debugging-address=127.0.0.1", "--remote-debugging-port=0",
]


def find_chromium() -> str | None:
    for name in ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable"):
        found = shutil.which(name)
        if found:
            return found
    return None


def end_process(process: subprocess.Popen | None, timeout: float) -> None:
    """Terminate a process this module started, killing it if it does not exit in time."""
    if process and process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class ComfyServer:
    """``python main.py --cpu`` in a temporary base directory; ``url`` once ``start`` returned."""

    def __init__(self, host_dir: Path, python: str = sys.executable, settings: dict | None = None):
        self.host_dir = Path(host_dir)
        self.python = python
        self.base = Path(tempfile.mkdtemp(prefix="hh-comfy-"))
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = self.base / "server.log"
        self.settings = settings or {}
        self.process: subprocess.Popen | None = None

    @property
    def models(self) -> Path:
        return self.base / "models"

    def prepare(self) -> None:
        custom_nodes = self.base / "custom_nodes"
        custom_nodes.mkdir(parents=True)
        (custom_nodes / PACK_FOLDER_NAME).symlink_to(PACK_DIR, target_is_directory=True)
        (custom_nodes / "hh_test_substitutes").symlink_to(SUPPORT_DIR / "substitutes_pack", target_is_directory=True)
        user = self.base / "user" / "default"
        user.mkdir(parents=True)
        (user / "comfy.settings.json").write_text(json.dumps(self.settings))

    def start(self, timeout: float = 180.0) -> None:
        cmd = [
            self.python, "main.py", "--cpu", "--listen", "127.0.0.1", "--port", str(self.port),
            "--base-directory", str(self.base), "--user-directory", str(self.base / "user"),
            "--output-directory", str(self.base / "output"), "--temp-directory", str(self.base),
            "--input-directory", str(self.base / "input"), "--database-url", "sqlite:///:memory:",
            "--disable-auto-launch", "--preview-method", "none",
        ]
        # One torch thread: the tiny stand-in models gain nothing from more, and on a shared CPU
        # OpenMP's spinning threads made them many times slower.
        env = {"OMP_NUM_THREADS": "1", **os.environ, "PYTHONDONTWRITEBYTECODE": "1", "NO_PROXY": "127.0.0.1,localhost"}
        self.log = open(self.log_path, "w")
        self.process = subprocess.Popen(cmd, cwd=self.host_dir, stdout=self.log, stderr=subprocess.STDOUT, env=env)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"ComfyUI exited with {self.process.returncode}:\n{self.tail()}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1):
                    return
            except OSError:
                time.sleep(0.5)
        raise RuntimeError(f"ComfyUI did not listen within {timeout:.0f} s:\n{self.tail()}")

    def tail(self, lines: int = 40) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def stop(self) -> None:
        end_process(self.process, timeout=20)
        if getattr(self, "log", None):
            self.log.close()
        shutil.rmtree(self.base, ignore_errors=True)


class CDPError(RuntimeError):
    pass


class Browser:
    """Headless Chromium and one page, spoken to with Chrome DevTools Protocol commands."""

    def __init__(self, executable: str, width: int = 1600, height: int = 1000):
        self.executable = executable
        self.width, self.height = width, height
        self.profile = Path(tempfile.mkdtemp(prefix="hh-chromium-"))
        self.process: subprocess.Popen | None = None
        self.session = None  # aiohttp.ClientSession
        self.ws = None
        self.ids = itertools.count(1)
        self.pending: dict[int, asyncio.Future] = {}
        self.console: list[str] = []
        self.reader: asyncio.Task | None = None

    async def start(self, timeout: float = 60.0) -> None:
        import aiohttp  # ComfyUI's own dependency: present wherever a host (and so this test) runs

        cmd = [self.executable, *CHROMIUM_FLAGS, f"--user-data-dir={self.profile}",
               f"--window-size={self.width},{self.height}", "about:blank"]
        self.process = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        port_file = self.profile / "DevToolsActivePort"
        deadline = time.monotonic() + timeout
        while not port_file.exists() or len(port_file.read_text().split()) < 2:
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("Chromium did not start its DevTools endpoint")
            await asyncio.sleep(0.1)
        port = int(port_file.read_text().split()[0])
        self.session = aiohttp.ClientSession()
        async with self.session.get(f"http://127.0.0.1:{port}/json/list") as r:
            page = next(t for t in await r.json() if t["type"] == "page")
        self.ws = await self.session.ws_connect(page["webSocketDebuggerUrl"], max_msg_size=0)
        self.reader = asyncio.create_task(self._read())
        await self.send("Runtime.enable")
        await self.send("Page.enable")
        await self.send("Emulation.setDeviceMetricsOverride", width=self.width, height=self.height,
                        deviceScaleFactor=1, mobile=False)

    async def _read(self) -> None:
        async for msg in self.ws:
            data = json.loads(msg.data)
            if "id" in data and data["id"] in self.pending:
                self.pending.pop(data["id"]).set_result(data)
            elif data.get("method") == "Runtime.consoleAPICalled":
                args = data["params"]["args"]
                self.console.append(f"{data['params']['type']}: " + " ".join(str(a.get("value", a.get("description", ""))) for a in args))
            elif data.get("method") == "Runtime.exceptionThrown":
                details = data["params"]["exceptionDetails"]
                self.console.append(f"exception: {details.get('exception', {}).get('description', details.get('text'))}")

    async def send(self, method: str, **params) -> dict:
        msg_id = next(self.ids)
        future = asyncio.get_running_loop().create_future()
        self.pending[msg_id] = future
        await self.ws.send_str(json.dumps({"id": msg_id, "method": method, "params": params}))
        reply = await asyncio.wait_for(future, 120)
        if "error" in reply:
            raise CDPError(f"{method}: {reply['error']}")
        return reply.get("result", {})

    async def evaluate(self, expression: str):
        """The value of a JavaScript expression (awaited when it is a promise)."""
        result = await self.send("Runtime.evaluate", expression=expression, awaitPromise=True, returnByValue=True)
        if "exceptionDetails" in result:
            details = result["exceptionDetails"]
            raise CDPError(details.get("exception", {}).get("description") or details.get("text"))
        return result["result"].get("value")

    async def wait_for(self, expression: str, timeout: float = 60.0, what: str | None = None):
        deadline = time.monotonic() + timeout
        while True:
            value = await self.evaluate(expression)
            if value:
                return value
            if time.monotonic() > deadline:
                raise TimeoutError(f"waited {timeout:.0f} s for {what or expression}; console:\n" + "\n".join(self.console[-20:]))
            await asyncio.sleep(0.25)

    async def navigate(self, url: str) -> None:
        await self.send("Page.navigate", url=url)

    async def mouse(self, kind: str, x: float, y: float, buttons: int = 0, button: str = "none") -> None:
        await self.send("Input.dispatchMouseEvent", type=kind, x=x, y=y, button=button, buttons=buttons,
                        clickCount=1 if kind != "mouseMoved" else 0)

    async def click(self, x: float, y: float) -> None:
        await self.mouse("mouseMoved", x, y)
        await self.mouse("mousePressed", x, y, buttons=1, button="left")
        await self.mouse("mouseReleased", x, y, button="left")

    async def drag(self, points: list[tuple[float, float]]) -> None:
        (x0, y0), rest = points[0], points[1:]
        await self.mouse("mouseMoved", x0, y0)
        await self.mouse("mousePressed", x0, y0, buttons=1, button="left")
        for x, y in rest:
            await self.mouse("mouseMoved", x, y, buttons=1, button="left")
        await self.mouse("mouseReleased", *points[-1], button="left")

    async def screenshot(self, path: Path, fmt: str = "png", clip: dict | None = None, quality: int = 85,
                         scale: float = 1.0) -> None:
        params = {"format": fmt, **({"quality": quality} if fmt == "jpeg" else {})}
        if clip or scale != 1.0:
            params["clip"] = {**(clip or {"x": 0, "y": 0, "width": self.width, "height": self.height}), "scale": scale}
        data = await self.send("Page.captureScreenshot", **params)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(base64.b64decode(data["data"]))

    async def close(self) -> None:
        if self.reader:
            self.reader.cancel()
        if self.ws:
            await self.ws.close()
        if self.session:
            await self.session.close()
        end_process(self.process, timeout=10)
        shutil.rmtree(self.profile, ignore_errors=True)
