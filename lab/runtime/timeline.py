"""The timeline: every host's events in the order they happened, tied to the step that caused them.

Hosts emit through their connection (:meth:`lab.runtime.world.Connection.emit`); the runner takes the
events emitted between the start of a curl command and the moment every connection it caused is closed.
Events carry monotonic timestamps so they can be ordered across hosts and threads (proxy.py runs its
plugins in worker threads, so :meth:`Timeline.emit` is thread-safe).

Bounded: a day of ``lab up`` must not grow without end. The timeline keeps the last ``history`` events,
plus every event since a :meth:`mark` that is still held (a step in progress, a replay that saves its log
entries at the end) - up to ``pinned_max`` of them, a bound for a step that never ends. Indexes are
absolute: ``len(timeline)`` counts every event ever emitted, and :meth:`since` gives what is still kept.
"""

from __future__ import annotations

import dataclasses
import itertools
import threading
import time
from collections import Counter, deque
from collections.abc import Callable

from lab.model.events import Closed, Event

HISTORY = 1000  # events kept once no step needs them (lab up prints them as they happen)
PINNED_MAX = 100_000  # events a held mark can keep (one step's worth: far more than any curl command makes)


class Timeline:
    """Thread-safe list of recent events with subscribers (for ``lab up`` streaming)."""

    def __init__(self, history: int = HISTORY, pinned_max: int = PINNED_MAX) -> None:
        self._events: deque[Event] = deque()
        self._first = 0  # absolute index of _events[0]
        self._history = history
        self._pinned_max = pinned_max
        self._marks: Counter[int] = Counter()  # absolute indexes someone still reads from
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
            self._trim()
            if isinstance(event, Closed):
                self._open.discard(event.conn)
                self._idle.notify_all()
            subscribers = list(self._subscribers)
        for callback in subscribers:
            callback(event)
        return event

    def _trim(self) -> None:
        keep_from = min(self._marks, default=len(self._events) + self._first)
        while len(self._events) > self._history and (self._first < keep_from or len(self._events) > self._pinned_max):
            self._events.popleft()
            self._first += 1

    def mark(self, index: int | None = None) -> int:
        """Keep every event from ``index`` (default: the next one) until :meth:`release`; returns the index."""
        with self._lock:
            at = self._first + len(self._events) if index is None else max(index, self._first)
            self._marks[at] += 1
            return at

    def release(self, mark: int) -> None:
        with self._lock:
            self._marks[mark] -= 1
            if self._marks[mark] <= 0:
                del self._marks[mark]
            self._trim()

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
        """The events from absolute ``index`` on that are still kept."""
        with self._lock:
            start = max(index - self._first, 0)
            return list(itertools.islice(self._events, start, None))

    def __len__(self) -> int:
        with self._lock:
            return self._first + len(self._events)
