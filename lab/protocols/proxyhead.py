"""The first thing an HTTP proxy decides: is this a proxy request at all? Sans-io, on h11.

Feed the client's bytes to :meth:`HeadReader.receive_data` until it returns a verdict: a
:class:`ProxyRequest` (the request line *exactly as received*, the headers, the (host, port) it names, and
every byte read so far, to hand on unchanged) or a :class:`BadRequest` (the status a real proxy answers,
with the reason). h11 does the HTTP grammar, so a CR or LF smuggled into the target, a request line that is
not HTTP, or a bad header line is refused before proxy.py ever sees it. What h11 leaves to the application
is checked here: the head's size (h11 only bounds *incomplete* heads), bare LF line ends (h11 accepts them,
proxy.py does not), the HTTP version (505 for anything but 1.0 and 1.1), and the request-target a forward
proxy needs - ``host:port`` for CONNECT, ``http://host[:port]/...`` otherwise - with a port from 1 to 65535
and an IPv6 literal in brackets. Bytes after a CONNECT head belong to the tunnel (:attr:`ProxyRequest.early`),
not to a second request. Nothing here raises: every input ends in ``None`` (more, please) or a verdict.
"""

from __future__ import annotations

from dataclasses import dataclass

import h11

from lab.protocols.netaddr import is_ip

MAX_HEAD = 16 * 1024  # squid's default request_header_max_size is 64 KB; curl sends ~150 bytes
_PHRASES = {400: "Bad Request", 431: "Request Header Fields Too Large", 505: "HTTP Version Not Supported"}
VERSIONS = (b"1.0", b"1.1")


@dataclass(frozen=True, slots=True, kw_only=True)
class ProxyRequest:
    """A well-formed proxy request head."""

    method: str
    target: str  # "mydomain:443" (CONNECT) or "http://mydomain/" - as received
    line: str  # the request line as received, e.g. "CONNECT mydomain:443 HTTP/1.1"
    headers: tuple[tuple[str, str], ...]  # names as the client spelled them
    data: bytes  # every byte read so far (the head, plus anything the client sent after it)
    host: str = ""  # the host the target names, without brackets: "mydomain", "::1"
    port: int = 0  # the port it names (80 for an http:// URI without one)
    head_size: int = -1  # data[:head_size] is the head (-1: all of data)

    def header(self, name: str) -> str | None:
        return next((v for k, v in self.headers if k.lower() == name.lower()), None)

    @property
    def head(self) -> bytes:
        return self.data if self.head_size < 0 else self.data[: self.head_size]

    @property
    def early(self) -> bytes:
        """What the client sent after the head, before any answer (for CONNECT: the tunnel's first bytes)."""
        return b"" if self.head_size < 0 else self.data[self.head_size :]

    @property
    def expects_continue(self) -> bool:
        """An HTTP/1.1 request that waits for ``100 Continue`` before sending its body (not a CONNECT)."""
        expect = (self.header("Expect") or "").strip().lower()
        return self.method != "CONNECT" and expect == "100-continue" and self.line.endswith("HTTP/1.1")


CONTINUE = b"HTTP/1.1 100 Continue\r\n\r\n"


@dataclass(frozen=True, slots=True, kw_only=True)
class BadRequest:
    """Not a proxy request: answer ``status`` and close."""

    status: int  # 400, 431 or 505
    reason: str  # what was wrong, for the timeline and the response body

    def response(self) -> bytes:
        body = f"{self.reason}\n".encode()
        head = (
            f"HTTP/1.1 {self.status} {_PHRASES.get(self.status, 'Bad Request')}\r\n"
            f"Connection: close\r\nContent-Type: text/plain\r\nContent-Length: {len(body)}\r\n\r\n"
        )
        return head.encode() + body


