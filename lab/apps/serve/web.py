"""The learners' side of ``lab serve``: a small ASGI app (no framework: four routes) that hypercorn serves.

- ``GET /?token=T``: the terminal page, for a learner's token; 403 for a wrong or missing one.
- ``GET /assets/NAME``: xterm.js and its fit add-on (from ``web/node_modules``, installed by ``make web``)
  and the page's own script and style. Public: they are the same for everyone and say nothing of anyone.
- ``WebSocket /terminal?token=T&cols=C&rows=R``: the learner's lab terminal. Binary messages are the
  terminal's bytes, both ways; a text message ``{"resize": [C, R]}`` sets the terminal's size. A wrong
  or missing token, or a page of another origin, is refused before the handshake (HTTP 403).

Each learner has one lab (:class:`Hub`); a second tab with the same token takes the terminal over.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Awaitable, Callable, Mapping, MutableMapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import trio

from lab.apps.serve.seats import Learner, find, token_of
from lab.apps.serve.terminal import LabTerminal, Viewer
from lab.errors import LabError
from lab.paths import ROOT

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

PAGE_DIR = Path(__file__).resolve().parent / "page"
NODE_MODULES = ROOT / "web" / "node_modules"
ASSETS = {
    "xterm.js": (NODE_MODULES / "@xterm/xterm/lib/xterm.js", "text/javascript"),
    "xterm.css": (NODE_MODULES / "@xterm/xterm/css/xterm.css", "text/css"),
    "addon-fit.js": (NODE_MODULES / "@xterm/addon-fit/lib/addon-fit.js", "text/javascript"),
    "terminal.js": (PAGE_DIR / "terminal.js", "text/javascript"),
    "terminal.css": (PAGE_DIR / "terminal.css", "text/css"),
}
HEADERS = [
    (b"content-security-policy", b"default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
     b"connect-src 'self'; img-src 'self' data:; font-src 'self'; frame-ancestors 'none'; base-uri 'none'"),
    (b"referrer-policy", b"no-referrer"),
    (b"x-content-type-options", b"nosniff"),
    (b"cache-control", b"no-store"),
]  # fmt: skip
FORBIDDEN = b"403 Forbidden: this address needs the token from the link your trainer gave you.\n"


class AssetsMissing(LabError):
    """xterm.js is not installed: ``lab serve`` has no terminal to show."""

    exit_code = 2


def check_assets() -> None:
    missing = [name for name, (path, _) in ASSETS.items() if not path.is_file()]
    if missing:
        raise AssetsMissing(
            f"the browser terminal's files are missing ({', '.join(missing)}): run `make web` "
            "(npm ci in web/, from the npm registry) once, then lab serve again"
        )


@dataclass
class Hub:
    """Every learner's lab: started on demand in ``nursery``, at most ``cap`` at once."""

    learners: tuple[Learner, ...]
    lab_argv: list[str]
    lab_env: Mapping[str, str]
    idle_timeout: float
    cap: int
    nursery: trio.Nursery
    log: Callable[[str], None] = field(default=lambda line: print(f"lab serve: {line}", file=sys.stderr, flush=True))
    labs: dict[int, LabTerminal] = field(default_factory=dict)

    def open(self, learner: Learner, columns: int, rows: int) -> LabTerminal | str:
        """The learner's running lab, or a new one; a sentence instead when the machine's labs are all in use."""
        lab = self.labs.get(learner.number)
        if lab is not None and not lab.ended.is_set():
            lab.resize(columns, rows)  # the returning browser's size, as tmux does on attach
            return lab
        if len(self.labs) >= self.cap:
            return f"all {self.cap} labs on this machine are in use; try again when someone has finished"
        lab = LabTerminal(learner, self.lab_argv, self.lab_env, self.idle_timeout)
        lab.start(columns, rows)
        self.labs[learner.number] = lab
        self.log(f"learner {learner.number}: lab started ({len(self.labs)} running)")
        self.nursery.start_soon(self._run, lab)
        return lab

    async def _run(self, lab: LabTerminal) -> None:
        try:
            await lab.run()
        finally:
            self.labs.pop(lab.learner.number, None)
            code = lab.process.returncode if lab.process is not None else None
            why = "; ".join(lab.on_end) or f"exit {code}"
            self.log(f"learner {lab.learner.number}: lab ended ({why}; {len(self.labs)} running)")


