"""A SOCKS5 proxy (host kind ``socks5``) with the same kind of DNS table as the HTTP proxy.

``socks5://`` makes curl resolve the name itself and send an IP; ``socks5h://`` sends the name, and
this proxy resolves it with *its own* table. The difference is the lesson, so both are reported.
"""

from __future__ import annotations

import trio

from .. import clienthello
from ..proxydns import NothingListening, OutsideLab, ProxyRefusal, UnknownName, resolve, validate_table
from ..scenario import Host, Scenario
from ..socks5proto import (
    CONNECTION_REFUSED,
    GENERAL_FAILURE,
    HOST_UNREACHABLE,
    NOT_ALLOWED,
    SUCCEEDED,
    Socks5Error,
    Socks5Server,
)
from ..world import Connection, World, relay
from . import check_keys

_REPLY_FOR = {UnknownName: HOST_UNREACHABLE, OutsideLab: NOT_ALLOWED, NothingListening: CONNECTION_REFUSED}


def validate(host: Host, scenario: Scenario) -> None:
    check_keys(host, {"dns", "auth"})
    validate_table(host)
    auth = host.settings.get("auth")
    if auth is not None and not (
        isinstance(auth, dict) and set(auth) == {"user", "password"} and all(isinstance(v, str) for v in auth.values())
    ):
        raise host.source.error(("auth",), 'auth must be { user = "...", password = "..." }')


async def serve(host: Host, world: World, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
    table = validate_table(host)
    auth = host.settings.get("auth")
    credentials = (auth["user"], auth["password"]) if auth else None

    async def handle(conn: Connection) -> None:
        proto = Socks5Server(credentials)
        request = None
        while request is None:
            data = await conn.stream.receive_some(4096)
            if not data:
                return
            try:
                out, request = proto.receive_data(bytes(data))
            except Socks5Error as exc:
                conn.emit("error", f"not SOCKS5: {exc}")
                return
            if out:
                await conn.stream.send_all(out)
            if request is None and not proto.tunnel and proto.state.name == "CLOSED":
                conn.emit("tunnel-refused", "authentication failed or no acceptable method", status=None)
                return
        via = "the client resolved it (socks5://)" if request.address_type != "domain" else "a name (socks5h://)"
        conn.emit(
            "tunnel-requested",
            f"SOCKS5 CONNECT {request.target} - {via}",
            target=request.target,
            address_type=request.address_type,
        )
        try:
            found = resolve(request.host, request.port, table, world.scenario)
        except ProxyRefusal as exc:
            conn.emit("tunnel-refused", str(exc), status=type(exc).__name__)
            await conn.stream.send_all(proto.reply(_REPLY_FOR.get(type(exc), GENERAL_FAILURE)))
            return
        conn.emit(
            "resolved",
            found.summary,
            name=found.name,
            address=found.address,
            table=found.source,
            upstream=found.upstream,
        )
        try:
            upstream = await world.connect_upstream(found.address, found.port)
        except OSError as exc:
            conn.emit("tunnel-refused", f"upstream connect failed: {exc}", status="connect")
            await conn.stream.send_all(proto.reply(CONNECTION_REFUSED))
            return
        conn.emit(
            "tunnel-opened",
            f"connected to {found.address}:{found.port} ({found.upstream})",
            upstream=f"{found.address}:{found.port}",
            upstream_host=found.upstream,
        )
        await conn.stream.send_all(proto.reply(SUCCEEDED))
        early = proto.take_buffered()
        if early:
            await upstream.send_all(early)

        def first(data: bytes) -> None:
            hello = clienthello.parse(early + data)
            if hello is not None:
                conn.emit(
                    "client-hello",
                    f"the client's TLS ClientHello went through the tunnel: SNI {hello.sni or 'none'}",
                    sni=hello.sni,
                )

        async with upstream:
            await relay(conn.stream, upstream, on_first_from_a=first)

    await world.serve_tcp(host, handle, task_status=task_status)
