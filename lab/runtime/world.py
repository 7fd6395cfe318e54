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
from lab.model.events import Accepted, Closed, Event, LimitReached, Listening, PeerError
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


def _nothing() -> None:
    return None


class CountingStream(trio.abc.HalfCloseableStream):
    """Counts bytes each way so ``closed`` events can say how much crossed the connection, and tells
    ``on_activity`` whenever bytes cross (the idle deadline moves on)."""

    def __init__(self, stream: trio.SocketStream, on_activity: Callable[[], None] = _nothing) -> None:
        self.stream = stream
        self.received = 0
        self.sent = 0
        self.on_activity = on_activity

    async def send_all(self, data: bytes | bytearray | memoryview) -> None:
        await self.stream.send_all(data)
        self.sent += len(data)
        self.on_activity()

    async def wait_send_all_might_not_block(self) -> None:
        await self.stream.wait_send_all_might_not_block()

    async def receive_some(self, max_bytes: int | None = None) -> bytes | bytearray:
        data = await self.stream.receive_some(max_bytes)
        self.received += len(data)
        self.on_activity()
        return data

    async def send_eof(self) -> None:
        await self.stream.send_eof()

    async def aclose(self) -> None:
        await self.stream.aclose()


@dataclass(slots=True)
class Connection:
    """One accepted TCP connection, with helpers that report events about it.

    Deadlines (:mod:`lab.model.limits`): until the host reports something about the connection (any event
    after ``accepted``: a handshake, a request, a refusal) the client has ``handshake_timeout``; from then
    on, ``idle_timeout`` from the last byte either way. ``scope`` is the cancel scope they set.
    """

    host: Host
    world: World
    stream: CountingStream
    id: int
    peer: str
    notes: dict[str, Any] = field(default_factory=dict)
    scope: trio.CancelScope | None = None
    reported: bool = False  # the host said something beyond "accepted": the handshake phase is over

    def emit(self, event: E) -> E:
        """Report ``event`` as this connection's (host, connection id and peer are filled in)."""
        stamped = dataclasses.replace(event, host=self.host.name, conn=self.id, peer=self.peer)
        self.world.timeline.emit(stamped)
        if not self.reported and not isinstance(event, Accepted):
            self.handshake_over()
        return stamped

    def handshake_over(self) -> None:
        """From now on the idle deadline applies (a request head arrived, or the host reported something)."""
        self.reported = True
        self.touch()

    def touch(self) -> None:
        """Bytes crossed (or the handshake phase ended): the idle deadline starts again. Only in trio's
        thread (proxy.py's workers emit events too; the next byte trio relays moves the deadline then)."""
        if not self.reported or self.scope is None:
            return
        try:
            now = trio.current_time()
        except RuntimeError:  # a worker thread
            return
        self.scope.deadline = now + self.host.limits.idle_timeout


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
        serve_one = self._wrap(host, handler)  # one per host: its connection count spans its listeners
        async with trio.open_nursery() as nursery:
            task_status.started()
            for listener in listeners:
                nursery.start_soon(trio.serve_listeners, serve_one, [listener])

    def _wrap(self, host: Host, handler: Handler) -> Callable[[trio.SocketStream], Awaitable[None]]:
        limits = host.limits
        held = 0  # connections this host has open

        async def run(stream: trio.SocketStream) -> None:
            nonlocal held
            ip, port = stream.socket.getpeername()[:2]
            if held >= limits.max_connections:
                self._refuse_over_limit(host, stream, f"{ip}:{port}", held)
                return
            held += 1
            try:
                await self._serve_one(host, handler, stream, f"{ip}:{port}")
            finally:
                held -= 1

        return run

    def _refuse_over_limit(self, host: Host, stream: trio.SocketStream, peer: str, held: int) -> None:
        stream.socket.close()  # closed at once: a held connection costs the host nothing
        limit = host.limits.max_connections
        summary = f"closed a connection from {peer} at once: {held} are open, the limit (limits.max_connections)"
        self.timeline.emit(
            LimitReached(host=host.name, peer=peer, summary=summary, limit="max_connections", value=limit)
        )

    async def _serve_one(self, host: Host, handler: Handler, stream: trio.SocketStream, peer: str) -> None:
        conn = Connection(host, self, CountingStream(stream), self.timeline.new_conn(), peer)
        conn.stream.on_activity = conn.touch
        conn.emit(Accepted(summary=f"connection from {conn.peer}"))
        try:
            with trio.CancelScope(deadline=trio.current_time() + host.limits.handshake_timeout) as scope:
                conn.scope = scope
                await handler(conn)
            if scope.cancelled_caught:
                _deadline_passed(conn)
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


def _deadline_passed(conn: Connection) -> None:
    limits = conn.host.limits
    if conn.reported:
        limit, value = "idle_timeout", limits.idle_timeout
        summary = f"nothing crossed the connection for {value:g} s (limits.idle_timeout): closed"
    else:
        limit, value = "handshake_timeout", limits.handshake_timeout
        summary = f"the client gave the host nothing to act on within {value:g} s (limits.handshake_timeout): closed"
    conn.emit(LimitReached(summary=summary, limit=limit, value=value))
    conn.notes["close_reason"] = f"{limit} reached"
