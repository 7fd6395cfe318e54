"""Ctrl-C and SIGTERM during ``lab up`` / ``lab run`` leave no process, namespace or mount behind."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from lab.paths import ROOT

pytestmark = pytest.mark.netns


def descendants(pid: int) -> set[int]:
    found: set[int] = set()
    todo = [pid]
    while todo:
        current = todo.pop()
        try:
            tasks = list(Path(f"/proc/{current}/task").iterdir())
        except OSError:  # the process ended meanwhile
            continue
        for task in tasks:
            try:
                children = (task / "children").read_text().split()
            except OSError:
                continue
            for child in map(int, children):
                if child not in found:
                    found.add(child)
                    todo.append(child)
    return found


def processes_in_namespace(ns: str) -> list[int]:
    pids = []
    for proc in Path("/proc").iterdir():
        if proc.name.isdigit():
            try:
                if os.readlink(proc / "ns" / "net") == ns:
                    pids.append(int(proc.name))
            except OSError:
                continue
    return pids


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:  # the process ended meanwhile
        return ""


def _comm(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/comm").read_text().strip()
    except OSError:  # the process ended meanwhile
        return ""


def wait_for_line(stream: object, needle: str) -> None:
    for line in stream:  # type: ignore[attr-defined]
        if needle in line:
            return
    raise AssertionError(f"the lab ended before printing {needle!r}")


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_lab_up_ends_cleanly(sig: signal.Signals) -> None:
    mounts_before = Path("/proc/self/mountinfo").read_text()
    with subprocess.Popen(
        [sys.executable, "-m", "lab", "up", "seed"],
        cwd=ROOT,
        stdin=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    ) as lab:
        wait_for_line(lab.stderr, "is up")  # readiness: every host is listening and the shell starts
        ns = os.readlink(f"/proc/{lab.pid}/ns/net")
        assert ns != os.readlink("/proc/self/ns/net"), "the lab must run in a namespace of its own"
        children = descendants(lab.pid)
        lab.send_signal(sig)
        assert lab.wait(timeout=15) == {signal.SIGTERM: 143, signal.SIGINT: 130}[sig]
    leftover = [pid for pid in children if Path(f"/proc/{pid}").exists()]
    assert leftover == [], f"processes left behind: {leftover}"
    assert processes_in_namespace(ns) == []
    assert Path("/proc/self/mountinfo").read_text() == mounts_before


def test_lab_run_ends_cleanly_on_sigterm_while_curl_runs(tmp_path: Path) -> None:
    scenario = tmp_path / "hang.toml"
    scenario.write_text(
        'title = "hang"\ntopology = "seed"\nstory = "a step that waits"\n[hosts.reset]\nmode = "silent"\n'
        '[[steps]]\nrun = "curl -sS -m 60 https://mydomain"\n'
    )
    with subprocess.Popen(
        [sys.executable, "-m", "lab", "run", str(scenario)],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    ) as lab:
        deadline = time.monotonic() + 20
        curl: list[int] = []
        while not curl and time.monotonic() < deadline:  # readiness: the step's curl process exists
            # the step's curl, not the `curl --version` the lab runs first to learn which curl it has
            curl = [p for p in descendants(lab.pid) if _comm(p) == "curl" and "https://mydomain" in _cmdline(p)]
        assert curl, "curl never started"
        ns = os.readlink(f"/proc/{lab.pid}/ns/net")
        lab.send_signal(signal.SIGTERM)
        assert lab.wait(timeout=15) == 143
        assert lab.stderr is not None
        assert lab.stderr.read().splitlines()[-1] == "lab: terminated; the lab's hosts and namespace are gone"
    assert not Path(f"/proc/{curl[0]}").exists()
    assert processes_in_namespace(ns) == []
