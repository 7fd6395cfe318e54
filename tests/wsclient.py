"""A WebSocket client for the tests, on wsproto (the sans-io WebSocket library hypercorn itself uses) and a
trio TCP stream: for a learner's terminal and for Chromium's DevTools. It closes its TCP connection
whichever side ends the WebSocket."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from urllib.parse import urlsplit

import trio
from wsproto import ConnectionType, WSConnection
from wsproto.events import (
    AcceptConnection,
    BytesMessage,
    CloseConnection,
    Event,
    Ping,
    RejectConnection,
    Request,
    TextMessage,
)


class Closed(Exception):
    """The WebSocket is closed; ``code`` says why (1000 normal, 1013 try again later, ...)."""

    def __init__(self, code: int) -> None:
        super().__init__(f"WebSocket closed with code {code}")
        self.code = code


class Rejected(Exception):
    def __init__(self, status: int) -> None:
        super().__init__(f"WebSocket handshake rejected with HTTP {status}")
        self.status = status


@dataclass
class WebSocket:
    stream: trio.SocketStream
    protocol: WSConnection = field(default_factory=lambda: WSConnection(ConnectionType.CLIENT))
    pending: list[Event] = field(default_factory=list)
    partial: list[bytes | str] = field(default_factory=list)
    close_code: int | None = None

    async def _event(self) -> Event:
        while not self.pending:
            data = await self.stream.receive_some(65536) if self.close_code is None else b""
            if not data and self.close_code is None:
                self.close_code = 1006  # the peer went away without a close frame
            if not data:
                raise Closed(self.close_code or 1006)
            self.protocol.receive_data(data)
            self.pending += list(self.protocol.events())
        return self.pending.pop(0)

    async def _send(self, event: Event) -> None:
        await self.stream.send_all(self.protocol.send(event))

    async def get_message(self) -> bytes | str:
        while True:
            event = await self._event()
            if isinstance(event, BytesMessage | TextMessage):
                self.partial.append(event.data)
                if event.message_finished:
                    parts, self.partial = self.partial, []
                    return b"".join(parts) if isinstance(event, BytesMessage) else "".join(parts)  # type: ignore[arg-type]
            elif isinstance(event, Ping):
                await self._send(event.response())
            elif isinstance(event, CloseConnection):
                self.close_code = event.code
                await self._send(event.response())
                raise Closed(event.code)

    async def send_message(self, data: bytes | str) -> None:
        await self._send(BytesMessage(data=data) if isinstance(data, bytes) else TextMessage(data=data))


@asynccontextmanager
async def open_websocket(url: str, origin: str | None = None) -> AsyncIterator[WebSocket]:
    parts = urlsplit(url)
    stream = await trio.open_tcp_stream(parts.hostname or "", parts.port or 80)
    async with stream:
        socket = WebSocket(stream)
        target = f"{parts.path}?{parts.query}" if parts.query else parts.path
        headers = [(b"origin", origin.encode())] if origin else []
        await socket._send(Request(host=parts.netloc, target=target, extra_headers=headers))
        answer = await socket._event()
        if isinstance(answer, RejectConnection):
            raise Rejected(answer.status_code)
        assert isinstance(answer, AcceptConnection), answer
        yield socket
        if socket.close_code is None:
            socket.close_code = 1000
            await socket._send(CloseConnection(code=1000))
