"""The corporate HTTP proxy (host kind ``http-proxy``): proxy.py, with the lab's DNS table and timeline.

Theory of operation. trio accepts the client (an HTTPS proxy - ``tls = true`` - first does the TLS
handshake, :func:`lab.hosts.origin.handshake`) and reads the request head with
:class:`lab.proxyhead.HeadReader` (h11): a malformed request line, CR/LF smuggled into the target, a target
no proxy serves, or an oversized head gets 400/431 here and one ``error`` event, and proxy.py never sees
it. A valid head is reported as received (the request line, Host and Proxy-* headers), and the proxy's
rules for its destination (:mod:`lab.hosts.proxyrules`: 403, 407, drop, slow...) may end it here.
Otherwise it is written, byte for byte, into one end of a socketpair whose other end is handed to
proxy.py's threaded worker (``proxy.core.work.start_threaded_work``); from then on proxy.py does the
proxying - the CONNECT tunnel, absolute-URI forwarding, its error responses - in a thread of *this*
process, and trio relays the client's bytes through the socketpair (counting them, and peeking at the
first tunnel bytes for the SNI).

Why this embedding: ``proxy.Proxy`` always starts acceptor *processes* and its ``shutdown()`` waits about
a second; in-process threaded work has neither, so events reach the timeline directly (``Timeline.emit``
is thread-safe), every replay starts in milliseconds and stops at once (the workers are daemon threads
that end when trio closes its end of the socketpair).

The plugin (:func:`_plugin_for`) is where the lesson happens: it checks proxy authentication (407),
resolves the target through *the proxy's own* DNS table (:func:`lab.proxydns.resolve`, which refuses
anything that is not a lab host with 403 and unknown names with 502), and points proxy.py at the address it
chose, to be reached from the proxy's own address. proxy.py therefore never does a DNS lookup, can only
connect to a lab host's address and port, and the upstream host sees the proxy as its client.
"""

from __future__ import annotations

import base64
import logging
import shutil
import socket
import tempfile
from typing import Any, NoReturn

import trio

from lab.hosts import origin, proxyrules
from lab.hosts.proxydns import ProxyRefusal, Resolution, resolve
from lab.hosts.proxyworker import printable_headers, quiet_proxy_logs, start_worker
from lab.model.events import PeerError, RequestReceived, TunnelOpened, TunnelRefused
from lab.model.hostsettings import ProxySettings
from lab.model.scenario import Host, Scenario
from lab.protocols.netaddr import format_address
from lab.protocols.proxyhead import CONTINUE, BadRequest, HeadReader, ProxyRequest
from lab.runtime import netns
from lab.runtime.relay import relay, watch_client_hello
from lab.runtime.world import Connection, World, source_address


def split_target(request: ProxyRequest) -> tuple[str, int]:
    """(host, port) the client asked for: ``mydomain:443`` for CONNECT, the URI's authority otherwise
    (:mod:`lab.protocols.proxyhead` checked and split it)."""
    return request.host, request.port


def basic_credentials(header: str) -> tuple[str, str, str]:
    """``"Basic YWxpY2U6czNjcmV0"`` -> ("Basic", "alice", "s3cret"); ValueError when the token is not the base64
    of UTF-8 ``user:password`` (RFC 7617). The scheme is returned as sent, unchecked."""
    scheme, _, token = header.partition(" ")
    try:
        user, _, password = base64.b64decode(token.strip(), validate=True).decode("utf-8").partition(":")
    except ValueError as exc:  # binascii.Error and UnicodeDecodeError are both ValueErrors
        raise ValueError("not valid base64 of user:password") from exc
    return scheme, user, password


def check_auth(expected: tuple[str, str] | None, header: str | None) -> str | None:
    """Why ``Proxy-Authorization`` does not let the client in (``None`` when it does). Pure."""
    if expected is None:
        return None
    if not header:
        return "this proxy needs a user and password (curl: --proxy-user USER:PASSWORD) and none was sent"
    scheme = header.partition(" ")[0]
    if scheme.lower() != "basic":
        return f"this proxy accepts Basic authentication only, not {scheme!r}"
    try:
        _, user, password = basic_credentials(header)
    except ValueError:
        return "Proxy-Authorization is not valid base64 of user:password"
    if (user, password) != expected:
        return f"wrong user or password for user {user!r}"
    return None


