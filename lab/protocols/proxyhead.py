"""The first thing an HTTP proxy decides: is this a proxy request at all? Sans-io, on h11.

Feed the client's bytes to :meth:`HeadReader.receive_data` until it returns a verdict: a
:class:`ProxyRequest` (the request line *exactly as received*, the headers, and every byte read so far,
to hand on unchanged) or a :class:`BadRequest` (the 400/431 a real proxy answers, with the reason). h11
does the HTTP grammar, so a CR or LF smuggled into the target, a request line that is not HTTP, or a
bad header line is refused before proxy.py ever sees it. What h11 leaves to the application is checked
here: the head's size (h11 only bounds *incomplete* heads), and the request-target form a proxy needs -
``host:port`` for CONNECT, ``http://...`` for everything else.
"""

from __future__ import annotations

from dataclasses import dataclass

import h11

MAX_HEAD = 16 * 1024  # squid's default request_header_max_size is 64 KB; curl sends ~150 bytes
_PHRASES = {400: "Bad Request", 431: "Request Header Fields Too Large"}


@dataclass(frozen=True, slots=True, kw_only=True)
class ProxyRequest:
    """A well-formed proxy request head."""

    method: str
    target: str  # "mydomain:443" (CONNECT) or "http://mydomain/" - as received
    line: str  # the request line as received, e.g. "CONNECT mydomain:443 HTTP/1.1"
    headers: tuple[tuple[str, str], ...]  # names as the client spelled them
    data: bytes  # every byte read so far (the head, plus anything the client sent after it)

    def header(self, name: str) -> str | None:
        return next((v for k, v in self.headers if k.lower() == name.lower()), None)

    @property
    def expects_continue(self) -> bool:
        """An HTTP/1.1 request that waits for ``100 Continue`` before sending its body (not a CONNECT)."""
        expect = (self.header("Expect") or "").strip().lower()
        return self.method != "CONNECT" and expect == "100-continue" and self.line.endswith("HTTP/1.1")


CONTINUE = b"HTTP/1.1 100 Continue\r\n\r\n"


@dataclass(frozen=True, slots=True, kw_only=True)
class BadRequest:
    """Not a proxy request: answer ``status`` and close."""

    status: int  # 400 or 431
    reason: str  # what was wrong, for the timeline and the response body

    def response(self) -> bytes:
        body = f"{self.reason}\n".encode()
        head = (
            f"HTTP/1.1 {self.status} {_PHRASES.get(self.status, 'Bad Request')}\r\n"
            f"Connection: close\r\nContent-Type: text/plain\r\nContent-Length: {len(body)}\r\n\r\n"
        )
        return head.encode() + body


class HeadReader:
    """Reads one request head; returns ``None`` while it needs more bytes, then one verdict."""

    def __init__(self, limit: int = MAX_HEAD) -> None:
        self.limit = limit
        self._parser = h11.Connection(h11.SERVER, max_incomplete_event_size=limit)
        self._data = bytearray()

    @property
    def received(self) -> int:
        return len(self._data)

    def receive_data(self, data: bytes) -> ProxyRequest | BadRequest | None:
        self._data += data
        self._parser.receive_data(data)
        try:
            event = self._parser.next_event()
        except h11.RemoteProtocolError as exc:
            return BadRequest(status=exc.error_status_hint, reason=_explain(exc, self.limit))
        if event is h11.NEED_DATA:
            return None
        if not isinstance(event, h11.Request):  # pragma: no cover - a server's first event is a Request
            return BadRequest(status=400, reason=f"expected a request, got {type(event).__name__}")
        head_size = len(self._data) - len(self._parser.trailing_data[0])
        if head_size > self.limit:
            return BadRequest(
                status=431, reason=f"request head is {head_size} bytes, over this proxy's limit of {self.limit}"
            )
        line = bytes(self._data).split(b"\r\n", 1)[0].decode("latin-1")
        method = event.method.decode("ascii")
        target = event.target.decode("latin-1")
        problem = target_problem(method, target)
        if problem:
            return BadRequest(status=400, reason=problem)
        return ProxyRequest(
            method=method,
            target=target,
            line=line,
            headers=tuple((k.decode("latin-1"), v.decode("latin-1")) for k, v in event.headers.raw_items()),
            data=bytes(self._data),
        )


def target_problem(method: str, target: str) -> str | None:
    """Why ``target`` is not a request-target a forward proxy serves (``None`` when it is)."""
    if method == "CONNECT":
        host, sep, port = target.rpartition(":")
        if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
            return f"CONNECT needs host:port (like mydomain:443), not {target!r}"
        return None
    if not target.lower().startswith("http://"):
        return f"a proxy request needs an absolute http:// URI (like http://mydomain/), not {target!r}"
    return None


def _explain(exc: h11.RemoteProtocolError, limit: int) -> str:
    if exc.error_status_hint == 431:
        return f"request head is larger than {limit} bytes (this proxy's limit)"
    message = str(exc)
    if len(message) > 160:
        message = message[:157] + "..."
    return f"not a valid HTTP request: {message}"
