"""How the load balancer ends a connection it refused: each way it can, as a small function.

What a client sees depends on *how soon* and *how* the server lets go after saying no, and in TLS 1.3 that
is a race: curl has finished its side of the handshake and is already writing its request when the
server's verdict arrives. Each function here is one way; ``python -m bench.close_race`` replays curl
against every one and counts curl's exit codes (results and the choice made: docs/scenarios.md, "How a
refused connection ends"). The ``failure_style`` settings use:

- ``alert``: :func:`linger_after_alert`;
- ``silent``: :func:`hold`;
- ``reset``: :func:`reset`;
- ``empty-reply``: :func:`empty_reply` (what a real Google load balancer was seen doing: the handshake
  completes, then the connection closes without an HTTP response; curl says "Empty reply from server").
"""

from __future__ import annotations

import contextlib
import socket
import struct
from collections.abc import Awaitable, Callable

import trio
from OpenSSL import SSL

from lab.runtime.tlsbio import OpenSSLStream
from lab.runtime.world import CountingStream

LINGER = 2.0  # seconds to wait for the client to close its side before we close ours


async def _drain(stream: trio.abc.ReceiveStream, limit: float = LINGER) -> None:
    with trio.move_on_after(limit), contextlib.suppress(trio.BrokenResourceError, OSError):
        while await stream.receive_some(65536):
            pass


def _socket(stream: CountingStream) -> trio.socket.SocketType:
    return stream.stream.socket


# -- after the alert (the handshake failed; OpenSSL's alert has been sent) ------------------------------


async def linger_after_alert(stream: CountingStream, tls: OpenSSLStream) -> None:
    """FIN, then read until the client closes: the request curl may still send cannot trigger a TCP reset
    that would destroy the alert before curl reads it."""
    with contextlib.suppress(trio.BrokenResourceError, OSError):
        await stream.send_eof()
    await _drain(stream)


async def close_after_alert(stream: CountingStream, tls: OpenSSLStream) -> None:
    """Close at once: unread bytes from the client make the kernel answer with a reset."""


async def half_close_after_alert(stream: CountingStream, tls: OpenSSLStream) -> None:
    """FIN, then close without reading."""
    with contextlib.suppress(trio.BrokenResourceError, OSError):
        await stream.send_eof()


# -- without an alert ------------------------------------------------------------------------------------


async def hold(stream: CountingStream, tls: OpenSSLStream) -> None:
    """Send nothing and keep the connection until the client gives up (the support chat's hang)."""
    with contextlib.suppress(trio.BrokenResourceError, OSError):
        while await stream.receive_some(65536):
            pass


async def reset(stream: CountingStream, tls: OpenSSLStream) -> None:
    """Close with SO_LINGER 0: a TCP reset."""
    _socket(stream).setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))


# -- after a completed handshake (empty-reply) ----------------------------------------------------------


async def _request_arrived(tls: OpenSSLStream) -> None:
    with trio.move_on_after(LINGER), contextlib.suppress(trio.BrokenResourceError, OSError):
        await tls.receive_some(65536)


async def _close_notify(tls: OpenSSLStream) -> None:
    with contextlib.suppress(Exception):
        tls.conn.shutdown()
        await tls._flush()


def sent_close_notify(tls: OpenSSLStream) -> bool:
    return bool(tls.conn.get_shutdown() & SSL.SENT_SHUTDOWN)


async def empty_reply(stream: CountingStream, tls: OpenSSLStream) -> None:
    """Wait for the request, send close_notify and FIN, then read until the client closes. (Without the
    close_notify curl 8 says "unexpected eof" (56) instead of "Empty reply from server" (52).)"""
    await _request_arrived(tls)
    await _close_notify(tls)
    await linger_after_alert(stream, tls)


async def empty_reply_at_once(stream: CountingStream, tls: OpenSSLStream) -> None:
    """Close right after the handshake, before the request is read."""


async def empty_reply_notify_at_once(stream: CountingStream, tls: OpenSSLStream) -> None:
    """close_notify right after the handshake, then close without reading."""
    await _close_notify(tls)


async def empty_reply_fin(stream: CountingStream, tls: OpenSSLStream) -> None:
    """Wait for the request, then FIN without close_notify, and read until the client closes."""
    await _request_arrived(tls)
    await linger_after_alert(stream, tls)


async def empty_reply_reset(stream: CountingStream, tls: OpenSSLStream) -> None:
    """Wait for the request, then a TCP reset."""
    await _request_arrived(tls)
    await reset(stream, tls)


Ending = Callable[[CountingStream, OpenSSLStream], Awaitable[None]]
# The endings the failure styles use, and every measured alternative (bench/close_race.py).
STYLES: dict[str, Ending] = {"alert": linger_after_alert, "silent": hold, "reset": reset, "empty-reply": empty_reply}
AFTER_ALERT: dict[str, Ending] = {
    "linger": linger_after_alert,
    "close at once": close_after_alert,
    "half-close": half_close_after_alert,
}
AFTER_HANDSHAKE: dict[str, Ending] = {
    "read, close_notify, linger": empty_reply,
    "close at once": empty_reply_at_once,
    "close_notify at once": empty_reply_notify_at_once,
    "read, FIN, linger": empty_reply_fin,
    "read, reset": empty_reply_reset,
}