def shown_headers(request: ProxyRequest) -> dict[str, str]:
    """Host and Proxy-* headers for the timeline; the password never appears."""
    shown: dict[str, str] = {}
    for name, value in request.headers:
        if name.lower() == "proxy-authorization":
            try:
                scheme, user, _ = basic_credentials(value)
                value = f"{scheme} {user}:***"
            except ValueError:
                value = f"{value.partition(' ')[0]} (undecodable)"
            shown[name] = value
        elif name.lower() == "host" or name.lower().startswith("proxy-"):
            shown[name] = value
    return shown


class _Refused(Exception):
    """The plugin answers this status (and reason) and the request goes nowhere; the event is already out."""

    def __init__(self, status: int, reason: str, why: str) -> None:
        super().__init__(why)
        self.status, self.reason, self.why = status, reason, why


def _refuse(conn: Connection, status: int, reason: str, why: str) -> NoReturn:
    conn.emit(TunnelRefused(summary=f"{status} {reason}: {why}", status=status, reason=why))
    raise _Refused(status, reason, why)


def _route_first(conn: Connection, settings: ProxySettings, scenario: Scenario) -> tuple[tuple[str, int], Resolution]:
    """The first request of a client connection (already reported by :func:`serve`): check proxy
    authentication, and resolve its target through the proxy's own DNS table. Returns ((name, port) asked
    for, where to go)."""
    asked: ProxyRequest = conn.notes["proxy_request"]
    name, port = split_target(asked)
    denied = check_auth(settings.auth, asked.header("Proxy-Authorization"))
    if denied:
        _refuse(conn, 407, "Proxy Authentication Required", denied)
    try:
        found = resolve(
            name, port, settings, scenario, asker=conn.host, peer_ip=conn.peer.rpartition(":")[0].strip("[]")
        )
    except ProxyRefusal as exc:
        _refuse(conn, exc.status, exc.reason, str(exc))
    conn.emit(found.event())
    upstream = format_address(found.address, found.port)
    conn.emit(
        TunnelOpened(
            summary=f"connecting to {upstream} ({found.upstream})", upstream=upstream, upstream_host=found.upstream
        )
    )
    return (name.lower(), port), found


def _same_upstream(conn: Connection | None, request: Any, upstream: tuple[str, int] | None) -> bool:
    """A later request on a kept-alive connection (plain http:// only; CONNECT is a tunnel), reported.

    proxy.py sends it to the upstream it already has, whatever host it names. Same host: fine. Another
    host: False, and the plugin closes without answering - curl then retries on a fresh connection, which
    is routed through the DNS table like any other.
    """
    method = bytes(request.method or b"").decode("latin-1")
    name = bytes(request.host or b"").decode("latin-1")
    port = int(request.port or 80)
    line = f"{method} http://{name}:{port}{bytes(request.path or b'/').decode('latin-1')}"
    if (name.lower(), port) == upstream:
        if conn is not None:
            conn.emit(RequestReceived(summary=f"{line} (kept-alive connection, same upstream)", line=line))
        return True
    if conn is not None:
        first_name, first_port = upstream or ("?", 0)
        why = f"this connection already forwards to {first_name}:{first_port}"
        summary = f"{line}: {why}; closing it without an answer, so the client reconnects"
        conn.emit(TunnelRefused(summary=summary, reason=why, line=line))
    return False


