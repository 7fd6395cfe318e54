"""Serve HTTP/1.1 (h11) or HTTP/2 (h2) on an established stream, one request at a time.

Lab hosts only need to *answer*: the caller passes ``respond(Request) -> Response`` and the protocol
chosen by ALPN. Protocol violations from the peer become :class:`PeerProtocolError`, which the host
reports as one event.

What every host gets from here, whatever it answers: HEAD is answered with the headers a GET would get
(its Content-Length, no body); a client that sent ``Expect: 100-continue`` is told to go on before its
body is read; request bodies of any size are read (HTTP/2: their flow-control window is given back as they
arrive); response bodies larger than the peer's HTTP/2 flow-control window are sent as the peer opens it.
h11 and h2 do the protocol work; this module only drives them.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from http import HTTPStatus
from urllib.parse import parse_qs, urlsplit

import h2.config
import h2.connection
import h2.events
import h2.exceptions
import h11
import trio

from lab.model.events import RequestReceived
from lab.protocols.octets import readable, wire


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
            body_size=len(self.body),
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class Response:
    status: int = 200
    headers: list[tuple[str, str]] = field(default_factory=list)  # without Content-Length: that is computed
    body: bytes = b""
    # The Content-Length to announce when the body is not here: an answer to HEAD relayed from a backend.
    length: int | None = None

    @property
    def content_length(self) -> int:
        return len(self.body) if self.length is None else self.length


Responder = Callable[[Request], Awaitable[Response]]
MAX_SIZED = 64 * 2**20


def sized(target: str, body: bytes) -> bytes:
    """``body``, or with ``?bytes=N`` in the request target, ``body`` padded (or cut) to N bytes.

    Any lab HTTP host answers that way, so a learner can ask for a large download (``curl -o /dev/null
    https://mydomain/?bytes=5000000``) and still see who answered; at most :data:`MAX_SIZED` bytes."""
    asked = parse_qs(urlsplit(target).query).get("bytes", [""])[-1]
    if not asked.isdigit():
        return body
    size = min(int(asked), MAX_SIZED)
    return body[:size].ljust(size, b".")


async def serve_http(stream: trio.abc.Stream, alpn: str | None, respond: Responder) -> int:
    """Serve until the peer closes; returns how many requests were answered."""
    if alpn == "h2":
        return await _serve_h2(stream, respond)
    return await _serve_h11(stream, respond)


def _reason(status: int) -> bytes:
    """The status line's reason phrase ("200 OK", "100 Continue"), as servers send it; HTTP/2 has none."""
    try:
        return HTTPStatus(status).phrase.encode()
    except ValueError:
        return b""


async def _serve_h11(stream: trio.abc.Stream, respond: Responder) -> int:
    conn = h11.Connection(h11.SERVER)
    answered = 0
    while True:
        request = await _next_h11_request(stream, conn)
        if request is None:
            return answered
        response = await respond(request)
        fields = [*response.headers, ("content-length", str(response.content_length))]
        head = h11.Response(
            status_code=response.status,
            headers=[(wire(k), wire(v)) for k, v in fields],  # h11 would encode str as ASCII
            reason=_reason(response.status),
        )
        body = b"" if request.method == "HEAD" else response.body  # h11 knows a HEAD answer has no body
        events = (head, h11.Data(data=body)) if body else (head,)
        # One write for head, body and end: over TLS that is one record and one syscall, not three.
        await stream.send_all(b"".join(conn.send(e) or b"" for e in (*events, h11.EndOfMessage())))
        answered += 1
        if conn.our_state is h11.MUST_CLOSE:
            return answered
        conn.start_next_cycle()


async def _next_h11_request(stream: trio.abc.Stream, conn: h11.Connection) -> Request | None:
    """The next whole request (head and body), or ``None`` when the client is done."""
    head: h11.Request | None = None
    body = bytearray()
    while True:
        try:
            event = conn.next_event()
        except h11.RemoteProtocolError as exc:
            raise PeerProtocolError(f"bad HTTP/1.1 from client: {exc}") from None
        if event is h11.NEED_DATA:
            if conn.they_are_waiting_for_100_continue:  # Expect: 100-continue: we want the body, say so
                go_on = h11.InformationalResponse(status_code=100, headers=[], reason=_reason(100))
                await stream.send_all(conn.send(go_on) or b"")
            conn.receive_data(bytes(await stream.receive_some(65536)))
        elif isinstance(event, h11.Request):
            head = event
        elif isinstance(event, h11.Data):
            body += event.data
        elif isinstance(event, h11.EndOfMessage) and head is not None:
            headers = tuple((readable(k).lower(), readable(v)) for k, v in head.headers)
            return Request(
                method=readable(head.method),
                target=readable(head.target),
                authority=dict(headers).get("host", ""),
                http_version="1.1",
                headers=headers,
                body=bytes(body),
            )
        else:  # ConnectionClosed, or PAUSED after a close
            return None


async def _serve_h2(stream: trio.abc.Stream, respond: Responder) -> int:
    conn = h2.connection.H2Connection(config=h2.config.H2Configuration(client_side=False, header_encoding=None))
    conn.initiate_connection()
    await stream.send_all(conn.data_to_send())
    pending: dict[int, tuple[list[tuple[str, str]], bytearray]] = {}  # requests still arriving
    outbound: dict[int, memoryview] = {}  # response bodies waiting for the peer's flow-control window
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
                headers = [(readable(k), readable(v)) for k, v in event.headers or []]  # bytes, whatever they are
                pending[event.stream_id] = (headers, bytearray())
                if not event.stream_ended and ("expect", "100-continue") in headers:
                    conn.send_headers(event.stream_id, [(":status", "100")])
                if event.stream_ended:
                    answered += await _answer_h2(conn, event.stream_id, pending.pop(event.stream_id), respond, outbound)
            elif isinstance(event, h2.events.DataReceived) and event.stream_id in pending:
                pending[event.stream_id][1].extend(event.data or b"")
                conn.acknowledge_received_data(event.flow_controlled_length or 0, event.stream_id)
            elif isinstance(event, h2.events.StreamEnded) and event.stream_id in pending:
                answered += await _answer_h2(conn, event.stream_id, pending.pop(event.stream_id), respond, outbound)
            elif isinstance(event, h2.events.StreamReset) and event.stream_id is not None:
                pending.pop(event.stream_id, None)
                outbound.pop(event.stream_id, None)
            elif isinstance(event, h2.events.ConnectionTerminated):
                return answered  # the client said GOAWAY; nothing more to send
        _send_what_fits(conn, outbound)  # new answers, and windows the peer opened (WINDOW_UPDATE, SETTINGS)
        await stream.send_all(conn.data_to_send())


async def _answer_h2(
    conn: h2.connection.H2Connection,
    stream_id: int,
    pending: tuple[list[tuple[str, str]], bytearray],
    respond: Responder,
    outbound: dict[int, memoryview],
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
    out = [(":status", str(response.status)), *response.headers, ("content-length", str(response.content_length))]
    body_out = b"" if request.method == "HEAD" else response.body
    conn.send_headers(stream_id, out, end_stream=not body_out)
    if body_out:
        outbound[stream_id] = memoryview(body_out)
    return 1


def _send_what_fits(conn: h2.connection.H2Connection, outbound: dict[int, memoryview]) -> None:
    """Send each waiting body as far as the flow-control windows and the frame size allow."""
    for stream_id, rest in list(outbound.items()):
        try:
            while rest:
                size = min(conn.local_flow_control_window(stream_id), conn.max_outbound_frame_size, len(rest))
                if size <= 0:
                    break  # the peer's window is shut: the rest goes when it sends WINDOW_UPDATE
                conn.send_data(stream_id, bytes(rest[:size]), end_stream=size == len(rest))
                rest = rest[size:]
        except h2.exceptions.StreamClosedError:
            rest = memoryview(b"")  # the client reset or closed the stream: nothing more to send
        if rest:
            outbound[stream_id] = rest
        else:
            del outbound[stream_id]
