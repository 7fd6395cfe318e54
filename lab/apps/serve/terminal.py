"""One learner's lab on a pseudo-terminal: started on the first visit, kept while a browser is attached or
for the idle timeout after the last one left, ended on demand.

The lab is a separate process (:mod:`lab.apps.serve.child`, which becomes ``lab up NAME``), so it makes its
own network and mount namespaces: one learner's hosts, ``/etc/hosts`` and curl are invisible to another's.
Its terminal's output is read here and passed to whichever browser is attached (one at a time: a second
tab takes over and the first is told so); the last :data:`BACKLOG` bytes are kept, so a browser that comes
back within the idle timeout sees the screen it left and carries on in the same shell.

The process is forked with :class:`subprocess.Popen` from trio's main thread, not with
:func:`trio.run_process`: trio forks in a worker thread, and the lab's parent-death signal
(``PR_SET_PDEATHSIG``) fires when the forking *thread* ends, which a cached worker thread does after a
few idle seconds. Its exit is awaited on a pidfd, without a thread.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import signal
import struct
import subprocess
import sys
import termios
from collections.abc import Mapping
from dataclasses import dataclass, field

import trio

from lab.apps.serve.seats import Learner
from lab.paths import ROOT

BACKLOG = 64 * 1024  # bytes of output replayed to a browser that reconnects
QUEUE = 256  # output chunks waiting for a slow browser before it is dropped (it can reconnect)
HANG_UP_GRACE = 5.0  # seconds a lab has to end on SIGHUP before it is killed
MAX_SIZE = 1000  # columns or rows


@dataclass(eq=False)
class Viewer:
    """A browser attached to a lab: the output it still has to send, and why it was let go."""

    send: trio.MemorySendChannel[bytes]
    receive: trio.MemoryReceiveChannel[bytes]
    farewell: str = ""

    @classmethod
    def open(cls) -> Viewer:
        send, receive = trio.open_memory_channel[bytes](QUEUE)
        return cls(send, receive)

    def let_go(self, why: str) -> None:
        if not self.farewell:
            self.farewell = why
        self.send.close()


@dataclass(eq=False)
class LabTerminal:
    learner: Learner
    argv: list[str]
    env: Mapping[str, str]
    idle_timeout: float
    on_end: list[str] = field(default_factory=list)  # why the lab ended (one line per reason, for the log)
    process: subprocess.Popen[bytes] | None = None
    _master: int = -1
    _stream: trio.lowlevel.FdStream | None = None
    _viewer: Viewer | None = None
    _backlog: bytearray = field(default_factory=bytearray)
    _changed: trio.Event = field(default_factory=trio.Event)
    _write_lock: trio.Lock = field(default_factory=trio.Lock)
    ended: trio.Event = field(default_factory=trio.Event)
    _detached_at: float = 0.0

    def start(self, columns: int = 80, rows: int = 24) -> None:
        """Fork the lab on a new terminal (from the main thread: see the module's docstring)."""
        master, slave = os.openpty()
        try:
            _set_size(master, columns, rows)
            self.process = subprocess.Popen(
                [sys.executable, "-m", "lab.apps.serve.child", str(os.getpid()), *self.argv],
                stdin=slave,
                stdout=slave,
                stderr=slave,
                env=dict(self.env),
                cwd=ROOT,
                start_new_session=True,
                close_fds=True,
            )
        except BaseException:
            os.close(master)
            raise
        finally:
            os.close(slave)  # only the lab holds it now: its end reads as end-of-file (EIO) here
        self._master = master
        self._stream = trio.lowlevel.FdStream(master)
        self._detached_at = trio.current_time()

    async def run(self) -> None:
        """Pass output on until the lab ends (or the idle timeout ends it); then let the browser go."""
        assert self._stream is not None
        assert self.process is not None
        try:
            async with trio.open_nursery() as nursery:
                nursery.start_soon(self._watch_idle, nursery.cancel_scope)
                pumped = trio.Event()
                nursery.start_soon(self._pump, pumped)
                await self._wait_exit()
                with trio.move_on_after(1):  # what the lab printed last (a job it left may hold the terminal)
                    await pumped.wait()
                nursery.cancel_scope.cancel()
        finally:
            with trio.CancelScope(shield=True):
                await self.stop()
                await self._stream.aclose()
            self.ended.set()
            if self._viewer is not None:
                self._viewer.let_go("the lab ended; reload the page for a new one")

    async def _pump(self, done: trio.Event) -> None:
        assert self._stream is not None
        while True:
            try:
                data = await self._stream.receive_some(65536)
            except (trio.BrokenResourceError, trio.ClosedResourceError):  # EIO: the lab closed its terminal
                data = b""
            if not data:
                done.set()
                return
            self._backlog += data
            del self._backlog[:-BACKLOG]
            viewer = self._viewer
            if viewer is not None:
                try:
                    viewer.send.send_nowait(data)
                except trio.WouldBlock:
                    self.detach(viewer, "the browser fell behind the terminal; reload the page to catch up")
                except trio.ClosedResourceError:
                    pass

    async def _wait_exit(self) -> None:
        assert self.process is not None
        pidfd = os.pidfd_open(self.process.pid)
        try:
            await trio.lowlevel.wait_readable(pidfd)
        finally:
            os.close(pidfd)
        self.process.wait()

    async def _watch_idle(self, scope: trio.CancelScope) -> None:
        """Ends the lab once no browser has been attached for the idle timeout."""
        while True:
            changed = self._changed
            if self._viewer is None:
                deadline = self._detached_at + self.idle_timeout
                if trio.current_time() >= deadline:
                    self.on_end.append(f"no browser for {self.idle_timeout:g} s")
                    scope.cancel()
                    return
                with trio.move_on_at(deadline):
                    await changed.wait()
            else:
                await changed.wait()

    def _notify(self) -> None:
        self._changed.set()
        self._changed = trio.Event()

    def attach(self) -> tuple[Viewer, bytes]:
        """A browser arrives: it takes the terminal over (any other is let go) and gets the recent output."""
        if self._viewer is not None:
            self._viewer.let_go("this terminal was opened in another tab or window")
        self._viewer = Viewer.open()
        self._notify()
        return self._viewer, bytes(self._backlog)

    def detach(self, viewer: Viewer, why: str = "") -> None:
        viewer.let_go(why)
        if self._viewer is viewer:
            self._viewer = None
            self._detached_at = trio.current_time()
            self._notify()

    async def write(self, data: bytes) -> None:
        if self._stream is None or self.ended.is_set():
            return
        async with self._write_lock:
            with contextlib.suppress(trio.BrokenResourceError, trio.ClosedResourceError):
                await self._stream.send_all(data)

    def resize(self, columns: int, rows: int) -> None:
        if self._master >= 0 and not self.ended.is_set():
            _set_size(self._master, columns, rows)

    async def stop(self) -> None:
        """SIGHUP (``lab up`` ends as on a closed terminal), then SIGKILL after :data:`HANG_UP_GRACE`."""
        process = self.process
        if process is None or process.poll() is not None:
            return
        process.send_signal(signal.SIGHUP)
        with trio.move_on_after(HANG_UP_GRACE):
            await self._wait_exit()
            return
        process.kill()
        await self._wait_exit()


def _set_size(fd: int, columns: int, rows: int) -> None:
    """The terminal's size; the kernel tells the learner's shell (SIGWINCH to the foreground job)."""
    columns, rows = (max(1, min(MAX_SIZE, n)) for n in (columns, rows))
    fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", rows, columns, 0, 0))
