"""A plain backend service (the stale *old* service, or a backend behind the load balancer).

It answers every request with who it is and what it saw - SNI, TLS version, request line, authority,
client certificate - so a learner can tell from curl's output alone which host answered and why.
TLS uses the standard library's OpenSSL binding through ``trio.SSLStream``; it asks for no client
certificate (that is the load balancer's job).
"""

from __future__ import annotations

import ssl

import trio

from lab.model.events import PeerError, ResponseSent, TlsFailed, TlsOk
from lab.model.hostsettings import BackendSettings
from lab.model.scenario import Host
from lab.protocols import clienthello
from lab.runtime.httpserve import PeerProtocolError, Request, Response, guard_for, serve_http, sized
from lab.runtime.tlsbio import plain_reason
from lab.runtime.world import Connection, World


def describe(host: Host, settings: BackendSettings, conn: Connection, request: Request) -> Response:
    """The echo every lab backend sends: header ``served-by`` plus a readable body (``?bytes=N``: N bytes)."""
    lines = [
        f"served-by: {host.name}",
        f"label: {settings.label}",
        f"address: {host.address}",
        f"peer: {conn.peer.rpartition(':')[0]}",  # who connected: the client, a proxy or a load balancer
        f"sni: {conn.notes.get('sni') or 'none'}",
        f"tls: {conn.notes.get('tls_version') or 'none'}",
        f"request: {request.line}",
        f"authority: {request.authority or 'none'}",
        f"client-cert: {conn.notes.get('client_cert') or 'none'}",
        *([f"body: {len(request.body)} bytes"] if request.body else []),
        *(f"{k}: {v}" for k, v in request.headers if k.startswith("x-client-cert") or k == "x-lab-via"),
    ]
    return Response(
        status=settings.status,
        headers=[("served-by", host.name), ("content-type", "text/plain")],
        body=sized(request.target, ("\n".join(lines) + "\n").encode()),
    )


def tls_context(host: Host, world: World) -> ssl.SSLContext:
    """No ``sni_callback``: the standard library decodes the name as ASCII before calling it, and a
    non-ASCII name would fail the handshake with a traceback on stderr. :class:`HelloTap` reads the SNI."""
    pair = world.pki.server(host)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(pair.cert, pair.key)
    context.set_alpn_protocols(["h2", "http/1.1"])
    return context


class HelloTap(trio.abc.Stream):
    """Passes a stream through, reading the client's ClientHello on the way (SNI, as bytes, shown escaped)."""

    def __init__(self, stream: trio.abc.Stream) -> None:
        self.stream = stream
        self.reader = clienthello.HelloReader()
        self.hello: clienthello.ClientHello | None = None

    async def receive_some(self, max_bytes: int | None = None) -> bytes | bytearray:
        data = await self.stream.receive_some(max_bytes)
        if not self.reader.done:
            found = self.reader.feed(bytes(data))
            if isinstance(found, clienthello.ClientHello):
                self.hello = found
        return data

    async def send_all(self, data: bytes | bytearray | memoryview) -> None:
        await self.stream.send_all(data)

    async def wait_send_all_might_not_block(self) -> None:
        await self.stream.wait_send_all_might_not_block()

    async def aclose(self) -> None:
        await self.stream.aclose()

    @property
    def sni(self) -> str | None:
        return self.hello.sni if self.hello else None


async def serve(host: Host, world: World, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
    settings = host.settings
    assert isinstance(settings, BackendSettings)
    context = tls_context(host, world) if settings.tls else None

    async def handle(conn: Connection) -> None:
        stream: trio.abc.Stream = conn.stream
        alpn = None
        if context is not None:
            tap = HelloTap(conn.stream)
            tls = trio.SSLStream(tap, context, server_side=True)
            try:
                await tls.do_handshake()
            except trio.BrokenResourceError as exc:
                reason = plain_reason(exc)
                conn.emit(TlsFailed(summary=f"handshake failed: {reason}", reason=reason, sni=tap.sni or None))
                return
            conn.notes["sni"] = tap.sni or ""
            conn.notes["tls_version"] = tls.version()
            alpn = tls.selected_alpn_protocol()
            conn.emit(
                TlsOk(
                    summary=f"{tls.version()} handshake ok, SNI {conn.notes['sni'] or 'none'}, ALPN {alpn or 'none'}",
                    sni=conn.notes["sni"] or None,
                    version=tls.version() or "",
                    alpn=alpn,
                    cipher=(tls.cipher() or ("",))[0],
                )
            )
            stream = tls

        async def respond(request: Request) -> Response:
            conn.emit(request.event())
            response = describe(host, settings, conn, request)
            via = request.header("x-lab-via")  # set by a load balancer that forwarded this request
            conn.emit(
                ResponseSent(
                    summary=f"{response.status}, served-by {host.name}" + (f" (behind {via})" if via else ""),
                    status=response.status,
                    served_by=host.name,
                    via=via,
                )
            )
            return response

        try:
            await serve_http(stream, alpn, respond, guard_for(conn))
        except PeerProtocolError as exc:
            conn.emit(PeerError(summary=str(exc), status=exc.status))

    await world.serve_tcp(host, handle, task_status=task_status)
