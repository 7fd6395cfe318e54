"""The corporate HTTP proxy (host kind ``http-proxy``): proxy.py, with the lab's DNS table and timeline.

Theory of operation. trio accepts the client and reads the request head; h11 checks it (a malformed
request line, CR/LF smuggled into the target, or an oversized head gets 400/431 here and one ``error``
event). A valid head is replayed into one end of a socketpair whose other end is handed to proxy.py's
threaded worker (``start_threaded_work``), so proxy.py does the proxying — CONNECT tunnels, absolute-URI
forwarding, its error pages — in a thread of this process, and trio relays the client's bytes. Because
everything stays in one process there is no acceptor child and no second-long ``shutdown()``.

The plugin (:class:`_LabPlugin`) is where the lesson happens: it reports the request line and headers,
resolves the target through *the proxy's own* DNS table (:mod:`lab.proxydns`), refuses anything outside
the lab (403) or unknown (502), checks proxy authentication (407), and points proxy.py at the address.
"""

from __future__ import annotations

import base64
import logging
import socket
import tempfile
from typing import Any, ClassVar, NoReturn

import h11
import trio

from .. import clienthello
from ..proxydns import ProxyRefusal, Resolution, resolve, validate_table
from ..scenario import Host, Scenario
from ..world import Connection, World, relay
from . import check_keys

MAX_HEAD = 16 * 1024


def validate(host: Host, scenario: Scenario) -> None:
    check_keys(host, {"dns", "auth", "timeout"})
    validate_table(host)
    auth = host.settings.get("auth")
    if auth is not None and not (
        isinstance(auth, dict) and set(auth) == {"user", "password"} and all(isinstance(v, str) for v in auth.values())
    ):
        raise host.source.error(("auth",), 'auth must be { user = "...", password = "..." }')
    timeout = host.settings.get("timeout", 30)
    if not isinstance(timeout, int) or timeout <= 0:
        raise host.source.error(("timeout",), f"timeout must be a positive number of seconds, not {timeout!r}")


def _plugin_for(host: Host, world: World, connections: dict[tuple[str, int], Connection]) -> type[Any]:
    """A plugin class bound to this host (proxy.py makes one instance per client connection)."""
    from proxy.http.exception import HttpRequestRejected
    from proxy.http.proxy import HttpProxyBasePlugin

    table = validate_table(host)
    auth = host.settings.get("auth")
    expected_auth = base64.b64encode(f"{auth['user']}:{auth['password']}".encode()).decode() if auth else None

    class _LabPlugin(HttpProxyBasePlugin):
        lab_host: ClassVar[Host] = host

        def _conn(self) -> Connection | None:
            addr = self.client.addr
            return connections.get((str(addr[0]), int(addr[1]))) if addr else None

        def before_upstream_connection(self, request: Any) -> Any:
            conn = self._conn()
            method = bytes(request.method or b"").decode("latin-1")
            name = bytes(request.host or b"").decode("latin-1")
            port = int(request.port or (443 if method == "CONNECT" else 80))
            target = f"[{name}]:{port}" if ":" in name else f"{name}:{port}"
            headers = {
                bytes(v[0]).decode("latin-1"): bytes(v[1]).decode("latin-1") for v in (request.headers or {}).values()
            }
            shown = {k: ("Basic ***" if k.lower() == "proxy-authorization" else v) for k, v in headers.items()}
            if conn is not None:
                line = (
                    f"{method} {target}" if method == "CONNECT" else f"{method} {bytes(request.path or b'/').decode()}"
                )
                conn.emit(
                    "tunnel-requested",
                    f"{line} (Host: {headers.get('Host', headers.get('host', 'none'))})",
                    method=method,
                    target=target,
                    headers=shown,
                )
            if expected_auth is not None:
                given = next((v for k, v in headers.items() if k.lower() == "proxy-authorization"), "")
                if given != f"Basic {expected_auth}":
                    self._refuse(conn, 407, "Proxy Authentication Required", "missing or wrong Proxy-Authorization")
            try:
                found: Resolution = resolve(name, port, table, world.scenario)
            except ProxyRefusal as exc:
                self._refuse(conn, exc.status, exc.reason, str(exc))
            if conn is not None:
                conn.emit(
                    "resolved",
                    found.summary,
                    name=found.name,
                    address=found.address,
                    table=found.source,
                    upstream=found.upstream,
                )
                conn.emit(
                    "tunnel-opened",
                    f"connecting to {found.address}:{found.port} ({found.upstream})",
                    upstream=f"{found.address}:{found.port}",
                    upstream_host=found.upstream,
                )
            request.host = found.address.encode()
            return request

        def _refuse(self, conn: Connection | None, status: int, reason: str, why: str) -> NoReturn:
            if conn is not None:
                conn.emit("tunnel-refused", f"{status} {reason}: {why}", status=status, reason=why)
            headers = {b"Proxy-Authenticate": b'Basic realm="lab proxy"'} if status == 407 else None
            raise HttpRequestRejected(status, reason.encode(), headers=headers, body=f"{why}\n".encode())

        def on_access_log(self, context: dict[str, Any]) -> None:
            return None  # the timeline is the access log

    return _LabPlugin