def _plugin_for(host: Host, world: World, connections: dict[tuple[str, int], Connection]) -> type[Any]:
    """A plugin class bound to this host (proxy.py makes one instance per client connection, in its thread)."""
    from proxy.http.exception import HttpRequestRejected
    from proxy.http.proxy import HttpProxyBasePlugin

    assert isinstance(host.settings, ProxySettings)
    settings: ProxySettings = host.settings

    class _LabPlugin(HttpProxyBasePlugin):
        upstream_target: tuple[str, int] | None = None  # where this client connection's requests go
        requests_seen = 0

        def _conn(self) -> Connection | None:
            addr = self.client.addr
            return connections.get((str(addr[0]), int(addr[1]))) if addr else None

        def before_upstream_connection(self, request: Any) -> Any:
            printable_headers(request)
            conn = self._conn()
            if conn is None:  # pragma: no cover - every client comes through serve() below
                raise HttpRequestRejected(500, b"Internal Server Error", body=b"lab: unknown client\n")
            try:
                self.upstream_target, found = _route_first(conn, settings, world.scenario)
            except _Refused as exc:
                headers = {b"Proxy-Authenticate": b'Basic realm="lab proxy"'} if exc.status == 407 else None
                raise HttpRequestRejected(
                    exc.status, exc.reason.encode(), headers=headers, body=f"{exc.why}\n".encode()
                ) from None
            request.host = found.address.encode()
            request.port = found.port
            return request

        def resolve_dns(self, name: str, port: int) -> tuple[str | None, tuple[str, int] | None]:
            """No lookup (:meth:`before_upstream_connection` already chose the address); leave from the
            proxy's own address, so the upstream host sees the proxy as its client."""
            own = source_address(host, name)  # name: the address before_upstream_connection chose
            return None, (own, 0) if own else None

        def handle_client_request(self, request: Any) -> Any:
            printable_headers(request)
            self.requests_seen += 1
            if self.requests_seen == 1:
                return request  # the first request, already reported by before_upstream_connection
            if _same_upstream(self._conn(), request, self.upstream_target):
                return request
            raise HttpRequestRejected()  # no status: close without a response

        def on_access_log(self, context: dict[str, Any]) -> None:
            return None  # the timeline is the access log

    return _LabPlugin


def _honour_source_address() -> None:
    """Make proxy.py bind the source address a plugin's ``resolve_dns`` chose, for IP upstreams too.

    proxy.py 2.4.10's ``new_socket_connection`` drops ``source_address`` whenever the upstream is an IP
    literal (it only passes it on for names), and the lab always hands it an IP: without this the old
    service would see the laptop, not the proxy. Connections without a source address are unchanged.
    """
    from proxy.common.constants import DEFAULT_CONNECT_TIMEOUT, DEFAULT_TIMEOUT
    from proxy.core.connection import server

    original = server.new_socket_connection  # type: ignore[attr-defined]
    if getattr(original, "lab_binds", False):
        return

    def connect(
        addr: tuple[str, int],
        timeout: float = DEFAULT_TIMEOUT,
        connect_timeout: float = DEFAULT_CONNECT_TIMEOUT,
        source_address: tuple[str, int] | None = None,
    ) -> socket.socket:
        if source_address is None:
            return original(addr, timeout, connect_timeout)
        conn = socket.create_connection(addr, timeout=connect_timeout, source_address=source_address)
        conn.settimeout(timeout)
        return conn

    connect.lab_binds = True  # type: ignore[attr-defined]
    server.new_socket_connection = connect  # type: ignore[attr-defined]


def _flags(host: Host, world: World, connections: dict[tuple[str, int], Connection], data_dir: str) -> Any:
    """proxy.py's settings. Runs in a worker thread: proxy.py's set-up must not touch trio's main thread."""
    from proxy.common.flag import FlagParser

    assert isinstance(host.settings, ProxySettings)
    timeout = host.settings.timeout
    # proxy.py calls logging.basicConfig: it would add a handler to the root logger and set its level for
    # the whole lab process. Undo that, and quieten proxy.py's own loggers (quiet_proxy_logs).
    root = logging.getLogger()
    level, handlers = root.level, list(root.handlers)
    try:
        flags = FlagParser.initialize(
            ["--threaded", "--timeout", str(timeout), "--log-level", "CRITICAL", "--cache-dir", data_dir],
            plugins=[_plugin_for(host, world, connections)],
            data_dir=data_dir,
        )
    finally:
        root.setLevel(level)
        root.handlers[:] = handlers
    quiet_proxy_logs()
    _honour_source_address()
    return flags


