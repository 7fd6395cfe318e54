"""What a learner's browser session costs in ``lab serve``, against a bare ``lab up`` measured in the same run.

Theory of operation. The baseline is ``lab up proxy-resolve`` on a pseudo-terminal, as a learner at a
local terminal starts it: the time until its prompt, and the memory of its whole process tree (PSS: the
lab and its shell, shared pages divided) at that prompt. Then ``lab serve --learners N`` starts, and the
learners open their terminals over the WebSocket the browser page uses (the tests' client): first one at
a time (the time from the WebSocket's opening to the prompt, and the PSS of that learner's tree), then all
N at once (how long the last one waits). The server's own memory is shared by every learner: it is
reported whole and per learner. Results: ``bench/results/serve.json`` and ``.md``; the headline is the
ratio of a session's start time and memory to the bare ``lab up``'s.
"""

from __future__ import annotations

import argparse
import os
import pty
import re
import select
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import trio

from bench import write_results
from bench.capacity import _children, _tree_pss_kb
from lab.paths import ROOT
from tests.serving import Server, prompt, serving, terminal

SCENARIO = "proxy-resolve"
PROMPT = re.compile(rb"\(lab:" + SCENARIO.encode() + rb"\) [^\n]*[#$] $")


def _pss_mb(pid: int) -> float:
    return round(_tree_pss_kb(pid, _children()) / 1024, 1)


def bare_lab_up() -> tuple[float, float]:
    """(seconds to the prompt, PSS MB of the tree) of one ``lab up`` on a pseudo-terminal."""
    started = time.monotonic()
    pid, fd = pty.fork()
    if pid == 0:
        os.chdir(ROOT)
        os.execv(sys.executable, [sys.executable, "-m", "lab", "up", SCENARIO])
    seen = b""
    try:
        while not PROMPT.search(seen):
            ready, _, _ = select.select([fd], [], [], 60)
            if not ready:
                raise RuntimeError(f"lab up showed no prompt in 60 s: {seen[-500:]!r}")
            seen += os.read(fd, 65536)
        elapsed = time.monotonic() - started
        memory = _pss_mb(pid)
        os.write(fd, b"exit\n")
        os.waitpid(pid, 0)
    finally:
        os.close(fd)
    return elapsed, memory


def _lab_of(server: Server, known: set[int]) -> int:
    """The pid of the learner's lab that started last (a new child of the server)."""
    (new,) = set(_children().get(server.process.pid, [])) - known
    return new


async def sessions(learners: int, temp: Path) -> dict[str, Any]:
    one_at_a_time: list[tuple[float, float]] = []
    args = ("--learners", str(learners), "--scenario", SCENARIO, "--idle-timeout", "1")
    async with serving(temp, *args) as server:
        known: set[int] = set()
        async with trio.open_nursery() as nursery:
            for number in range(1, learners + 1):  # one after another: what one learner waits for
                opened = trio.Event()
                started = time.monotonic()
                nursery.start_soon(_hold, server, number, opened)
                await opened.wait()
                lab = _lab_of(server, known)
                known.add(lab)
                one_at_a_time.append((time.monotonic() - started, _pss_mb(lab)))
            server_mb = _rss_mb(server.process.pid)
            nursery.cancel_scope.cancel()
        await server.logged(r"lab ended .*; 0 running\)")
        together = await _all_at_once(server, learners)
    return {"one_at_a_time": one_at_a_time, "server_rss_mb": server_mb, "all_at_once_s": together}


async def _hold(server: Server, number: int, opened: trio.Event) -> None:
    async with terminal(server.terminal_url(number)) as term:
        await term.expect(prompt(SCENARIO), within=120)
        opened.set()
        await trio.sleep_forever()


async def _all_at_once(server: Server, learners: int) -> float:
    started = time.monotonic()
    async with trio.open_nursery() as nursery:
        events = [trio.Event() for _ in range(learners)]
        for number, event in enumerate(events, 1):
            nursery.start_soon(_hold, server, number, event)
        for event in events:
            await event.wait()
        elapsed = time.monotonic() - started
        nursery.cancel_scope.cancel()
    return elapsed


def _rss_mb(pid: int) -> float:
    status = Path(f"/proc/{pid}/status").read_text()
    return round(int(re.search(r"VmRSS:\s+(\d+)", status).group(1)) / 1024, 1)  # type: ignore[union-attr]


def report_markdown(rec: dict[str, Any]) -> str:
    return "\n".join(
        [
            "# lab serve: what a learner's browser session costs",
            "",
            f"`make bench` (bench/serve.py), {rec['when']}, {rec['cores']} cores; scenario {SCENARIO}; "
            f"baseline: a bare `lab up` on a pseudo-terminal, {rec['runs']} runs, in the same run.",
            "",
            "| | start to prompt (median) | memory per learner (PSS, median) |",
            "|---|---:|---:|",
            f"| bare `lab up` | {rec['bare_start_s']:.2f} s | {rec['bare_pss_mb']:.1f} MB |",
            f"| `lab serve` session | {rec['serve_start_s']:.2f} s | {rec['serve_pss_mb']:.1f} MB "
            f"(+ {rec['server_share_mb']:.1f} MB: the server's {rec['server_rss_mb']:.0f} MB RSS over "
            f"{rec['learners']} learners) |",
            f"| ratio | **{rec['start_ratio']:.2f}x** | **{rec['memory_ratio']:.2f}x** |",
            "",
            f"{rec['learners']} learners opening their terminals at the same moment: the last prompt after "
            f"{rec['all_at_once_s']:.1f} s.",
            "",
            "PSS divides a shared page among the processes that share it: a session's labs share the "
            "interpreter's pages with the other learners' labs, the bare `lab up` with nobody; a session's "
            "RSS is that of a bare `lab up` (each is the same `lab up`, one process per learner).",
            "",
        ]
    )


def run(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.serve", description=__doc__.splitlines()[0])
    parser.add_argument("--learners", type=int, default=10, help="learners in lab serve (default 10)")
    parser.add_argument("--runs", type=int, default=3, help="bare lab up runs for the baseline (default 3)")
    args = parser.parse_args(argv)
    warm = subprocess.run(
        [sys.executable, "-m", "lab", "exec", SCENARIO, "--", "curl", "--version"], cwd=ROOT, capture_output=True
    )
    if warm.returncode != 0:  # also makes the certificates, so neither side below pays for them
        print(f"bench: a lab fails here: {warm.stderr.decode().strip()[-300:]}", file=sys.stderr)
        return 2
    bare = [bare_lab_up() for _ in range(args.runs)]
    temp = Path(os.environ.get("TMPDIR", "/tmp"))
    served = trio.run(sessions, args.learners, temp)
    bare_start, bare_pss = statistics.median(b[0] for b in bare), statistics.median(b[1] for b in bare)
    start = statistics.median(s[0] for s in served["one_at_a_time"])
    pss = statistics.median(s[1] for s in served["one_at_a_time"])
    share = served["server_rss_mb"] / args.learners
    rec = {
        "when": time.strftime("%Y-%m-%d %H:%M"),
        "cores": os.cpu_count(),
        "runs": args.runs,
        "learners": args.learners,
        "bare": bare,
        "bare_start_s": bare_start,
        "bare_pss_mb": bare_pss,
        **served,
        "serve_start_s": start,
        "serve_pss_mb": pss,
        "server_share_mb": round(share, 1),
        "start_ratio": start / bare_start,
        "memory_ratio": (pss + share) / bare_pss,
    }
    write_results("serve", rec, report_markdown(rec))
    return 0


if __name__ == "__main__":
    raise SystemExit(run())
