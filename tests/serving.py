"""Helpers for the ``lab serve`` tests: the server as a subprocess, a learner's terminal over a WebSocket."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path

import trio

from lab.paths import ROOT
from tests.wsclient import Closed, Rejected, WebSocket, open_websocket

ANSI = re.compile(r"\x1b\[[0-9;?]*[a-zA-Z]|\x1b[()][AB0-2]|\r")


def prompt(scenario: str) -> str:
    return rf"\(lab:{scenario}\) [^\n]*[#$] $"


@dataclass
class Server:
    process: trio.Process
    urls: list[str]
    log: list[str] = field(default_factory=list)
    _logged: trio.Event = field(default_factory=trio.Event)

    async def _read_log(self, stream: trio.abc.ReceiveStream) -> None:
        buffer = b""
        async for chunk in stream:
            buffer += chunk
            *lines, buffer = buffer.split(b"\n")
            self.log += [line.decode() for line in lines]
            self._logged.set()
            self._logged = trio.Event()

    async def logged(self, pattern: str, within: float = 30) -> str:
        """The first line of the server's log matching ``pattern``, waiting for it as it is written."""
        with trio.fail_after(within):
            while True:
                found = [line for line in self.log if re.search(pattern, line)]
                if found:
                    return found[0]
                await self._logged.wait()

    def terminal_url(self, number: int, cols: int = 100, rows: int = 30) -> str:
        base = self.urls[number - 1].replace("http://", "ws://").replace("/?token=", "/terminal?token=")
        return f"{base}&cols={cols}&rows={rows}"


@asynccontextmanager
async def serving(tmp: Path, *args: str) -> AsyncIterator[Server]:
    """``lab serve ARGS --port 0`` with its temporary files in ``tmp``; ready once it printed its URLs."""
    env = {"PATH": os.environ["PATH"], "LANG": "C.UTF-8", "TMPDIR": str(tmp)}
    async with trio.open_nursery() as nursery:
        process = await trio.lowlevel.open_process(
            [sys.executable, "-m", "lab", "serve", "--port", "0", *args],
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        assert process.stdout is not None
        assert process.stderr is not None
        urls: list[str] = []
        count = int(args[args.index("--learners") + 1]) if "--learners" in args else 1
        buffer = b""
        with trio.fail_after(30):
            while buffer.count(b"\n") < count:
                chunk = await process.stdout.receive_some()
                assert chunk, "lab serve ended before printing its URLs"
                buffer += chunk
        urls = buffer.decode().split()
        server = Server(process, urls)
        nursery.start_soon(server._read_log, process.stderr)
        try:
            yield server
        finally:
            if process.returncode is None:
                process.kill()
            await process.wait()


def http_status(url: str, headers: dict[str, str] | None = None) -> int:
    """The status of a GET, without any proxy from the environment."""
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        with opener.open(urllib.request.Request(url, headers=headers or {}), timeout=10) as response:
            status: int = response.status
            return status
    except urllib.error.HTTPError as error:
        with error:  # (it holds the connection)
            return error.code


async def handshake_status(url: str, origin: str | None = None) -> int:
    """The status of a WebSocket handshake, as a browser starts it (101: accepted)."""
    try:
        async with open_websocket(url, origin):
            return 101
    except Rejected as rejected:
        return rejected.status


@dataclass
class Term:
    """A learner's terminal over the WebSocket, as the page uses it; :meth:`expect` as in test_workshop_pty."""

    socket: WebSocket
    seen: str = ""
    mark: int = 0

    async def expect(self, pattern: str, within: float = 30) -> str:
        with trio.fail_after(within):
            while True:
                found = re.compile(pattern, re.MULTILINE).search(self.seen, self.mark)
                if found:
                    chunk, self.mark = self.seen[self.mark : found.end()], found.end()
                    return chunk
                message = await self.socket.get_message()
                text = message.decode("utf-8", "replace") if isinstance(message, bytes) else message
                self.seen += ANSI.sub("", text)

    async def closed(self, within: float = 10) -> int:
        """Wait until the server closes this terminal; its close code."""
        with trio.fail_after(within):
            while True:
                try:
                    await self.socket.get_message()
                except Closed as closed:
                    return closed.code

    async def type(self, line: str) -> None:
        await self.socket.send_message((line + "\r").encode())


@asynccontextmanager
async def terminal(url: str) -> AsyncIterator[Term]:
    async with open_websocket(url) as socket:
        yield Term(socket)
