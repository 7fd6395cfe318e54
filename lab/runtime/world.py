"""A running world: every host of a scenario serving on its real address, and the shared timeline.

Each host kind lives in its own module under :mod:`lab.hosts`; this module gives them what they share:
listening on the host's address, one connection id and ``accepted``/``closed`` event pair per TCP
connection, errors from peers turned into one ``error`` event (never a traceback), and upstream
connections that can only reach other lab hosts (so no host is ever an open relay).
"""

from __future__ import annotations

import dataclasses
import errno
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

import trio

from lab.errors import HostStartError
from lab.model.events import Accepted, Closed, Event, Listening, PeerError
from lab.model.scenario import Host, Scenario
from lab.runtime.pki import Pki
from lab.runtime.timeline import Timeline
from lab.runtime.tlsbio import plain_reason

E = TypeVar("E", bound=Event)


def source_address(source: Host, ip: str) -> str | None:
    """The address ``source`` connects to ``ip`` from: its own. A host has one address, so towards the
    other IP family it cannot choose one (``None``: the kernel's choice, the client's address there)."""
    return source.ip if (":" in source.ip) == (":" in ip) else None


class NotInLab(Exception):
    """An upstream address is not one of the lab's hosts: refusing keeps everything inside the lab."""


class CountingStream(trio.abc.HalfCloseableStream):
    """Counts bytes each way so ``closed`` events can say how much crossed the connection."""

    def __init__(self, stream: trio.SocketStream) -> None:
        self.stream = stream
        self.received = 0
        self.sent = 0

    async def send_all(self, data: bytes | bytearray | memoryview) -> None:
        await self.stream.send_all(data)
        self.sent += len(data)

    async def wait_send_all_might_not_block(self) -> None:
        await self.stream.wait_send_all_might_not_block()

    async def receive_some(self, max_bytes: int | None = None) -> bytes | bytearray:
        data = await self.stream.receive_some(max_bytes)
        self.received += len(data)
        return data

    async def send_eof(self) -> None:
        await self.stream.send_eof()

    async def aclose(self) -> None:
        await self.stream.aclose()


@dataclass(slots=True)
class Connection:
    """One accepted TCP connection, with helpers that report events about it."""

    host: Host
    world: World
    stream: CountingStream
    id: int
    peer: str
    notes: dict[str, Any] = field(default_factory=dict)

    def emit(self, event: E) -> E:
        """Report ``event`` as this connection's (host, connection id and peer are filled in)."""
        stamped = dataclasses.replace(event, host=self.host.name, conn=self.id, peer=self.peer)
        self.world.timeline.emit(stamped)
        return stamped


Handler = Callable[[Connection], Awaitable[None]]


def why_closed(exc: BaseException) -> str:
    """How a connection ended, in a learner's words (no exception class names)."""
    cause = exc.__cause__ or exc.__context__ or exc
    if isinstance(exc, ConnectionResetError) or isinstance(cause, ConnectionResetError):
        return "the peer reset the connection"
    if isinstance(exc, BrokenPipeError) or isinstance(cause, BrokenPipeError):
        return "the peer had already closed the connection"
    if isinstance(exc, trio.BrokenResourceError) and str(exc):
        return f"the connection broke: {plain_reason(exc)}"
    return "the peer closed the connection"


@dataclass(slots=True)
class World:
    scenario: Scenario
    timeline: Timeline
    pki: Pki

    def host_at(self, ip: str, port: int) -> Host | None:
        return self.scenario.host_at(ip, port)

    async def connect_upstream(self, ip: str, port: int, *, source: Host) -> trio.SocketStream:
        """Connect from host ``source`` to another lab host; anything else raises :class:`NotInLab`, sends nothing.

        The connection leaves from ``source``'s own address, so the upstream host sees the proxy or load
        balancer as its client (an unbound connection would leave from the client's address: see
        :mod:`lab.runtime.addressing`).
        """
        if self.host_at(ip, port) is None:
            raise NotInLab(f"{ip}:{port} is not a lab host")
        return await trio.open_tcp_stream(ip, port, local_address=source_address(source, ip))

    async def serve_tcp(self, host: Host, handler: Handler, *, task_status: trio.TaskStatus[None]) -> None:
        """Listen on the host's real address and run ``handler`` per connection."""
        try:
            listeners = await trio.open_tcp_listeners(host.port, host=host.ip)
        except OSError as exc:
            hint = ""
            if exc.errno == errno.EADDRNOTAVAIL:
                hint = " (the address is not on this machine: run the lab inside its namespace)"
            raise HostStartError(f"host '{host.name}' cannot listen on {host.address}: {exc.strerror}{hint}") from None
        self.timeline.emit(Listening(host=host.name, summary=f"{host.kind} listening on {host.address}"))
        async with trio.open_nursery() as nursery:
            task_status.started()
            for listener in listeners:
                nursery.start_soon(trio.serve_listeners, self._wrap(host, handler), [listener])

    def _wrap(self, host: Host, handler: Handler) -> Callable[[trio.SocketStream], Awaitable[None]]:
        async def run(stream: trio.SocketStream) -> None:
            ip, port = stream.socket.getpeername()[:2]
            conn = Connection(host, self, CountingStream(stream), self.timeline.new_conn(), f"{ip}:{port}")
            conn.emit(Accepted(summary=f"connection from {conn.peer}"))
            try:
                await handler(conn)
            except (trio.BrokenResourceError, trio.ClosedResourceError, ConnectionError) as exc:
                conn.notes.setdefault("close_reason", why_closed(exc))
            except Exception as exc:  # a misbehaving peer must never stop the host
                conn.emit(PeerError(summary=f"could not handle what the peer sent: {plain_reason(exc)}"))
            finally:
                with trio.CancelScope(shield=True):
                    with trio.move_on_after(1):
                        await conn.stream.aclose()
                    reason = conn.notes.get("close_reason", "")
                    reason = f" - {reason}" if reason else ""
                    conn.emit(
                        Closed(
                            summary=f"closed ({conn.stream.received} bytes in, {conn.stream.sent} out){reason}",
                            received=conn.stream.received,
                            sent=conn.stream.sent,
                        )
                    )

        return run
