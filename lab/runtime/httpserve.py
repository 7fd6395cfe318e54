"""Serve HTTP/1.1 (h11) or HTTP/2 (h2) on an established stream, one request at a time.

Lab hosts only need to *answer*: the caller passes ``respond(Request) -> Response`` and the protocol
chosen by ALPN. Protocol violations from the peer become :class:`PeerProtocolError`, which the host
reports as one event.

What every host gets from here, whatever it answers: HEAD is answered with the headers a GET would get
(its Content-Length, no body); a client that sent ``Expect: 100-continue`` is told to go on before its
body is read; request bodies up to the host's ``limits.max_body`` per connection are read, a larger one is
answered 413 (HTTP/2: their flow-control window is given back as they arrive, so the limit is the bound);
response bodies larger than the peer's HTTP/2 flow-control window are sent as the peer opens it. Header
bytes that are not UTF-8 are shown escaped (:mod:`lab.protocols.octets`). h11 and h2 do the protocol work;
this module only drives them.
"""

from __future__ import annotations

import contextlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from http import HTTPStatus
from urllib.parse import parse_qs, urlsplit

import h2.config
import h2.connection
import h2.errors
import h2.events
import h2.exceptions
import h11
import trio

from lab.model.events import LimitReached, RequestReceived
from lab.protocols.octets import readable, wire
from lab.protocols.proxyhead import BadRequest
from lab.runtime.world import Connection


class PeerProtocolError(Exception):
    """The client sent something that is not valid HTTP; ``status`` is what it was answered (HTTP/1.1: 400 or
    431, already sent), ``None`` over HTTP/2 (a GOAWAY went instead)."""

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status

    def __str__(self) -> str:
        message = super().__str__()
        return f"{message} (answered {self.status})" if self.status else message


def _nothing(*_: object) -> None:
    return None


@dataclass(frozen=True, slots=True, kw_only=True)
class Guard:
    """What a host lets one connection do, and whom to tell (``lab.model.limits``; the host fills it in)."""

    max_body: int = 8 * 2**20  # request-body bytes held per connection; a request over it gets 413
    head_seen: Callable[[], None] = _nothing  # a request head arrived: the client is past its handshake
    too_large: Callable[[str], None] = _nothing  # a request was refused 413; says which


def guard_for(conn: Connection) -> Guard:
    """The guard for one of a host's connections: its ``limits.max_body``, its deadlines, its events."""
    limit = conn.host.limits.max_body

    def too_large(what: str) -> None:
        summary = f"{what}: request body over {limit} bytes (limits.max_body): answered 413"
        conn.emit(LimitReached(summary=summary, limit="max_body", value=limit))

    return Guard(max_body=limit, head_seen=conn.handshake_over, too_large=too_large)


class _TooLarge(Exception):
    """A request body went over :attr:`Guard.max_body`; the message names the request."""


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


async def serve_http(stream: trio.abc.Stream, alpn: str | None, respond: Responder, guard: Guard = Guard()) -> int:
    """Serve until the peer closes; returns how many requests were answered."""
    if alpn == "h2":
        return await _serve_h2(stream, respond, guard)
    return await _serve_h11(stream, respond, guard)


def _too_large_body(guard: Guard) -> bytes:
    return f"request body over {guard.max_body} bytes (this host's limits.max_body)\n".encode()


def _reason(status: int) -> bytes:
    """The status line's reason phrase ("200 OK", "100 Continue"), as servers send it; HTTP/2 has none."""
    try:
        return HTTPStatus(status).phrase.encode()
    except ValueError:
        return b""


async def _serve_h11(stream: trio.abc.Stream, respond: Responder, guard: Guard) -> int:
    conn = h11.Connection(h11.SERVER)
    answered = 0
    while True:
        try:
            request = await _next_h11_request(stream, conn, guard)
        except _TooLarge as exc:
            await _refuse_h11(stream, conn, guard, str(exc))
            return answered
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


async def _refuse_h11(stream: trio.abc.Stream, conn: h11.Connection, guard: Guard, line: str) -> None:
    """413 and close; what the client is still sending is read and dropped for a moment first, so the
    close does not reset the connection before curl has read the answer."""
    guard.too_large(line)
    body = _too_large_body(guard)
    fields = [(b"connection", b"close"), (b"content-type", b"text/plain"), (b"content-length", str(len(body)).encode())]
    head = h11.Response(status_code=413, headers=fields, reason=_reason(413))
    await stream.send_all(b"".join(conn.send(e) or b"" for e in (head, h11.Data(data=body), h11.EndOfMessage())))
    with trio.move_on_after(1):
        while await stream.receive_some(65536):
            pass


