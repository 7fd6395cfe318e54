"""What the lab's hosts report: one small frozen dataclass per kind of event (h11's ``_events.py`` style).

Hosts build an event with the fields only they know (``TlsOk(sni=..., version=...)``) and hand it to their
connection, which stamps the time, host, connection id and peer (:meth:`lab.runtime.world.Connection.emit`).
The explanation (:mod:`lab.explain`) reads the same fields by attribute, so a renamed field is a type error,
not a silently missing key. On the wire (``lab exec --json``, ``lab run --json``) an event is
``{"t", "host", "kind", "conn", "peer", "summary", "data": {its own fields}}``.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field, fields
from typing import Any, ClassVar, TypeVar


@dataclass(frozen=True, slots=True, kw_only=True)
class Event:
    """Fields every event has. ``kind`` names the event on the wire."""

    kind: ClassVar[str] = "event"
    summary: str = ""
    t: float = 0.0  # time.monotonic() when it happened
    host: str = ""
    conn: int = 0  # connection id (0: not about a connection)
    peer: str = ""  # the connection's peer as the host saw it, "ip:port"

    def to_json(self) -> dict[str, Any]:
        base = {"t": self.t, "host": self.host, "kind": self.kind, "conn": self.conn, "peer": self.peer}
        data = {f.name: getattr(self, f.name) for f in fields(self) if f.name not in _BASE}
        return {**base, "summary": self.summary, "data": data}


_BASE = frozenset({"summary", "t", "host", "conn", "peer"})


@dataclass(frozen=True, slots=True, kw_only=True)
class Listening(Event):
    """A host bound its address."""

    kind: ClassVar[str] = "listening"


@dataclass(frozen=True, slots=True, kw_only=True)
class Accepted(Event):
    """A TCP connection was accepted."""

    kind: ClassVar[str] = "accepted"


@dataclass(frozen=True, slots=True, kw_only=True)
class TlsOk(Event):
    """A TLS handshake finished."""

    kind: ClassVar[str] = "tls-ok"
    sni: str | None = None
    version: str = ""
    alpn: str | None = None
    cipher: str = ""
    client_cert: str | None = None  # the client certificate's CN, if one was sent
    verdict: str | None = None  # the load balancer's {client_cert_error}, "" or None when verified


@dataclass(frozen=True, slots=True, kw_only=True)
class TlsFailed(Event):
    """A TLS handshake failed (or a host read a ClientHello and hung up on purpose)."""

    kind: ClassVar[str] = "tls-failed"
    reason: str = ""
    alert: str | None = None  # the alert sent, if one was
    version: str = ""
    status_details: str = ""  # the load balancer's statusDetails
    client_cert: str | None = None
    sni: str | None = None
    alpn: tuple[str, ...] = ()
    chosen_alert: str | None = None  # the alert OpenSSL chose, also when the failure style withheld it
    detail: str = ""  # the load balancer's verdict on the client certificate, in words
    stopped: str = ""  # where the host cut the handshake short on purpose: "client-hello" or "server-hello"
    hangup: str = ""  # how it hung up there without an alert: "fin", "rst", or "hold" (kept it open, silent)


@dataclass(frozen=True, slots=True, kw_only=True)
class ClientHelloSeen(Event):
    """A proxy saw the client's TLS ClientHello go through its tunnel."""

    kind: ClassVar[str] = "client-hello"
    sni: str | None = None
    alpn: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class RequestReceived(Event):
    """An HTTP request arrived (at an origin, the load balancer, or a proxy's kept-alive connection)."""

    kind: ClassVar[str] = "request"
    method: str = ""
    target: str = ""
    authority: str = ""  # Host header or :authority
    http_version: str = ""
    line: str = ""
    body_size: int = 0  # bytes of request body received (a POST's data)


@dataclass(frozen=True, slots=True, kw_only=True)
class ResponseSent(Event):
    """An HTTP response left a host. ``via`` is set when a load balancer forwarded the request here."""

    kind: ClassVar[str] = "response"
    status: int = 0
    served_by: str = ""
    via: str | None = None
    location: str = ""  # a redirect's Location header


@dataclass(frozen=True, slots=True, kw_only=True)
class TunnelRequested(Event):
    """A proxy was asked for a destination (CONNECT, an absolute-URI request, or a SOCKS request)."""

    kind: ClassVar[str] = "tunnel-requested"
    method: str = ""  # "CONNECT", "GET", "SOCKS5 CONNECT"
    target: str = ""  # exactly as asked: "mydomain:443"
    line: str = ""  # the HTTP request line, as received
    headers: dict[str, str] = field(default_factory=dict)  # Host and Proxy-* (password masked)
    address_type: str = ""  # SOCKS5: "domain", "ipv4", "ipv6"
    user: str | None = None  # SOCKS5 user, when authenticated


