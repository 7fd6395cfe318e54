"""A SOCKS5 proxy (host kind ``socks5``) with the same kind of DNS table as the HTTP proxy.

``socks5://`` makes curl resolve the name itself and send an IP; ``socks5h://`` sends the name, and
this proxy resolves it with *its own* table. The difference is the lesson, so both are reported.
The protocol is :class:`lab.protocols.socks5.Socks5Server` (sans-io); this module is the trio shell around
it: read, feed, send back, resolve (:func:`lab.hosts.proxydns.resolve`), connect upstream, relay.
"""

from __future__ import annotations

import trio

from lab.hosts import proxyrules
from lab.hosts.proxydns import Loop, NothingListening, OutsideLab, ProxyRefusal, UnknownName, resolve
from lab.model.behaviours import first_rule
from lab.model.events import PeerError, TunnelOpened, TunnelRefused, TunnelRequested
from lab.model.hostsettings import ProxySettings
from lab.model.scenario import Host
from lab.protocols.netaddr import format_address
from lab.protocols.socks5 import (
    CONNECTION_REFUSED,
    GENERAL_FAILURE,
    HOST_UNREACHABLE,
    NOT_ALLOWED,
    REPLY_NAMES,
    SUCCEEDED,
    ConnectRequest,
    Socks5Error,
    Socks5Server,
)
from lab.runtime.relay import relay, watch_client_hello
from lab.runtime.world import Connection, NotInLab, World

# RFC 1928 reply codes for each refusal; curl shows the number: "Can't complete SOCKS5 connection to x. (4)"
_REPLY_FOR: dict[type[ProxyRefusal], int] = {
    UnknownName: HOST_UNREACHABLE,
    OutsideLab: NOT_ALLOWED,
    Loop: NOT_ALLOWED,
    NothingListening: CONNECTION_REFUSED,
}
_WHO_RESOLVED = {
    "domain": "a name: the proxy resolves it (socks5h://)",
    "ipv4": "an address: the client resolved the name (socks5://)",
    "ipv6": "an address: the client resolved the name (socks5://)",
}


async def _negotiate(conn: Connection, proto: Socks5Server) -> ConnectRequest | None:
    """Greeting, optional user/password, request; ``None`` (after one event) if the client fails any."""
    while True:
        data = await conn.stream.receive_some(4096)
        if not data:
            conn.notes["close_reason"] = "the client closed before sending a whole SOCKS5 request"
            return None
        try:
            out, request = proto.receive_data(bytes(data))
        except Socks5Error as exc:
            conn.emit(PeerError(summary=f"not a SOCKS5 request: {exc}"))
            return None
        if out:
            await conn.stream.send_all(out)
        if request is not None:
            return request
        if proto.closed:  # refused: a reply (if the protocol has one for it) is already sent
            code, why = proto.refusal_code, proto.refusal or ""
            summary = f"SOCKS5 refused: {why}" if code is None else f"SOCKS5 reply {code}: {why}"
            conn.emit(TunnelRefused(summary=summary, status=code, reason=why))
            return None


async def _refuse(conn: Connection, proto: Socks5Server, code: int, why: str) -> None:
    said = f"SOCKS5 reply {code} ({REPLY_NAMES[code]})" if code in REPLY_NAMES else f"SOCKS5 reply {code}"
    conn.emit(TunnelRefused(summary=f"{said}: {why}", status=code, reason=why))
    await conn.stream.send_all(proto.reply(code))


async def _drop_greeting(conn: Connection) -> None:
    """``greeting = "drop"``: read the client's greeting and close without choosing a method."""
    data = await conn.stream.receive_some(4096)
    conn.emit(
        TunnelRefused(
            summary=f"read a {len(data)}-byte greeting; closed without a reply (greeting = drop)",
            reason="closed after the greeting, without a reply",
            hangup="fin",
        )
    )
    conn.notes["close_reason"] = "closed after the greeting, without a reply"


async def _apply_rule(conn: Connection, proto: Socks5Server, settings: ProxySettings, request: ConnectRequest) -> bool:
    """The first rule for the requested destination (:mod:`lab.hosts.proxyrules`). True: it ended the request."""
    rule = first_rule(settings.rules, request.host, request.port)
    if rule is None or rule.reply == "allow":
        return False
    if rule.reply == "slow":
        return await proxyrules.hold(conn, conn.stream, rule)
    if rule.reply in ("drop", "reset"):
        proxyrules.hang_up(conn, rule)
        return True
    assert isinstance(rule.reply, int)
    await _refuse(conn, proto, rule.reply, f"the proxy's rule {rule.to!r} answers {rule.reply} for {request.target}")
    return True


async def serve(host: Host, world: World, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
    settings = host.settings
    assert isinstance(settings, ProxySettings)

    async def handle(conn: Connection) -> None:
        if settings.greeting == "drop":
            await _drop_greeting(conn)
            return
        proto = Socks5Server(settings.auth)
        request = await _negotiate(conn, proto)
        if request is None:
            return
        conn.emit(
            TunnelRequested(
                summary=f"SOCKS5 CONNECT {request.target} - {_WHO_RESOLVED[request.address_type]}",
                method="SOCKS5 CONNECT",
                target=request.target,
                address_type=request.address_type,
                user=proto.user,
            )
        )
        if await _apply_rule(conn, proto, settings, request):
            return
        try:
            peer_ip = conn.peer.rpartition(":")[0].strip("[]")
            found = resolve(request.host, request.port, settings, world.scenario, asker=host, peer_ip=peer_ip)
        except ProxyRefusal as exc:
            await _refuse(conn, proto, _REPLY_FOR.get(type(exc), GENERAL_FAILURE), str(exc))
            return
        conn.emit(found.event())
        try:
            upstream = await world.connect_upstream(found.address, found.port, source=host)
        except (NotInLab, OSError) as exc:
            await _refuse(conn, proto, CONNECTION_REFUSED, f"cannot connect to {found.address}:{found.port}: {exc}")
            return
        upstream_address = format_address(found.address, found.port)
        conn.emit(
            TunnelOpened(
                summary=f"connected to {upstream_address} ({found.upstream})",
                upstream=upstream_address,
                upstream_host=found.upstream,
            )
        )
        async with upstream:
            await conn.stream.send_all(proto.reply(SUCCEEDED))
            early = proto.take_buffered()
            if early:
                await upstream.send_all(early)

            await relay(conn.stream, upstream, watch_a=watch_client_hello(conn, early))

    await world.serve_tcp(host, handle, task_status=task_status)
