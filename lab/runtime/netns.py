"""The lab's own network: a fresh network + mount namespace for this process and its children.

Theory of operation: before trio starts (while the process is still single-threaded) :func:`enter`
calls ``unshare(2)``. As root that is ``CLONE_NEWNET | CLONE_NEWNS``; as a normal user a user namespace
is added and we map ourselves to root inside it. The new network namespace has only ``lo``; we bring it
up and put every lab address on it (:mod:`lab.runtime.addressing`, which also makes curl connect from the
client's own address), so servers bind ``88.88.88.88:443`` and curl connects there without a single packet
leaving the namespace (nothing else is reachable from it). In the private mount
namespace :func:`configure` bind-mounts the scenario's hosts file over ``/etc/hosts``, a resolver file
with no reachable server over ``/etc/resolv.conf``, and a directory holding only the lab root CA over
``/etc/ssl/certs`` (curl's default CA file and path). Everything vanishes with the process: a namespace
lives as long as a process is in it, and mounts live in the namespace.

In a throwaway container that asks for it (``LAB_IN_PLACE=1``), :mod:`lab.runtime.inplace` makes the
container's own namespace the lab's instead, and the same files are written over the container's own.
Where no namespace can be had, :mod:`lab.runtime.unavailable` says why on this machine and what to do.

Nothing left behind, even after SIGKILL. The lab's temporary files (curl's HOME, the workshop shell's home
and history, proxy.py's directory) live in :func:`scratch`: a tmpfs mounted over ``/dev/shm`` in the lab's
private mount namespace, which vanishes with the namespace - no cleanup code has to run. And no process
outlives the lab: :func:`enter` starts a tiny janitor (:data:`JANITOR`) in the namespace, from the main
thread, with ``PR_SET_PDEATHSIG``; when the lab process dies - however - the janitor SIGKILLs every other
process in the lab's network namespace (the learner's bash, its curl, whatever it left running in the
background) and exits, and with the last process the namespaces and the tmpfs are gone. At a normal exit
the lab stops the janitor itself and waits for its sweep. (Parent-death signals on curl and bash themselves
would not do: trio starts children from worker threads, the signal comes when the *thread* that forked
ends, and a learner's background job has another parent. A PID namespace would not do either: a process
that unshares one can no longer start threads.)
"""

from __future__ import annotations

import atexit
import ctypes
import os
import signal
import subprocess
import sys
import tempfile
from pathlib import Path

from lab.errors import NamespaceUnavailable
from lab.model.scenario import Scenario
from lab.runtime import addressing, inplace, unavailable

CLONE_NEWNS = 0x00020000
CLONE_NEWUSER = 0x10000000
CLONE_NEWNET = 0x40000000
PR_SET_PDEATHSIG = 1
MS_NOSUID = 2
MS_NODEV = 4
MS_REC = 0x4000
MS_PRIVATE = 1 << 18
MS_BIND = 0x1000
MNT_DETACH = 2

ALTERNATIVE = unavailable.GENERIC
# Set (to anything but "" or "0") to act as a machine where unshare(2) is not permitted: the test suite's
# honest-skip check (tests/test_skips.py) runs pytest with it, and every real-curl test must then skip.
SWITCH_OFF = "LAB_NO_NETNS"

_entered = False
_in_place = False
_mounted: list[str] = []
_scratch: Path | None = None
_janitor: subprocess.Popen[bytes] | None = None
SCRATCH = Path("/dev/shm")  # exists on every Linux; nothing in the lab needs the machine's own
# The janitor: waits; on SIGTERM (the lab died: PR_SET_PDEATHSIG, or the lab's own exit) it SIGKILLs every
# other process in the lab's network namespace, until none is left, and exits. argv[1]: the lab's pid.
JANITOR = """
import os, signal, sys, time
lab = int(sys.argv[1])
def sweep(*_):
    me, own = os.getpid(), os.readlink("/proc/self/ns/net")
    for _ in range(200):
        found = []
        for name in os.listdir("/proc"):
            if name.isdigit() and int(name) not in (me, lab):
                try:
                    if os.readlink("/proc/" + name + "/ns/net") == own:
                        found.append(int(name))
                except OSError:
                    pass
        if not found:
            break
        for pid in found:
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass
        time.sleep(0.01)
    os._exit(0)
signal.signal(signal.SIGTERM, sweep)
for number in (signal.SIGINT, signal.SIGHUP, signal.SIGQUIT):
    signal.signal(number, signal.SIG_IGN)
if os.getppid() != lab:  # the lab died before the parent-death signal was set
    sweep()
while True:
    signal.pause()
"""


def _libc() -> ctypes.CDLL:
    return ctypes.CDLL(None, use_errno=True)


def _fail(what: str) -> NamespaceUnavailable:
    err = ctypes.get_errno()
    return NamespaceUnavailable(f"{what} failed ({os.strerror(err)})")


def enter() -> None:
    """Move this process into a new network and mount namespace (idempotent)."""
    global _entered, _in_place
    if _entered:
        return
    if inplace.requested(os.environ):
        inplace.enter()
        _entered = _in_place = True
        return
    try:
        _unshare()
    except NamespaceUnavailable as exc:
        raise NamespaceUnavailable(unavailable.explain(str(exc), unavailable.HostFacts.read())) from None
    _entered = True