def _flags(host: Host, world: World, connections: dict[tuple[str, int], Connection]) -> Any:
    from proxy.common.flag import FlagParser

    timeout = int(host.settings.get("timeout", 30))
    data_dir = tempfile.mkdtemp(prefix="lab-proxy-")
    flags = FlagParser.initialize(
        ["--threaded", "--timeout", str(timeout), "--log-level", "CRITICAL", "--cache-dir", data_dir],
        plugins=[_plugin_for(host, world, connections)],
        data_dir=data_dir,
    )
    # proxy.py logs refusals as warnings on the root logger; the timeline already says it, once.
    logging.getLogger("proxy").setLevel(logging.CRITICAL)
    return flags


async def read_head(conn: Connection) -> bytes | None:
    """Read up to the end of the request head; ``None`` (after answering 400/431) if it is not HTTP."""
    parser = h11.Connection(h11.SERVER, max_incomplete_event_size=MAX_HEAD)
    data = b""
    while True:
        try:
            event = parser.next_event()
            if event is not h11.NEED_DATA and data.find(b"\r\n\r\n") + 4 > MAX_HEAD:
                raise h11.RemoteProtocolError(f"request head over {MAX_HEAD} bytes", error_status_hint=431)
        except h11.RemoteProtocolError as exc:
            status = exc.error_status_hint
            conn.emit("error", f"not a valid proxy request: {exc} (answered {status})", status=status)
            reason = {431: b"Request Header Fields Too Large"}.get(status, b"Bad Request")
            response = f"HTTP/1.1 {status} {reason.decode()}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n"
            await conn.stream.send_all(response.encode())
            return None
        if event is h11.NEED_DATA:
            chunk = await conn.stream.receive_some(65536)
            if not chunk:
                if data:
                    conn.emit("error", f"client closed after {len(data)} bytes of an unfinished request head")
                return None
            data += chunk
            parser.receive_data(bytes(chunk))
            continue
        return data


async def serve(host: Host, world: World, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
    from proxy.core.work.threaded import start_threaded_work

    connections: dict[tuple[str, int], Connection] = {}
    flags = await trio.to_thread.run_sync(_flags, host, world, connections)

    async def handle(conn: Connection) -> None:
        head = await read_head(conn)
        if head is None:
            return
        ours, theirs = socket.socketpair()
        peer_ip, _, peer_port = conn.peer.rpartition(":")
        key = (peer_ip, int(peer_port))
        connections[key] = conn
        try:
            _, thread = start_threaded_work(flags, theirs, key)
            inner = trio.SocketStream(trio.socket.from_stdlib_socket(ours))
            await inner.send_all(head)

            def first_tunnel_bytes(data: bytes) -> None:
                hello = clienthello.parse(data)
                if hello is not None:
                    conn.emit(
                        "client-hello",
                        f"the client's TLS ClientHello went through the tunnel: SNI {hello.sni or 'none'}",
                        sni=hello.sni,
                    )

            await relay(conn.stream, inner, on_first_from_a=first_tunnel_bytes)
            await inner.aclose()
            await trio.to_thread.run_sync(thread.join, 5.0, abandon_on_cancel=True)
        finally:
            connections.pop(key, None)

    await world.serve_tcp(host, handle, task_status=task_status)
