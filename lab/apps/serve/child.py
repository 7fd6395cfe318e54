"""One learner's lab, as ``lab serve`` starts it: ``python -m lab.apps.serve.child SERVER_PID up NAME``.

``lab serve`` starts this with a pseudo-terminal on stdin/stdout/stderr, in a new session
(``start_new_session``). Two things a plain ``lab up`` does not need happen here, before any thread exists:

- The terminal becomes the session's controlling terminal (``TIOCSCTTY``), so the learner's bash has job
  control and Ctrl-C typed in the browser reaches curl, exactly as in a local terminal.
- The lab gets SIGHUP when ``lab serve`` dies, however it dies (``PR_SET_PDEATHSIG``; SIGKILL included).
  ``lab up`` ends on SIGHUP as on a closed terminal: the shell is hung up, the hosts stop, the namespace
  and temporary files go. The kernel sends the signal when the *thread* that forked this process ends, so
  ``lab serve`` forks from its main thread (see :mod:`lab.apps.serve.terminal`). If ``lab serve`` is
  already gone when this runs, the lab does not start at all.

Then it is ``lab up`` itself (:func:`lab.apps.cli.main`), in this process: its own namespaces, its own
hosts, its own shell.
"""

from __future__ import annotations

import ctypes
import fcntl
import os
import signal
import sys
import termios

PR_SET_PDEATHSIG = 1  # linux/prctl.h


def tie_to(server_pid: int) -> bool:
    """SIGHUP when the server dies; False if it has died already (the signal would never come)."""
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(PR_SET_PDEATHSIG, signal.SIGHUP, 0, 0, 0) != 0:
        return False
    return os.getppid() == server_pid


def main(argv: list[str]) -> int:
    server_pid, lab_args = int(argv[0]), argv[1:]
    fcntl.ioctl(0, termios.TIOCSCTTY, 0)
    if not tie_to(server_pid):
        print("lab serve is gone: not starting this lab", file=sys.stderr)
        return 1
    from lab.apps.cli import main as lab_main

    return lab_main(lab_args)


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
