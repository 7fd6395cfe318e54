"""Serve HTTP/1.1 (h11) or HTTP/2 (h2) on an established stream, one request at a time.

Lab hosts only need to *answer*: the caller passes ``respond(Request) -> Response`` and the protocol
chosen by ALPN. Protocol violations from the peer become :class:`PeerProtocolError`, which the host
reports as one event.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

import h2.config
import h2.connection
import h2.events
import h2.exceptions
import h11
import trio

from lab.model.events import RequestReceived


class PeerProtocolError(Exception):
    """The client sent something that is not valid HTTP."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Request:
    method: str
    target: str
    authority: str  # Host header or :authority
    http_version: str  # "1.1" or "2"
    headers: tuple[tuple[str, str], ...]
    body: bytes = b""

    @property
    def line(self) -> str:
        return f"{self.method} {self.target} HTTP/{self.http_version}"

    def header(self, name: str) -> str | None:
        for key, value in self.headers:
            if key == name.lower():
                return value
        return None

    def event(self) -> RequestReceived:
        """What a host reports when this request arrives."""
        return RequestReceived(
            summary=f"{self.line} (authority {self.authority or 'none'})",
            method=self.method,
            target=self.target,
            authority=self.authority,
            http_version=self.http_version,
            line=self.line,
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class Response:
    status: int = 200
    headers: list[tuple[str, str]] = field(default_factory=list)
    body: bytes = b""


Responder = Callable[[Request], Awaitable[Response]]


async def serve_http(stream: trio.abc.Stream, alpn: str | None, respond: Responder) -> int:
    """Serve until the peer closes; returns how many requests were answered."""
    if alpn == "h2":
        return await _serve_h2(stream, respond)
    return await _serve_h11(stream, respond)


async def _serve_h11(stream: trio.abc.Stream, respond: Responder) -> int:
    conn = h11.Connection(h11.SERVER)
    answered = 0
    while True:
        request = await _next_h11_request(stream, conn)
        if request is None:
            return answered
        response = await respond(request)
        headers_out = [*response.headers, ("content-length", str(len(response.body)))]
        events = (h11.Response(status_code=response.status, headers=headers_out), h11.Data(data=response.body))
        # One write for head, body and end: over TLS that is one record and one syscall, not three.
        await stream.send_all(b"".join(conn.send(e) or b"" for e in (*events, h11.EndOfMessage())))
        answered += 1
        if conn.our_state is h11.MUST_CLOSE:
            return answered
        conn.start_next_cycle()


async def _next_h11_request(stream: trio.abc.Stream, conn: h11.Connection) -> Request | None:
    """The next whole request (head and body), or ``None`` when the client is done."""
    head: h11.Request | None = None
    body = b""
    while True:
        try:
            event = conn.next_event()
        except h11.RemoteProtocolError as exc:
            raise PeerProtocolError(f"bad HTTP/1.1 from client: {exc}") from None
        if event is h11.NEED_DATA:
            conn.receive_data(bytes(await stream.receive_some(65536)))
        elif isinstance(event, h11.Request):
            head = event
        elif isinstance(event, h11.Data):
            body += event.data
        elif isinstance(event, h11.EndOfMessage) and head is not None:
            headers = tuple((k.decode().lower(), v.decode("latin-1")) for k, v in head.headers)
            return Request(
                method=head.method.decode(),
                target=head.target.decode("latin-1"),
                authority=dict(headers).get("host", ""),
                http_version="1.1",
                headers=headers,
                body=body,
            )
        else:  # ConnectionClosed, or PAUSED after a close
            return None


async def _serve_h2(stream: trio.abc.Stream, respond: Responder) -> int:
    conn = h2.connection.H2Connection(config=h2.config.H2Configuration(client_side=False, header_encoding="utf-8"))
    conn.initiate_connection()
    await stream.send_all(conn.data_to_send())
    pending: dict[int, tuple[list[tuple[str, str]], bytearray]] = {}
    answered = 0
    while True:
        data = await stream.receive_some(65536)
        if not data:
            return answered
        try:
            events = conn.receive_data(bytes(data))
        except h2.exceptions.ProtocolError as exc:
            await stream.send_all(conn.data_to_send())
            raise PeerProtocolError(f"bad HTTP/2 from client: {exc}") from None
        for event in events:
            if isinstance(event, h2.events.RequestReceived) and event.stream_id is not None:
                headers = [(str(k), str(v)) for k, v in event.headers or []]
                pending[event.stream_id] = (headers, bytearray())
                if event.stream_ended:
                    answered += await _answer_h2(conn, event.stream_id, pending.pop(event.stream_id), respond)
            elif isinstance(event, h2.events.DataReceived) and event.stream_id in pending:
                pending[event.stream_id][1].extend(event.data or b"")
                conn.acknowledge_received_data(event.flow_controlled_length or 0, event.stream_id)
            elif isinstance(event, h2.events.StreamEnded) and event.stream_id in pending:
                answered += await _answer_h2(conn, event.stream_id, pending.pop(event.stream_id), respond)
            elif isinstance(event, h2.events.ConnectionTerminated):
                return answered  # the client said GOAWAY; nothing more to send
        await stream.send_all(conn.data_to_send())


async def _answer_h2(
    conn: h2.connection.H2Connection,
    stream_id: int,
    pending: tuple[list[tuple[str, str]], bytearray],
    respond: Responder,
) -> int:
    raw_headers, body = pending
    pseudo = {k: v for k, v in raw_headers if k.startswith(":")}
    headers = tuple((k, v) for k, v in raw_headers if not k.startswith(":"))
    request = Request(
        method=pseudo.get(":method", "GET"),
        target=pseudo.get(":path", "/"),
        authority=pseudo.get(":authority", dict(headers).get("host", "")),
        http_version="2",
        headers=headers,
        body=bytes(body),
    )
    response = await respond(request)
    out = [(":status", str(response.status)), *response.headers, ("content-length", str(len(response.body)))]
    conn.send_headers(stream_id, out)
    conn.send_data(stream_id, response.body, end_stream=True)
    return 1