async def read_head(conn: Connection, stream: trio.abc.Stream | None = None) -> ProxyRequest | None:
    """The client's request head (from ``stream``, default the connection's own), or ``None`` after
    answering 400/431 (or if the client left)."""
    stream = stream or conn.stream
    reader = HeadReader()
    while True:
        chunk = await stream.receive_some(65536)
        if not chunk:
            if reader.received:
                conn.emit(
                    PeerError(summary=f"client closed after {reader.received} bytes of an unfinished request head")
                )
            conn.notes["close_reason"] = "the client closed before sending a whole request"
            return None
        verdict = reader.receive_data(bytes(chunk))
        if isinstance(verdict, BadRequest):
            conn.emit(
                PeerError(
                    summary=f"not a proxy request: {verdict.reason} (answered {verdict.status})", status=verdict.status
                )
            )
            await stream.send_all(verdict.response())
            return None
        if verdict is not None:
            return verdict


async def _open_tunnel(inner: trio.abc.Stream, client: trio.abc.Stream, early: bytes) -> bool:
    """Bytes that came after a CONNECT head wait until proxy.py has answered it: proxy.py would read them as
    part of the head. Relays the answer to the client; True (and the early bytes sent on) if it was a 200."""
    answer = b""
    while b"\r\n\r\n" not in answer and len(answer) < 65536:
        chunk = await inner.receive_some(65536)
        if not chunk:
            break
        answer += chunk
    if answer:
        await client.send_all(answer)
    if not answer.startswith((b"HTTP/1.1 200", b"HTTP/1.0 200")):
        return False
    await inner.send_all(early)
    return True


async def serve(host: Host, world: World, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
    settings = host.settings
    assert isinstance(settings, ProxySettings)
    context = None
    if settings.cert is not None:
        versions = ("1.2", "1.3")
        context = origin.server_context(
            world.pki, host, versions=versions, alpn=["http/1.1"], client_cert=settings.client_cert
        )
    connections: dict[tuple[str, int], Connection] = {}
    data_dir = tempfile.mkdtemp(prefix="lab-proxy-", dir=netns.scratch())
    try:
        flags = await trio.to_thread.run_sync(_flags, host, world, connections, data_dir)

        async def handle(conn: Connection) -> None:
            stream: trio.abc.Stream = conn.stream
            if context is not None:  # an HTTPS proxy: TLS first, then the request inside it
                tls = await origin.handshake(conn, context, {})
                if tls is None:
                    await origin.linger(conn)
                    return
                stream = tls
            request = await read_head(conn, stream)
            if request is None:
                return
            name, port = split_target(request)
            target = request.target if request.method == "CONNECT" else format_address(name, port)
            conn.emit(proxyrules.requested(request, target, shown_headers(request)))
            if await proxyrules.apply_http(conn, stream, settings, name, port):
                return
            conn.notes["proxy_request"] = request
            if request.expects_continue:
                # proxy.py reads a whole request, body included, before it connects upstream: the client
                # would wait for a 100 Continue that never comes. The proxy says "go on" itself.
                await stream.send_all(CONTINUE)
            ours, theirs = socket.socketpair()
            peer_ip, _, peer_port = conn.peer.rpartition(":")
            key = (peer_ip, int(peer_port))
            connections[key] = conn
            inner = trio.SocketStream(trio.socket.from_stdlib_socket(ours))
            early = request.early if request.method == "CONNECT" else b""
            try:
                thread = start_worker(flags, theirs, key, conn)
                await inner.send_all(request.head if early else request.data)
                if not early or await _open_tunnel(inner, stream, early):
                    await relay(stream, inner, watch_a=watch_client_hello(conn, early))
            finally:
                connections.pop(key, None)
                await inner.aclose()  # proxy.py's worker sees EOF and its thread ends
            await trio.to_thread.run_sync(thread.join, 5.0, abandon_on_cancel=True)

        await world.serve_tcp(host, handle, task_status=task_status)
    finally:
        shutil.rmtree(data_dir, ignore_errors=True)
