"""Workshop mode: the learner predicts (``lab run NAME --quiz``) or types (``lab up NAME``), the lab explains.

Theory of operation.

*Quiz.* Before each step the lab asks who will answer and with which curl exit code, reading one line per
question from stdin (a terminal or a pipe alike; end of input skips). :func:`score` is pure.

*lab up.* The learner's shell is bash with a ``curl`` shell function (:data:`RCFILE`). The function opens a
TCP connection to the lab's explainer on 127.0.0.1 inside the lab namespace (bash's ``/dev/tcp``, no extra
tool), says ``begin`` (the lab marks the timeline), runs the real curl - its output reaches the terminal as
it comes, unchanged - keeps a copy of its stderr, argv and proxy variables in the shell's own temporary
directory (``$LAB_TMP``, removed when the lab ends) and says ``end RC DIR``. The lab collects the events
since the mark, waits until the hosts closed their side, prints the explanation and answers ``done``; only
then does the function return, so the explanation always comes before the next prompt. A Ctrl-C stops
curl, not the function, so an interrupted command is explained as well.
"""

from __future__ import annotations

import sys
import threading
from dataclasses import dataclass
from pathlib import Path

import trio
from rich.console import Console

from lab.explain import layout
from lab.explain.narrate import Lines
from lab.model.events import Event
from lab.model.outcome import CurlResult
from lab.model.scenario import Scenario, Step
from lab.protocols import curlv
from lab.runtime.timeline import Timeline

# ---------------------------------------------------------------------------------------------------------
# quiz


@dataclass(frozen=True, slots=True, kw_only=True)
class Guess:
    reached: str | None  # a host name or "none"; None: skipped
    exit_code: int | None


class QuizInputError(ValueError):
    """An answer the quiz cannot read; the message says what it expects."""


def parse_guess(host_line: str, exit_line: str, choices: tuple[str, ...]) -> Guess:
    """Read the learner's two answers; an empty line skips that question."""
    host = host_line.strip().lower() or None
    if host is not None and host not in choices:
        raise QuizInputError(f"{host!r} is not a host here (expected one of: {', '.join(choices)})")
    text = exit_line.strip()
    if text and not text.isdigit():
        raise QuizInputError(f"{text!r} is not an exit code (expected a number, like 0 or 35)")
    return Guess(reached=host, exit_code=int(text) if text else None)


def score(guess: Guess, result: CurlResult) -> tuple[int, str]:
    """(points 0-2, one line saying what was right)."""
    actual_host = result.reached or "none"
    points = 0
    parts = []
    if guess.reached is not None:
        ok = guess.reached == actual_host
        points += ok
        parts.append(f"host {guess.reached} {'✓' if ok else f'✗ (it was {actual_host})'}")
    if guess.exit_code is not None:
        ok = guess.exit_code == result.exit_code
        points += ok
        parts.append(f"exit {guess.exit_code} {'✓' if ok else f'✗ (it was {result.exit_code})'}")
    return points, "your prediction: " + ("; ".join(parts) if parts else "skipped")


class Quiz:
    """Asks on stdout, reads answers from stdin (in a worker thread, so the lab's hosts keep serving)."""

    def __init__(self, console: Console) -> None:
        self.console = console
        self.points = 0
        self.asked = 0

    async def _line(self, prompt: str) -> str:
        self.console.print(prompt, end="", markup=False, highlight=False)
        sys.stdout.flush()
        line: str = await trio.to_thread.run_sync(sys.stdin.readline)
        if not sys.stdin.isatty():
            self.console.print(line.rstrip("\n"), markup=False, highlight=False)  # echo piped answers
        return line

    async def ask(self, scenario: Scenario, step: Step) -> Guess:
        choices = (*scenario.hosts, "none")
        self.console.print(f"\n── Quiz, step {step.number}/{len(scenario.steps)}", style="bold", highlight=False)
        if step.say:
            self.console.print(step.say, markup=False, highlight=False)
        command = layout.wrap_command(step.run, self.console.width)  # broken between arguments, pastes back
        self.console.print(Lines(lambda _: [(line, "bold cyan") for line in command]))
        while True:
            host = await self._line(f"Who will answer? ({', '.join(choices)}; empty skips) > ")
            code = await self._line("curl's exit code? (0 is success; empty skips) > ")
            try:
                guess = parse_guess(host, code, choices)
            except QuizInputError as exc:
                self.console.print(f"quiz: {exc}; try again", markup=False)
                if not host and not code:  # end of input
                    return Guess(reached=None, exit_code=None)
                continue
            self.asked += (guess.reached is not None) + (guess.exit_code is not None)
            return guess

    def grade(self, guess: Guess, result: CurlResult) -> str:
        points, line = score(guess, result)
        self.points += points
        return line

    def summary(self) -> str:
        return f"quiz score: {self.points}/{self.asked}"


# ---------------------------------------------------------------------------------------------------------
# lab up


