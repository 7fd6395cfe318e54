"""`lab up` in a real pseudo-terminal, as a workshop learner types: curl's own output stays on screen with the
lab's explanation after it, a Ctrl-C'd curl is explained too, leaving is exit 0, nothing is left behind."""

from __future__ import annotations

import os
import pty
import re
import select
import signal
import sys
import time
from pathlib import Path

import pytest

from lab.paths import ROOT

pytestmark = pytest.mark.netns
ANSI = re.compile(r"\x1b\[[0-9;?]*[a-zA-Z]")


class Terminal:
    """A child process on a pseudo-terminal; :meth:`expect` waits for text printed after the last match."""

    def __init__(self, argv: list[str], env: dict[str, str]) -> None:
        self.pid, self.fd = pty.fork()
        if self.pid == 0:  # the child: becomes `lab up`, with the pty as its controlling terminal
            os.chdir(ROOT)
            os.execve(argv[0], argv, env)
        self.seen = ""
        self.mark = 0

    def _read(self, timeout: float) -> bool:
        ready, _, _ = select.select([self.fd], [], [], timeout)
        if not ready:
            return True
        try:
            data = os.read(self.fd, 65536)
        except OSError:  # the child closed the terminal
            return False
        # (a real TERM: readline also ends bracketed paste with a lone carriage return after the newline)
        self.seen += ANSI.sub("", data.decode("utf-8", "replace")).replace("\r\n", "\n").replace("\r", "")
        return bool(data)

    def expect(self, pattern: str, timeout: float = 30) -> str:
        """The text from the last match to the end of this one (what the learner saw meanwhile)."""
        deadline = time.monotonic() + timeout
        while True:
            found = re.compile(pattern).search(self.seen, self.mark)
            if found:
                chunk = self.seen[self.mark : found.end()]
                self.mark = found.end()
                return chunk
            if time.monotonic() > deadline or not self._read(0.2):
                raise AssertionError(f"no {pattern!r} in:\n{self.seen[self.mark :][-3000:]}")

    def send(self, text: str) -> None:
        os.write(self.fd, text.encode())

    def exit_code(self, timeout: float = 20) -> int:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            pid, status = os.waitpid(self.pid, os.WNOHANG)
            if pid:
                return os.waitstatus_to_exitcode(status)
            self._read(0.1)
        os.kill(self.pid, signal.SIGKILL)
        raise AssertionError("lab up did not end")


def _plain(screen: str) -> list[str]:
    """The lines a learner read, without colour codes, carriage returns or trailing blanks."""
    return [line.rstrip() for line in re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", screen).replace("\r", "").splitlines()]


def test_lab_up_in_a_terminal_shows_curl_explains_it_and_leaves_cleanly(tmp_path: Path) -> None:
    world = tmp_path / "world.toml"
    world.write_text('title = "t"\nstory = "s"\ntopology = "seed"\n[hosts.reset]\nmode = "silent"\n')
    temp = tmp_path / "tmp"  # the lab's temporary files go here, so we can see that none is left
    temp.mkdir()
    env = {"PATH": os.environ["PATH"], "TERM": "xterm", "COLUMNS": "100", "LANG": "C.UTF-8", "TMPDIR": str(temp)}
    term = Terminal([sys.executable, "-m", "lab", "up", str(world)], env)
    prompt = r"\(lab:world\) [^\n]*[#$] $"
    term.expect(prompt, timeout=60)

    term.send("curl -v --tls-max 1.2 --resolve mydomain:443:88.88.88.88 https://mydomain\n")
    first = term.expect("what happened")
    assert re.search(r"^\*\s+Trying 88\.88\.88\.88:443", first, re.MULTILINE)
    assert re.search(r"^curl: \(35\) .*alert handshake failure$", first, re.MULTILINE)  # one unbroken line
    after = _plain(term.expect(prompt))
    assert [line for line in after if line.endswith("◀ decisive")] == [  # the hop, then the diagram's row
        "                        handshake_failure)   ◀ decisive",
        "   │◀─── alert handshake_failure ─────│    ◀ decisive",
    ]
    hop = after.index("                        handshake_failure)   ◀ decisive") - 1
    assert after[hop] == " ▶  client certificate  glb asked for one; none was sent (client_cert_not_provided, alert"
    assert [line for line in after if line.startswith(" ▶  ")] == [after[hop]]
    assert [line for line in after if line.startswith("lesson: ")] == [
        "lesson: The client-certificate check decided: glb asked for a client certificate and none was sent"
    ]

    term.send("curl -v https://mydomain\n")  # the silent reset host: curl waits until Ctrl-C
    waiting = term.expect(r"Client hello \(1\)")
    assert re.search(
        r"^\*\s+Trying 198\.0\.8\.245:443", waiting, re.MULTILINE
    )  # the second curl's -v lines reach the screen too
    term.send("\x03")
    stopped = _plain(term.expect("what happened") + term.expect(prompt))
    assert " ✗  answered            nobody before curl was stopped (Ctrl-C)" in stopped
    hop = [line for line in stopped if line.startswith(" ▶  ")]
    assert hop == [" ▶  client resolution   mydomain → 198.0.8.245 from the hosts file (198.0.8.245 mydomain)"]
    assert stopped[stopped.index(hop[0]) + 1] == "                        ◀ decisive"  # wrapped at 100 columns

    term.send("exit\n")
    assert term.exit_code() == 0
    assert list(temp.iterdir()) == []
