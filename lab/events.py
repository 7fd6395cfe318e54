"""The timeline: typed events that every lab host reports, tied to the step that caused them.

Hosts call :meth:`Timeline.emit`; the runner takes the events emitted between the start of a curl
command and the moment every connection it caused is closed. Events carry monotonic timestamps so they
can be ordered across hosts (and across threads: proxy.py runs its plugins in worker threads).
"""

from __future__ import annotations

import itertools
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

EventKind = Literal[
    "listening",  # host bound its address
    "accepted",  # TCP connection accepted
    "tls-ok",  # handshake finished
    "tls-failed",  # handshake failed (reason, alert)
    "request",  # HTTP request received
    "response",  # HTTP response sent
    "tunnel-requested",  # proxy got CONNECT / SOCKS request
    "resolved",  # proxy resolved a name with its own DNS table
    "tunnel-opened",  # proxy connected upstream
    "tunnel-refused",  # proxy refused (403/502/...)
    "forwarded",  # GLB forwarded to a backend
    "client-hello",  # a proxy saw the client's ClientHello go through its tunnel (SNI)
    "log",  # GLB Cloud-Logging-like entry
    "closed",  # connection closed (bytes each way)
    "error",  # garbage from a peer etc.
]


@dataclass(frozen=True, slots=True, kw_only=True)
class Event:
    t: float
    host: str
    kind: EventKind
    conn: int = 0
    peer: str = ""
    summary: str = ""
    data: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


class Timeline:
    """Thread-safe append-only list of events with subscribers (for ``lab up`` streaming)."""

    def __init__(self) -> None:
        self._events: list[Event] = []
        self._lock = threading.Lock()
        self._conn_ids = itertools.count(1)
        self._open: set[int] = set()
        self._subscribers: list[Callable[[Event], None]] = []
        self._idle = threading.Condition(self._lock)

    def new_conn(self) -> int:
        """A connection id; the connection counts as open until a ``closed`` event carries it."""
        with self._lock:
            conn = next(self._conn_ids)
            self._open.add(conn)
            return conn

    def emit(
        self,
        host: str,
        kind: EventKind,
        summary: str = "",
        *,
        conn: int = 0,
        peer: str = "",
        **data: Any,
    ) -> Event:
        event = Event(t=time.monotonic(), host=host, kind=kind, conn=conn, peer=peer, summary=summary, data=data)
        with self._lock:
            self._events.append(event)
            if kind == "closed":
                self._open.discard(conn)
                self._idle.notify_all()
            subscribers = list(self._subscribers)
        for callback in subscribers:
            callback(event)
        return event

    def subscribe(self, callback: Callable[[Event], None]) -> None:
        with self._lock:
            self._subscribers.append(callback)

    @property
    def open_connections(self) -> int:
        with self._lock:
            return len(self._open)

    def wait_idle(self, timeout: float) -> bool:
        """Block (in a worker thread) until no connection is open; False if ``timeout`` ran out."""
        with self._idle:
            return self._idle.wait_for(lambda: not self._open, timeout=timeout)

    def since(self, index: int) -> list[Event]:
        with self._lock:
            return self._events[index:]

    def __len__(self) -> int:
        with self._lock:
            return len(self._events)