async def _next_h11_request(stream: trio.abc.Stream, conn: h11.Connection, guard: Guard) -> Request | None:
    """The next whole request (head and body), or ``None`` when the client is done; :class:`_TooLarge` when
    its body goes over the guard's limit."""
    head: h11.Request | None = None
    body = bytearray()
    while True:
        try:
            event = conn.next_event()
        except h11.RemoteProtocolError as exc:  # answered as a proxy answers a bad head: status, reason, close
            answer = BadRequest(status=exc.error_status_hint, reason=f"bad HTTP/1.1 from client: {exc}")
            with contextlib.suppress(trio.BrokenResourceError, trio.ClosedResourceError):
                await stream.send_all(answer.response())
            raise PeerProtocolError(answer.reason, answer.status) from None
        if event is h11.NEED_DATA:
            if conn.they_are_waiting_for_100_continue:  # Expect: 100-continue: we want the body, say so
                go_on = h11.InformationalResponse(status_code=100, headers=[], reason=_reason(100))
                await stream.send_all(conn.send(go_on) or b"")
            conn.receive_data(bytes(await stream.receive_some(65536)))
        elif isinstance(event, h11.Request):
            head = event
            guard.head_seen()
            length = dict(event.headers).get(b"content-length", b"0")  # h11 checked that it is digits
            if int(length) > guard.max_body:
                raise _TooLarge(f"{readable(event.method)} {readable(event.target)} (content-length {int(length)})")
        elif isinstance(event, h11.Data):
            body += event.data
            if len(body) > guard.max_body and head is not None:
                raise _TooLarge(f"{readable(head.method)} {readable(head.target)}")
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


async def _serve_h2(stream: trio.abc.Stream, respond: Responder, guard: Guard) -> int:
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
                guard.head_seen()
                if not event.stream_ended and ("expect", "100-continue") in headers:
                    conn.send_headers(event.stream_id, [(":status", "100")])
                if event.stream_ended:
                    answered += await _answer_h2(conn, event.stream_id, pending.pop(event.stream_id), respond, outbound)
            elif isinstance(event, h2.events.DataReceived) and event.stream_id is not None:
                conn.acknowledge_received_data(event.flow_controlled_length or 0, event.stream_id)
                if event.stream_id in pending:
                    pending[event.stream_id][1].extend(event.data or b"")
                    if sum(len(body) for _, body in pending.values()) > guard.max_body:
                        _refuse_h2(conn, event.stream_id, pending.pop(event.stream_id)[0], guard)
            elif isinstance(event, h2.events.StreamEnded) and event.stream_id in pending:
                answered += await _answer_h2(conn, event.stream_id, pending.pop(event.stream_id), respond, outbound)
            elif isinstance(event, h2.events.StreamReset) and event.stream_id is not None:
                pending.pop(event.stream_id, None)
                outbound.pop(event.stream_id, None)
            elif isinstance(event, h2.events.ConnectionTerminated):
                return answered  # the client said GOAWAY; nothing more to send
        _send_what_fits(conn, outbound)  # new answers, and windows the peer opened (WINDOW_UPDATE, SETTINGS)
        await stream.send_all(conn.data_to_send())


def _refuse_h2(conn: h2.connection.H2Connection, stream_id: int, headers: list[tuple[str, str]], guard: Guard) -> None:
    """413 on this stream, then RST_STREAM(NO_ERROR): "stop sending, this is your answer" (RFC 9113 8.1).
    The bodies this connection holds stay within ``max_body``, whatever a client sends without END_STREAM."""
    pseudo = dict(headers)
    guard.too_large(f"{pseudo.get(':method', '?')} {pseudo.get(':path', '?')}")
    body = _too_large_body(guard)
    conn.send_headers(
        stream_id, [(":status", "413"), ("content-type", "text/plain"), ("content-length", str(len(body)))]
    )
    conn.send_data(stream_id, body, end_stream=True)  # small: fits any window the peer can have left open
    conn.reset_stream(stream_id, error_code=h2.errors.ErrorCodes.NO_ERROR)


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