def _unshare() -> None:
    if os.environ.get(SWITCH_OFF, "") not in ("", "0"):  # as if unshare(2) were not permitted here
        raise NamespaceUnavailable(f"unshare(network, mount) not tried: {SWITCH_OFF} is set")
    if not sys.platform.startswith("linux"):
        raise NamespaceUnavailable(f"this is {sys.platform}")
    libc = _libc()
    uid, gid = os.geteuid(), os.getegid()
    flags = CLONE_NEWNET | CLONE_NEWNS
    if uid != 0:
        flags |= CLONE_NEWUSER
    if libc.unshare(flags) != 0:
        raise _fail("unshare(network, mount)")
    if uid != 0:
        Path("/proc/self/setgroups").write_text("deny")
        Path("/proc/self/uid_map").write_text(f"0 {uid} 1")
        Path("/proc/self/gid_map").write_text(f"0 {gid} 1")
    if libc.mount(b"none", b"/", None, MS_REC | MS_PRIVATE, None) != 0:
        raise _fail("making mounts private")
    _mount_scratch(libc)
    _start_janitor()
    _ip("link", "set", "lo", "up")


def _start_janitor() -> None:
    """The janitor (see the module docstring), forked from the main thread, so its parent-death signal
    comes when the lab process ends, not when some thread does."""
    global _janitor
    libc = _libc()
    lab = os.getpid()

    def die_with_the_lab() -> None:  # in the child, before exec: the setting survives exec
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)

    _janitor = subprocess.Popen(
        [sys.executable, "-S", "-E", "-c", JANITOR, str(lab)],
        preexec_fn=die_with_the_lab,  # safe: single-threaded here, before trio starts
        start_new_session=True,  # not in the terminal's process group: Ctrl-C is the lab's to handle
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    atexit.register(_sweep_now)


def _sweep_now() -> None:
    """At the lab's normal exit: whatever is still running in the namespace goes now, before we return."""
    if _janitor is not None and _janitor.poll() is None:
        _janitor.terminate()
        _janitor.wait()


def _mount_scratch(libc: ctypes.CDLL) -> None:
    """A fresh tmpfs for the lab's temporary files, seen only in this namespace (:func:`scratch`)."""
    global _scratch
    if (
        SCRATCH.is_dir()
        and libc.mount(b"tmpfs", bytes(SCRATCH), b"tmpfs", MS_NOSUID | MS_NODEV, b"mode=1777,size=64m") == 0
    ):
        _scratch = SCRATCH


def scratch() -> Path:
    """Where the lab keeps temporary files: its own tmpfs inside a lab namespace (gone with the namespace,
    even after SIGKILL), else the system's temporary directory (removed by the lab when it ends)."""
    return _scratch if _scratch is not None else Path(tempfile.gettempdir())


def _ip(*args: str) -> None:
    result = subprocess.run(["ip", *args], capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise NamespaceUnavailable(f"ip {' '.join(args)}: {result.stderr.strip()}")


def configure(scenario: Scenario, trust_bundle: Path) -> None:
    """Give the namespace this scenario's addresses, hosts file and trust store."""
    if not _entered:
        raise NamespaceUnavailable("configure() called outside the lab namespace: call netns.enter() first")
    addressing.assign(scenario)

    if _in_place:  # no mount namespace to hide them in: the container's own files become the lab's
        with tempfile.TemporaryDirectory(prefix="lab-etc-") as staged:
            _write_etc(Path(staged), scenario, trust_bundle)
            inplace.install_etc(Path(staged))
        return
    # Staging lives on a tmpfs that only this namespace sees; the bind mounts keep it alive after we
    # detach it, so nothing of the lab stays on the real file system.
    staging = Path(tempfile.mkdtemp(prefix="lab-etc-", dir=scratch()))
    libc = _libc()
    if libc.mount(b"tmpfs", str(staging).encode(), b"tmpfs", 0, b"mode=0755,size=4m") != 0:
        staging.rmdir()
        raise _fail("mounting a tmpfs for the lab's /etc files")
    try:
        _write_etc(staging, scenario, trust_bundle)
        _bind(staging / "hosts", "/etc/hosts")
        _bind(staging / "resolv.conf", "/etc/resolv.conf")
        _bind(staging / "certs", "/etc/ssl/certs")
    finally:
        libc.umount2(str(staging).encode(), MNT_DETACH)
        staging.rmdir()


def _write_etc(staging: Path, scenario: Scenario, trust_bundle: Path) -> None:
    """The scenario's hosts file, a resolver with no server, and a trust store, in ``staging``."""
    (staging / "hosts").write_text(scenario.client.hosts_file())
    (staging / "resolv.conf").write_text(
        "# The lab has no DNS server: the client's names come from /etc/hosts only.\n"
        "nameserver 127.0.0.1\noptions attempts:1 timeout:1\n"
    )
    certs = staging / "certs"
    certs.mkdir()
    bundle = certs / "ca-certificates.crt"
    bundle.write_bytes(trust_bundle.read_bytes() if scenario.client.trust == "lab-root" else b"")
    if scenario.client.trust == "lab-root":
        subject_hash = subprocess.run(
            ["openssl", "x509", "-noout", "-subject_hash", "-in", str(bundle)],
            capture_output=True,
            text=True,
            check=False,
        ).stdout.strip()
        if subject_hash:
            (certs / f"{subject_hash}.0").symlink_to("ca-certificates.crt")


def _bind(source: Path, target: str) -> None:
    libc = _libc()
    if target in _mounted:
        libc.umount2(target.encode(), MNT_DETACH)
        _mounted.remove(target)
    if libc.mount(str(source).encode(), target.encode(), None, MS_BIND, None) != 0:
        raise _fail(f"bind-mounting {target}")
    _mounted.append(target)
