"""Headless Chromium (Debian's package, never a downloaded build) driven over the Chrome DevTools Protocol.

Just what the ``lab serve`` test needs: open a page, run JavaScript in it (awaiting promises), press keys as
a person types them, resize the window, close the tab. Chromium listens for DevTools on a port it chooses
and says which on stderr; the test process is inside the lab's namespace, so nothing can leave.
"""

from __future__ import annotations

import itertools
import json
import re
import shutil
import subprocess
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import trio

from tests.wsclient import Closed, WebSocket, open_websocket

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]  # fmt: skip
SKIP_REASON = "chromium is not installed (make test installs the Debian package when run as root)"


class BrowserError(AssertionError):
    """The browser answered a command with an error, or a script in the page threw."""


@dataclass
class DevTools:
    socket: WebSocket
    _ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1))
    _waiting: dict[int, trio.MemorySendChannel[dict[str, Any]]] = field(default_factory=dict)

    async def _read(self) -> None:
        while True:
            try:
                message = json.loads(await self.socket.get_message())
            except Closed:  # the browser is going away
                return
            channel = self._waiting.pop(message.get("id", -1), None)
            if channel is not None:
                channel.send_nowait(message)

    async def call(self, method: str, session: str | None = None, **params: Any) -> dict[str, Any]:
        number = next(self._ids)
        send, receive = trio.open_memory_channel[dict[str, Any]](1)
        self._waiting[number] = send
        request: dict[str, Any] = {"id": number, "method": method, "params": params}
        if session:
            request["sessionId"] = session
        await self.socket.send_message(json.dumps(request))
        answer = await receive.receive()
        if "error" in answer:
            raise BrowserError(f"{method}: {answer['error']}")
        result: dict[str, Any] = answer["result"]
        return result

    async def open(self, url: str, width: int = 1000, height: int = 700) -> Tab:
        target = (await self.call("Target.createTarget", url="about:blank"))["targetId"]
        session = (await self.call("Target.attachToTarget", targetId=target, flatten=True))["sessionId"]
        tab = Tab(self, target, session)
        await tab.resize(width, height)
        await self.call("Page.navigate", session, url=url)
        return tab


@dataclass
class Tab:
    devtools: DevTools
    target: str
    session: str

    async def evaluate(self, expression: str) -> Any:
        """The value of ``expression`` in the page (a promise is awaited)."""
        result = await self.devtools.call(
            "Runtime.evaluate", self.session, expression=expression, awaitPromise=True, returnByValue=True
        )
        if "exceptionDetails" in result:
            raise BrowserError(result["exceptionDetails"].get("exception", {}).get("description", str(result)))
        return result["result"].get("value")

    async def type(self, text: str) -> None:
        """Key by key, as a person types; a newline is the Enter key."""
        for char in text:
            if char == "\n":
                key = {"key": "Enter", "code": "Enter", "windowsVirtualKeyCode": 13, "text": "\r"}
            else:
                key = {"key": char, "text": char, "unmodifiedText": char}
            await self.devtools.call("Input.dispatchKeyEvent", self.session, type="keyDown", **key)
            await self.devtools.call("Input.dispatchKeyEvent", self.session, type="keyUp", key=key["key"])

    async def resize(self, width: int, height: int) -> None:
        await self.devtools.call(
            "Emulation.setDeviceMetricsOverride", self.session, width=width, height=height, deviceScaleFactor=1,
            mobile=False,
        )  # fmt: skip

    async def close(self) -> None:
        await self.devtools.call("Target.closeTarget", targetId=self.target)


@asynccontextmanager
async def chromium(profile: Path) -> AsyncIterator[DevTools]:
    """A headless Chromium with a fresh profile in ``profile``; killed on the way out."""
    assert CHROMIUM is not None, SKIP_REASON
    argv = [CHROMIUM, *FLAGS, f"--user-data-dir={profile}", "--remote-debugging-port=0", "about:blank"]
    process = await trio.lowlevel.open_process(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    assert process.stderr is not None
    try:
        async with trio.open_nursery() as nursery:
            said = b""
            with trio.fail_after(30):
                while not (found := re.search(rb"DevTools listening on (ws://\S+)", said)):
                    chunk = await process.stderr.receive_some()
                    assert chunk, f"chromium ended: {said.decode(errors='replace')[-2000:]}"
                    said += chunk
            nursery.start_soon(_drain, process.stderr)  # chromium must never block writing its log
            async with open_websocket(found.group(1).decode()) as socket:
                devtools = DevTools(socket)
                nursery.start_soon(devtools._read)
                yield devtools
                nursery.cancel_scope.cancel()
    finally:
        process.kill()
        with trio.CancelScope(shield=True):
            await process.wait()


async def _drain(stream: trio.abc.ReceiveStream) -> None:
    async for _ in stream:
        pass