RCFILE = r"""
# lab up: curl runs for real, then the lab explains what happened (see lab/apps/workshop.py)
curl() {
  local fd reply rc dir v
  { exec {fd}<>"/dev/tcp/127.0.0.1/${LAB_EXPLAIN_PORT}"; } 2>/dev/null || { command curl "$@"; return; }
  printf 'begin\n' >&"$fd"; read -r reply <&"$fd"
  dir=$(mktemp -d "${LAB_TMP:?}/curl.XXXXXX")
  # curl's stdout goes straight to the terminal; its stderr to the terminal too, through tee, which keeps a
  # copy for the explanation and ignores Ctrl-C so nothing curl printed is lost. The INT trap makes a
  # Ctrl-C end curl only, not this function: the interrupted command is explained too.
  trap ':' INT
  { command curl "$@" 2>&1 1>&3 3>&- | (trap '' INT; exec tee "$dir/stderr") >&2; rc=${PIPESTATUS[0]}; } 3>&1
  trap - INT
  printf '%s\0' "$@" >"$dir/argv"
  for v in http_proxy HTTP_PROXY https_proxy HTTPS_PROXY all_proxy ALL_PROXY no_proxy NO_PROXY; do
    if [ -n "${!v+x}" ]; then printf '%s=%s\0' "$v" "${!v}"; fi
  done >"$dir/env"
  printf 'end %s %s\n' "$rc" "$dir" >&"$fd"; read -r reply <&"$fd"
  exec {fd}>&-
  rm -rf "$dir"
  return "$rc"
}
PS1=${LAB_PS1:-$PS1}
"""


def read_request(directory: Path, exit_code: int, events: tuple[object, ...]) -> CurlResult:
    """Rebuild a :class:`CurlResult` from what the shell function left in ``directory``."""
    args = (directory / "argv").read_bytes().split(b"\0")[:-1]
    env_items = (directory / "env").read_bytes().split(b"\0")[:-1]
    env = dict(item.decode("utf-8", "replace").partition("=")[::2] for item in env_items)
    stderr = (directory / "stderr").read_text("utf-8", "replace")
    return CurlResult(
        argv=("curl", *(a.decode("utf-8", "replace") for a in args)),
        env=env,
        exit_code=exit_code,
        stdout="",
        stderr=stderr,
        verbose=curlv.parse(stderr),
        events=tuple(events),  # type: ignore[arg-type]
        duration=0.0,
    )


class EventPrinter:
    """Prints the hosts' events as they happen - except while a curl runs: its output owns the terminal
    then, and the events wait until curl has exited (printed before the explanation), so no event line
    lands in the middle of a line of curl's."""

    def __init__(self) -> None:
        self.t0: float | None = None
        self.held: list[Event] | None = None
        self.lock = threading.Lock()  # proxy.py reports from worker threads

    def show(self, event: Event) -> None:
        if event.kind == "listening":
            return
        with self.lock:
            if self.held is not None:
                self.held.append(event)
                return
        self._print(event)

    def hold(self) -> None:
        with self.lock:
            self.held = []

    def release(self) -> None:
        with self.lock:
            held, self.held = self.held or [], None
        for event in held:
            self._print(event)

    def _print(self, event: Event) -> None:
        from lab.explain.narrate import event_line

        if self.t0 is None:
            self.t0 = event.t
        print(event_line(event, self.t0), file=sys.stderr, flush=True)


async def serve_explanations(
    scenario: Scenario,
    timeline: Timeline,
    console: Console,
    printer: EventPrinter,
    *,
    task_status: trio.TaskStatus[int],
) -> None:
    """Listen on 127.0.0.1 (inside the namespace) for the shell function; report the port once listening."""
    from lab.explain.narrate import explain_command

    listeners = await trio.open_tcp_listeners(0, host="127.0.0.1")
    task_status.started(listeners[0].socket.getsockname()[1])

    async def handle(stream: trio.SocketStream) -> None:
        buffer = b""
        mark: int | None = None  # the timeline keeps this command's events until it is explained
        async with stream:
            try:
                while data := await stream.receive_some(4096):
                    buffer += data
                    while b"\n" in buffer:
                        line, buffer = buffer.split(b"\n", 1)
                        words = line.decode("utf-8", "replace").split(" ", 2)
                        if words[0] == "begin":
                            if mark is not None:
                                timeline.release(mark)
                            mark = timeline.mark()
                            printer.hold()
                            await stream.send_all(b"ok\n")
                        elif words[0] == "end" and len(words) == 3 and mark is not None:
                            await explain(words[1], words[2], mark)
                            timeline.release(mark)
                            mark = None
                            await stream.send_all(b"done\n")
            finally:
                if mark is not None:  # the shell went away mid-command
                    timeline.release(mark)
                    printer.release()

    async def explain(exit_code: str, directory: str, mark: int) -> None:
        await trio.to_thread.run_sync(timeline.wait_idle, 2.0)
        printer.release()
        events = tuple(e for e in timeline.since(mark) if e.kind != "listening")
        try:
            result = read_request(Path(directory), int(exit_code), events)
            console.print(explain_command(scenario, result))
        except Exception as exc:  # whatever went wrong, the learner's shell must get its prompt back
            console.print(f"lab: cannot explain that command ({exc})", markup=False)
        sys.stdout.flush()

    await trio.serve_listeners(handle, listeners)