@dataclass
class TerminalApp:
    hub: Hub

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            await self.http(scope, send)
        elif scope["type"] == "websocket":
            await self.websocket(scope, receive, send)
        elif scope["type"] == "lifespan":
            await _lifespan(receive, send)

    def learner(self, scope: Scope) -> Learner | None:
        return find(self.hub.learners, token_of(scope.get("query_string", b"")))

    async def http(self, scope: Scope, send: Send) -> None:
        path, method = scope["path"], scope["method"]
        if method not in ("GET", "HEAD"):
            await _respond(send, 405, b"405 Method Not Allowed\n", extra=[(b"allow", b"GET, HEAD")])
        elif path == "/":
            if self.learner(scope) is None:
                await _respond(send, 403, FORBIDDEN)
            else:
                await _respond(send, 200, (PAGE_DIR / "index.html").read_bytes(), "text/html; charset=utf-8")
        elif path.startswith("/assets/") and path[len("/assets/") :] in ASSETS:
            file, kind = ASSETS[path[len("/assets/") :]]
            await _respond(send, 200, file.read_bytes(), f"{kind}; charset=utf-8")
        else:
            await _respond(send, 404, b"404 Not Found\n")

    async def websocket(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (await receive())["type"] != "websocket.connect":
            return
        learner = self.learner(scope) if scope["path"] == "/terminal" else None
        if learner is None or not _same_origin(scope):
            await send({"type": "websocket.close", "code": 1008})  # before accept: HTTP 403
            return
        columns, rows = _size(parse_qs(scope.get("query_string", b"").decode("latin-1")))
        lab = self.hub.open(learner, columns, rows)
        await send({"type": "websocket.accept"})
        if isinstance(lab, str):
            await send({"type": "websocket.send", "bytes": _notice(lab)})
            await send({"type": "websocket.close", "code": 1013})  # try again later
            return
        viewer, backlog = lab.attach()
        if backlog:
            await send({"type": "websocket.send", "bytes": backlog})
        try:
            async with trio.open_nursery() as nursery:
                nursery.start_soon(_to_browser, viewer, send, nursery.cancel_scope)
                await _from_browser(lab, receive)
                nursery.cancel_scope.cancel()
        finally:
            lab.detach(viewer)


async def _to_browser(viewer: Viewer, send: Send, done: trio.CancelScope) -> None:
    async for data in viewer.receive:
        await send({"type": "websocket.send", "bytes": data})
    if viewer.farewell:
        await send({"type": "websocket.send", "bytes": _notice(viewer.farewell)})
    await send({"type": "websocket.close", "code": 1000})
    done.cancel()


async def _from_browser(lab: LabTerminal, receive: Receive) -> None:
    """Keystrokes to the terminal, resizes to its size, until the browser goes."""
    while True:
        message = await receive()
        if message["type"] == "websocket.disconnect":
            return
        if message.get("bytes"):
            await lab.write(message["bytes"])
        elif message.get("text"):
            try:
                columns, rows = json.loads(message["text"])["resize"]
                lab.resize(int(columns), int(rows))
            except (ValueError, TypeError, KeyError):  # not a resize: ignored, as a terminal ignores noise
                continue


def _size(query: Mapping[str, list[str]]) -> tuple[int, int]:
    def number(key: str, default: int) -> int:
        value = query.get(key, [""])[0]
        return int(value) if value.isdigit() else default

    return number("cols", 80), number("rows", 24)


def _same_origin(scope: Scope) -> bool:
    """A browser always sends Origin with a WebSocket handshake: it must be this server's own page."""
    headers = dict(scope.get("headers", []))
    origin, host = headers.get(b"origin"), headers.get(b"host")
    if origin is None:  # not a browser (no page can hijack it): the token alone decides
        return True
    return host is not None and urlsplit(origin.decode("latin-1")).netloc == host.decode("latin-1")


def _notice(text: str) -> bytes:
    return f"\r\n\x1b[1m[lab serve] {text}\x1b[0m\r\n".encode()


async def _respond(
    send: Send, status: int, body: bytes, kind: str = "text/plain; charset=utf-8", extra: list[Any] | None = None
) -> None:
    headers = [*HEADERS, (b"content-type", kind.encode()), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers + (extra or [])})
    await send({"type": "http.response.body", "body": body})


async def _lifespan(receive: Receive, send: Send) -> None:
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await send({"type": "lifespan.shutdown.complete"})
            return
