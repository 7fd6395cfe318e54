"""proxy.py's worker threads, watched: whatever fails in one is one event of the connection it serves.

The HTTP proxy (:mod:`lab.hosts.http_proxy`) hands each client to proxy.py's threaded work. proxy.py catches
most of what fails in a worker and logs it with a traceback; some of it escapes the thread; and its access
log decodes the User-Agent as strict UTF-8 when a connection closes. Here: the thread that runs the work
(:func:`start_worker`), a logging handler that turns proxy.py's failures into events and prints nothing
(:func:`quiet_proxy_logs`), and header values made printable before proxy.py can trip on them.
"""

from __future__ import annotations

import logging
import socket
import threading
from typing import Any

from lab.model.events import PeerError
from lab.runtime.tlsbio import plain_reason
from lab.runtime.world import Connection


def printable_headers(request: Any) -> None:
    """Header values that are not UTF-8, escaped (``\\xff``): proxy.py 2.4.10 decodes the User-Agent as strict
    UTF-8 when the connection closes, and would fail in its worker thread after serving the client."""
    for key, (name, value) in list((request.headers or {}).items()):
        try:
            bytes(value).decode("utf-8")
        except UnicodeDecodeError:
            request.headers[key] = (name, bytes(value).decode("utf-8", "backslashreplace").encode())


_worker = threading.local()  # the connection a proxy.py worker thread serves


class _FailuresToTimeline(logging.Handler):
    """proxy.py catches what fails in a worker and logs it with the traceback; the lab reports it as one
    ``error`` event of the connection the thread serves, and nothing reaches stderr."""

    def emit(self, record: logging.LogRecord) -> None:
        conn: Connection | None = getattr(_worker, "conn", None)
        if conn is not None and record.exc_info and record.exc_info[1] is not None:
            reason = plain_reason(record.exc_info[1])
            conn.emit(PeerError(summary=f"the proxy could not handle this connection: {reason}"))


def quiet_proxy_logs() -> None:
    """proxy.py logs every refusal as a warning (the timeline already says it, once): only its failures are
    kept, as events, and its loggers never print (no propagation to the root logger's last resort)."""
    logger = logging.getLogger("proxy")
    logger.setLevel(logging.ERROR)
    logger.propagate = False
    if not any(isinstance(h, _FailuresToTimeline) for h in logger.handlers):
        logger.addHandler(_FailuresToTimeline())


def start_worker(flags: Any, sock: socket.socket, key: tuple[str, int], conn: Connection) -> threading.Thread:
    """proxy.py's threaded work for one client (as ``proxy.core.work.start_threaded_work``), in a thread whose
    failure becomes one ``error`` event instead of a traceback on the lab's stderr."""
    work = flags.work_klass(flags.work_klass.create(sock, key), flags=flags, event_queue=None, upstream_conn_pool=None)

    def run() -> None:
        _worker.conn = conn
        try:
            work.run()
        except Exception as exc:  # proxy.py's own code failed on what this client sent: report, never print
            conn.emit(PeerError(summary=f"the proxy could not handle this connection: {plain_reason(exc)}"))
        finally:
            sock.close()

    thread = threading.Thread(target=run, name=f"lab-{conn.host.name}-{conn.id}", daemon=True)
    thread.start()
    return thread
