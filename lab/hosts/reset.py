"""The address public DNS gives for ``mydomain``: it accepts, reads the ClientHello, and gives up.

Modes: ``fin`` closes politely (curl: SSL_ERROR_SYSCALL, exit 35), ``rst`` resets the connection
(curl: connection reset, exit 35), ``silent`` never answers (curl waits for its timeout, exit 28).
"""

from __future__ import annotations

import socket
import struct

import trio

from lab.model.events import PeerError, TlsFailed
from lab.model.hostsettings import ResetSettings
from lab.model.scenario import Host
from lab.protocols import clienthello
from lab.runtime.relay import read_client_hello
from lab.runtime.world import Connection, World


async def serve(host: Host, world: World, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
    assert isinstance(host.settings, ResetSettings)
    mode = host.settings.mode

    async def handle(conn: Connection) -> None:
        reader, found = await read_client_hello(conn.stream)
        if isinstance(found, clienthello.ClientHello):
            conn.emit(
                TlsFailed(
                    summary=f"read a ClientHello (SNI {found.sni or 'none'}); answering with {mode}",
                    sni=found.sni,
                    alpn=found.alpn,
                    reason=f"reset host ({mode})",
                    stopped="client-hello",
                    hangup={"fin": "fin", "rst": "rst"}.get(mode, "hold"),
                )
            )
        elif reader.buffer:
            why = found if found is not None else "the client stopped sending before a whole ClientHello"
            conn.emit(
                PeerError(summary=f"read {len(reader.buffer)} bytes, not a ClientHello ({why}); answering with {mode}")
            )
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
