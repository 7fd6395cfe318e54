"""The last net under the hosts: an exception nobody caught becomes one ``error`` event, never stderr noise.

Each host already turns what a peer does into events (:meth:`lab.runtime.world.World.serve_tcp` catches
every exception of a connection's task; the HTTP proxy's worker threads catch their own). What is left is
code the lab does not run itself: a thread someone else started (proxy.py's, OpenSSL callbacks through the
standard library) and errors Python can only report as "Exception ignored in ...". While a lab is open,
both hooks report to the timeline instead of printing a traceback in the middle of a learner's terminal.
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from lab.model.events import PeerError
from lab.runtime.timeline import Timeline
from lab.runtime.tlsbio import plain_reason


def _what(exc: BaseException | None) -> str:
    if exc is None:
        return "an unknown error"
    return plain_reason(exc) if str(exc) else type(exc).__name__


@contextmanager
def reported(timeline: Timeline) -> Iterator[None]:
    """Inside this block, uncaught thread exceptions and unraisable errors are events (host ``lab``)."""
    before_thread, before_unraisable = threading.excepthook, sys.unraisablehook

    def on_thread(args: Any) -> None:
        if args.exc_type is SystemExit:
            return
        name = args.thread.name if args.thread is not None else "a thread"
        timeline.emit(PeerError(host="lab", summary=f"{name} failed and was stopped: {_what(args.exc_value)}"))

    def on_unraisable(args: Any) -> None:
        timeline.emit(PeerError(host="lab", summary=f"an error was ignored: {_what(args.exc_value)}"))

    threading.excepthook, sys.unraisablehook = on_thread, on_unraisable
    try:
        yield
    finally:
        threading.excepthook, sys.unraisablehook = before_thread, before_unraisable
