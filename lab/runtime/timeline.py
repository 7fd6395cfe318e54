"""The timeline: every host's events in the order they happened, tied to the step that caused them.

Hosts emit through their connection (:meth:`lab.runtime.world.Connection.emit`); the runner takes the
events emitted between the start of a curl command and the moment every connection it caused is closed.
Events carry monotonic timestamps so they can be ordered across hosts and threads (proxy.py runs its
plugins in worker threads, so :meth:`Timeline.emit` is thread-safe).
"""

from __future__ import annotations

import dataclasses
import itertools
import threading
import time
from collections.abc import Callable

from lab.model.events import Closed, Event


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
        """A connection id; the connection counts as open until a :class:`Closed` event carries it."""
        with self._lock:
            conn = next(self._conn_ids)
            self._open.add(conn)
            return conn

    def emit(self, event: Event) -> Event:
        """Record ``event`` (stamped with the current time) and tell the subscribers."""
        event = dataclasses.replace(event, t=time.monotonic())
        with self._lock:
            self._events.append(event)
            if isinstance(event, Closed):
                self._open.discard(event.conn)
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