class HeadReader:
    """Reads one request head; returns ``None`` while it needs more bytes, then one verdict (again, if fed more)."""

    def __init__(self, limit: int = MAX_HEAD) -> None:
        self.limit = limit
        self._parser = h11.Connection(h11.SERVER, max_incomplete_event_size=limit)
        self._data = bytearray()
        self._verdict: ProxyRequest | BadRequest | None = None

    @property
    def received(self) -> int:
        return len(self._data)

    def receive_data(self, data: bytes) -> ProxyRequest | BadRequest | None:
        if self._verdict is None:
            self._verdict = self._read(data)
        return self._verdict

    def _read(self, data: bytes) -> ProxyRequest | BadRequest | None:
        if not data:
            return None  # the caller saw the client leave; nothing to decide yet
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
        return _checked(event, bytes(self._data), head_size)


def _checked(event: h11.Request, data: bytes, head_size: int) -> ProxyRequest | BadRequest:
    """What h11 accepts but a forward proxy refuses; the request, when nothing is wrong."""
    head = data[:head_size]
    if b"\n" in head.replace(b"\r\n", b""):
        return BadRequest(status=400, reason="the request head ends lines with a bare LF; HTTP needs CR LF")
    if event.http_version not in VERSIONS:
        version = event.http_version.decode("latin-1")
        return BadRequest(status=505, reason=f"HTTP/{version} is not supported: this proxy speaks HTTP/1.1 and 1.0")
    method = event.method.decode("ascii")
    target = event.target.decode("latin-1")
    found = parse_target(method, target)
    if isinstance(found, str):
        return BadRequest(status=400, reason=found)
    return ProxyRequest(
        method=method,
        target=target,
        line=head.split(b"\r\n", 1)[0].decode("latin-1"),
        headers=tuple((k.decode("latin-1"), v.decode("latin-1")) for k, v in event.headers.raw_items()),
        data=data,
        host=found[0],
        port=found[1],
        head_size=head_size,
    )


def target_problem(method: str, target: str) -> str | None:
    """Why ``target`` is not a request-target a forward proxy serves (``None`` when it is)."""
    found = parse_target(method, target)
    return found if isinstance(found, str) else None


def parse_target(method: str, target: str) -> tuple[str, int] | str:
    """(host, port) a proxy request names, or why it names none usable."""
    if method == "CONNECT":
        found = parse_authority(target, None)
        if isinstance(found, str):
            return f"CONNECT needs host:port (like mydomain:443), not {target!r}: {found}"
        return found
    if not target.lower().startswith("http://"):
        return f"a proxy request needs an absolute http:// URI (like http://mydomain/), not {target!r}"
    authority = target[len("http://") :]
    for end in "/?#":
        authority = authority.partition(end)[0]
    found = parse_authority(authority.rpartition("@")[2], 80)
    return f"the URI {target!r} names no usable host: {found}" if isinstance(found, str) else found


def parse_authority(text: str, default_port: int | None) -> tuple[str, int] | str:
    """``mydomain:443`` or ``[::1]:443`` -> (host, port); without a port, ``default_port`` (None: required).
    Anything else: a string that says what is wrong."""
    port_text: str | None
    if text.startswith("["):
        inside, closed, rest = text[1:].partition("]")
        if not closed:
            return "an IPv6 address needs its closing ']'"
        if ":" not in inside or not is_ip(inside):
            return f"{inside!r} in brackets is not an IPv6 address"
        if rest and not rest.startswith(":"):
            return f"unexpected {rest!r} after the IPv6 address"
        host, port_text = inside, rest[1:] if rest else None
    else:
        host, colon, after = text.rpartition(":")
        host, port_text = (host, after) if colon else (text, None)
        if ":" in host:
            return "an IPv6 address must be in brackets, like [::1]:443"
    if not host:
        return "the host is empty"
    if not port_text:
        if default_port is None:
            return "the port is missing"
        return host, default_port
    if not (port_text.isascii() and port_text.isdigit() and len(port_text) <= 5 and 0 < int(port_text) < 65536):
        return f"port {port_text!r} is not a number from 1 to 65535"
    return host, int(port_text)


def _explain(exc: h11.RemoteProtocolError, limit: int) -> str:
    if exc.error_status_hint == 431:
        return f"request head is larger than {limit} bytes (this proxy's limit)"
    message = str(exc)
    if len(message) > 160:
        message = message[:157] + "..."
    return f"not a valid HTTP request: {message}"
