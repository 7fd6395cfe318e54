"""Ctrl-C and SIGTERM during ``lab up`` / ``lab run`` leave no process, namespace or mount behind."""

from __future__ import annotations

import os
import select
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


def test_sigkill_of_lab_run_ends_the_curl_it_ran(tmp_path: Path) -> None:
    scenario = tmp_path / "hang.toml"
    scenario.write_text(
        'title = "retry"\ntopology = "seed"\nstory = "a curl that waits on its own"\n'
        '[[steps]]\nrun = "curl -sS --retry 20 --retry-delay 3 --retry-connrefused https://10.1.1.1:4443"\n'
    )
    with subprocess.Popen(
        [sys.executable, "-m", "lab", "run", str(scenario)], cwd=ROOT, stdout=subprocess.DEVNULL
    ) as lab:
        deadline = time.monotonic() + 20
        curl: list[int] = []
        while not curl and time.monotonic() < deadline:  # readiness: the step's curl process exists
            curl = [p for p in descendants(lab.pid) if _comm(p) == "curl" and "4443" in _cmdline(p)]
        assert curl, "curl never started"
        ns = os.readlink(f"/proc/{lab.pid}/ns/net")
        lab.kill()
        assert lab.wait(timeout=10) == -signal.SIGKILL
    deadline = time.monotonic() + 10
    while processes_in_namespace(ns) and time.monotonic() < deadline:  # the kernel delivers SIGKILLs
        select.select([], [], [], 0.01)
    assert processes_in_namespace(ns) == []  # before, curl went on retrying for a minute in the lab's namespace
    assert _state(curl[0]) in ("", "Z")


def _state(pid: int) -> str:
    """The process's state letter (R, S, Z, ...); "" once it is gone."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[0]
    except OSError:
        return ""


def test_sigkill_of_lab_up_leaves_no_process_and_no_file(tmp_path: Path) -> None:
    """kill -9 of `lab up` while the learner's curl waits and a job runs in the background: the janitor ends
    every process of the lab's namespace, and the lab's files were only ever in the namespace's tmpfs."""
    world = tmp_path / "world.toml"
    world.write_text('title = "t"\nstory = "s"\ntopology = "seed"\n[hosts.reset]\nmode = "silent"\n')
    temp = tmp_path / "tmp"  # the lab's temporary directory: nothing may be left in it
    temp.mkdir()
    with subprocess.Popen(
        [sys.executable, "-m", "lab", "up", str(world)],
        cwd=ROOT,
        env={**os.environ, "TMPDIR": str(temp)},
        stdin=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    ) as lab:
        assert lab.stdin is not None
        wait_for_line(lab.stderr, "is up")
        lab.stdin.write("sleep 1000 &\ncurl -sS -m 100 https://mydomain\n")  # the silent host: curl waits
        lab.stdin.flush()
        deadline = time.monotonic() + 20
        busy: list[int] = []
        while len(busy) < 2 and time.monotonic() < deadline:  # readiness: both processes exist
            busy = [p for p in descendants(lab.pid) if _comm(p) in ("curl", "sleep")]
        assert len(busy) == 2, "curl and the background job never started"
        ns = os.readlink(f"/proc/{lab.pid}/ns/net")
        shm = Path(f"/proc/{lab.pid}/root/dev/shm")  # /dev/shm as the lab sees it
        lab_files = {p.name.split("-")[1] for p in shm.iterdir() if p.name.startswith("lab-")}
        lab.kill()
        assert lab.wait(timeout=10) == -signal.SIGKILL
    deadline = time.monotonic() + 10
    while processes_in_namespace(ns) and time.monotonic() < deadline:  # the kernel delivers SIGKILLs
        select.select([], [], [], 0.01)
    assert processes_in_namespace(ns) == []
    assert [(pid, _state(pid)) for pid in busy if _state(pid) not in ("", "Z")] == []  # gone, or dead (zombie)
    assert {"home", "shell", "proxy"} <= lab_files  # curl's HOME, the shell's home and history, proxy.py's dir
    assert list(temp.iterdir()) == []
