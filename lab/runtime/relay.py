"""Tunnels: copy bytes both ways between two streams, and tell the timeline which SNI went through."""

from __future__ import annotations

import contextlib
from collections.abc import Callable

import trio

from lab.model.events import ClientHelloSeen
from lab.protocols import clienthello
from lab.runtime.world import Connection

Watcher = Callable[[bytes], bool]  # sees the bytes going one way; True: seen enough, stop calling


Hello = clienthello.ClientHello | clienthello.NotClientHello | None


async def read_client_hello(stream: trio.abc.Stream) -> tuple[clienthello.HelloReader, Hello]:
    """For a host that answers the ClientHello itself: read until it is whole, proves not to be one, or the
    client stops sending (None); the reader keeps the bytes read."""
    reader = clienthello.HelloReader()
    found: Hello = None
    while found is None and (data := await stream.receive_some(65536)):
        found = reader.feed(bytes(data))
    return reader, found


def watch_client_hello(conn: Connection, early: bytes = b"") -> Watcher:
    """For :func:`relay`: tell the timeline which SNI the client's ClientHello carried through a tunnel.

    The ClientHello may come in several reads; the watcher buffers until it is whole (or proves not to be
    TLS, e.g. plain HTTP through the tunnel, which it then leaves alone).
    """
    reader = clienthello.HelloReader()

    def watch(data: bytes) -> bool:
        found = reader.feed(data)
        if isinstance(found, clienthello.ClientHello):
            conn.emit(
                ClientHelloSeen(
                    summary=f"the client's TLS ClientHello went through the tunnel: SNI {found.sni or 'none'}",
                    sni=found.sni,
                    alpn=found.alpn,
                )
            )
        return reader.done

    if early:
        watch(early)
    return watch


async def relay(a: trio.abc.Stream, b: trio.abc.Stream, *, watch_a: Watcher | None = None) -> None:
    """Copy bytes both ways until both sides are done (a tunnel). Half-closes where the stream can."""

    async def pump(src: trio.abc.Stream, dst: trio.abc.Stream, watch: Watcher | None) -> None:
        try:
            while data := await src.receive_some(65536):
                if watch is not None and watch(bytes(data)):
                    watch = None
                await dst.send_all(data)
        except (trio.BrokenResourceError, trio.ClosedResourceError):
            pass
        finally:
            if isinstance(dst, trio.abc.HalfCloseableStream):
                with contextlib.suppress(trio.BrokenResourceError, trio.ClosedResourceError, OSError):
                    await dst.send_eof()
            else:
                await dst.aclose()

    async with trio.open_nursery() as nursery:
        nursery.start_soon(pump, a, b, watch_a)
        nursery.start_soon(pump, b, a, None)
