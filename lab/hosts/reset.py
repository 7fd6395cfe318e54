"""The address public DNS gives for ``mydomain``: it accepts, reads the ClientHello, and gives up.

Modes: ``fin`` closes politely (curl: SSL_ERROR_SYSCALL, exit 35), ``rst`` resets the connection
(curl: connection reset, exit 35), ``silent`` never answers (curl waits for its timeout, exit 28).
"""

from __future__ import annotations

import socket
import struct

import trio

from .. import clienthello
from ..scenario import Host, Scenario
from ..world import Connection, World
from . import check_keys

MODES = ("fin", "rst", "silent")


def validate(host: Host, scenario: Scenario) -> None:
    check_keys(host, {"mode"})
    mode = host.settings.get("mode", "fin")
    if mode not in MODES:
        raise host.source.error(("mode",), f"unknown reset mode {mode!r} (expected one of: {', '.join(MODES)})")


async def serve(host: Host, world: World, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
    mode = host.settings.get("mode", "fin")

    async def handle(conn: Connection) -> None:
        data = await conn.stream.receive_some(65536)
        hello = clienthello.parse(bytes(data))
        if hello:
            conn.emit(
                "tls-failed",
                f"read a ClientHello (SNI {hello.sni or 'none'}); answering with {mode}",
                sni=hello.sni,
                alpn=list(hello.alpn),
                reason=f"reset host ({mode})",
                alert=None,
            )
        elif data:
            conn.emit("error", f"read {len(data)} bytes that are not a ClientHello; answering with {mode}")
        if mode == "silent":
            while await conn.stream.receive_some(65536):
                pass
            conn.notes["close_reason"] = "client gave up"
        elif mode == "rst":
            conn.stream.stream.socket.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            conn.notes["close_reason"] = "sent RST"
        else:
            conn.notes["close_reason"] = "sent FIN without a ServerHello"

    await world.serve_tcp(host, handle, task_status=task_status)