@dataclass(frozen=True, slots=True, kw_only=True)
class Resolved(Event):
    """A proxy turned the asked name into an address with its own DNS table (or saw an IP literal)."""

    kind: ClassVar[str] = "resolved"
    name: str = ""
    address: str = ""
    table: str = ""  # "proxy DNS" or "IP literal"
    upstream: str = ""  # the lab host at that address


@dataclass(frozen=True, slots=True, kw_only=True)
class TunnelOpened(Event):
    """A proxy connected upstream."""

    kind: ClassVar[str] = "tunnel-opened"
    upstream: str = ""  # "10.1.1.1:443"
    upstream_host: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class TunnelRefused(Event):
    """A proxy refused (an HTTP status, a SOCKS reply code, or ``None``: closed without an answer)."""

    kind: ClassVar[str] = "tunnel-refused"
    status: int | None = None
    reason: str = ""
    line: str = ""
    hangup: str = ""  # no reply at all: "fin" (closed), "rst" (reset), "hold" (held it until the client left)


@dataclass(frozen=True, slots=True, kw_only=True)
class NoAnswer(Event):
    """A host read a request and deliberately gave no HTTP answer (an origin's ``answer`` setting)."""

    kind: ClassVar[str] = "no-answer"
    how: str = ""  # "hang" (held it), "close" (TLS close_notify), "eof" (TCP close), "reset"
    line: str = ""  # the request line it read


@dataclass(frozen=True, slots=True, kw_only=True)
class Forwarded(Event):
    """The load balancer's URL map sent the request to a backend."""

    kind: ClassVar[str] = "forwarded"
    backend: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class LogEntry(Event):
    """The load balancer wrote a Cloud-Logging-shaped entry, or did not and says why."""

    kind: ClassVar[str] = "log"
    written: bool = True
    entry: dict[str, Any] | None = None
    reason: str = ""  # why no entry was written


@dataclass(frozen=True, slots=True, kw_only=True)
class Closed(Event):
    """A connection closed; bytes each way."""

    kind: ClassVar[str] = "closed"
    received: int = 0
    sent: int = 0


@dataclass(frozen=True, slots=True, kw_only=True)
class PeerError(Event):
    """A peer sent something the host could not use (garbage, bad HTTP); answered with ``status`` if any."""

    kind: ClassVar[str] = "error"
    status: int | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class LimitReached(Event):
    """A host hung up (or answered 413) because a limit of ``[hosts.NAME] limits`` was reached."""

    kind: ClassVar[str] = "limit"
    limit: str = ""  # handshake_timeout, idle_timeout, max_body or max_connections
    value: float = 0  # the limit's setting


E = TypeVar("E", bound=Event)


def _kinds() -> dict[str, type[Event]]:
    """Event classes by wire name (from this module: ``slots=True`` leaves stale copies in ``__subclasses__``)."""
    found = (v for v in globals().values() if isinstance(v, type) and issubclass(v, Event))
    return {cls.kind: cls for cls in found}


def from_json(record: dict[str, Any]) -> Event:
    """The event :meth:`Event.to_json` wrote (for recorded runs: tests, saved logs). Unknown kinds: a plain Event."""
    cls = _kinds().get(str(record.get("kind")), Event)
    values: dict[str, Any] = {k: record[k] for k in _BASE if k in record}
    own = {f.name: f for f in fields(cls)}
    for key, value in dict(record.get("data") or {}).items():
        if key in own:  # JSON has lists where the event has tuples
            values[key] = tuple(value) if isinstance(value, list) and isinstance(own[key].default, tuple) else value
    return cls(**values)


def first(events: Iterable[Event], kind: type[E], hosts: set[str] | None = None) -> E | None:
    """The first event of ``kind`` (from one of ``hosts``, when given)."""
    return next((e for e in events if isinstance(e, kind) and (hosts is None or e.host in hosts)), None)


def answered(events: Iterable[Event]) -> ResponseSent | None:
    """The response that reached the client: the last one not sent to a load balancer behind it."""
    responses = [e for e in events if isinstance(e, ResponseSent) and not e.via]
    return responses[-1] if responses else None
