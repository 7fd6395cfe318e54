"""In-place mode: inside a throwaway container, the container's own network namespace is the lab's.

A container cannot make namespaces without CAP_SYS_ADMIN, which no learner's container should get. With
NET_ADMIN alone the lab can still do everything :mod:`lab.runtime.netns` does in a namespace of its own:
take every interface but ``lo`` down (nothing leaves; a non-lab address is unreachable, as in the lab's
namespace), put the lab's addresses on ``lo``, and write the scenario's ``/etc/hosts``, ``/etc/resolv.conf``
and trust store - for real, since there is no private mount namespace to hide them in.

That would wreck a real machine, so in-place mode runs only when it is asked for (``LAB_IN_PLACE=1``, which
the routing-lab image sets) *and* the process finds itself in a container an engine made (podman, Docker,
Kubernetes). Anything else is refused with one line. One lab at a time per container (a lock in /run):
two would fight over the same addresses and files.

``lab serve`` in a container (one learner's browser terminal per pod) needs the pod's interface for the
terminal, so it sets ``LAB_IN_PLACE_TERMINAL=PORT``: the interfaces stay up, but their routes move to a
table of their own (:data:`TERMINAL_TABLE`) that only TCP from that port consults (a policy rule). The
terminal's replies still find the browser; anything the learner's lab sends elsewhere finds no route
("Network is unreachable", as in a namespace of the lab's own). The pod's NetworkPolicy is the outer fence.

The reading of the machine is a :class:`Probe` (plain values), so every decision is a pure function.
"""

from __future__ import annotations

import fcntl
import os
import shutil
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lab.errors import InPlaceRefused

FLAG = "LAB_IN_PLACE"
TERMINAL = "LAB_IN_PLACE_TERMINAL"  # a TCP port whose traffic may still use the container's interfaces
TERMINAL_TABLE = "7681"  # the routing table holding the container's own routes, for that port only
TERMINAL_RULE_PRIORITY = "100"
# Words `ip route show` prints that `ip route add` does not take (state, not configuration).
QUIET: dict[str, Any] = {"capture_output": True, "text": True, "check": False}
ROUTE_STATE = frozenset({"linkdown", "dead", "offload", "offload_failed", "trap", "rt_offload", "rt_trap"})
CAP_NET_ADMIN = 12  # bit in /proc/self/status CapEff (linux/capability.h)
LOCK = "run/routing-lab-in-place.lock"
# cgroup paths that container engines create (cgroup v1, or v2 without a cgroup namespace).
CGROUP_MARKERS = ("kubepods", "/docker/", "/docker-", "/libpod-", "/crio-", "cri-containerd-", "/containerd/")
# The `container` variable of application-container engines. LXC and systemd-nspawn set it too, but theirs
# are whole machines people keep, not throwaway containers.
ENGINES = ("podman", "docker", "oci", "crio")
IMAGE_COMMAND = "podman run --rm -it --network none --cap-add NET_ADMIN routing-lab"  # docker: the same

_lock_fd: int | None = None


@dataclass(frozen=True, slots=True)
class Probe:
    """What the decisions read from the machine."""

    environ: Mapping[str, str]
    markers: frozenset[str]  # which of /run/.containerenv, /.dockerenv exist
    cgroup: str  # /proc/self/cgroup
    cap_eff: int  # /proc/self/status CapEff

    @classmethod
    def read(cls, root: Path = Path("/"), environ: Mapping[str, str] = os.environ) -> Probe:
        markers = frozenset(m for m in ("/run/.containerenv", "/.dockerenv") if (root / m.lstrip("/")).exists())
        return cls(
            environ=dict(environ),
            markers=markers,
            cgroup=_read(root / "proc/self/cgroup"),
            cap_eff=effective_caps(_read(root / "proc/self/status")),
        )


def _read(path: Path) -> str:
    try:
        return path.read_text()
    except OSError:
        return ""


def requested(environ: Mapping[str, str]) -> bool:
    return environ.get(FLAG, "").strip().lower() in ("1", "yes", "true")


def effective_caps(status: str) -> int:
    """The CapEff mask from the text of /proc/PID/status (0 if absent)."""
    for line in status.splitlines():
        if line.startswith("CapEff:"):
            return int(line.split(":", 1)[1].strip(), 16)
    return 0


def container_evidence(probe: Probe) -> str | None:
    """The first sign that this process runs in a container an engine made, in words; None if there is none."""
    if "/run/.containerenv" in probe.markers:
        return "podman's /run/.containerenv"
    if probe.environ.get("container") in ENGINES:
        return f"container={probe.environ['container']}"
    if probe.environ.get("KUBERNETES_SERVICE_HOST"):
        return "a Kubernetes pod (KUBERNETES_SERVICE_HOST)"
    if "/.dockerenv" in probe.markers:
        return "Docker's /.dockerenv"
    for marker in CGROUP_MARKERS:
        if marker in probe.cgroup:
            return f"a container cgroup ({marker.strip('/-')})"
    return None


def check(probe: Probe) -> str:
    """Why in-place mode may run here (the evidence), or :class:`InPlaceRefused` saying why not."""
    evidence = container_evidence(probe)
    if evidence is None:
        raise InPlaceRefused(
            f"{FLAG}=1 would rewrite this machine's /etc/hosts, /etc/resolv.conf and trust store, and this is "
            "not a container (no /run/.containerenv, /.dockerenv, container= or Kubernetes sign): unset "
            f"{FLAG} to give the lab a namespace of its own, or run the image: {IMAGE_COMMAND}"
        )
    if not probe.cap_eff & (1 << CAP_NET_ADMIN):
        raise InPlaceRefused(
            f"in-place mode ({evidence}) needs NET_ADMIN to put the lab's addresses on lo: add --cap-add "
            "NET_ADMIN to podman/docker run, or capabilities.add [NET_ADMIN] in a Kubernetes pod"
        )
    return evidence


def other_links(ip_link_output: str) -> list[str]:
    """Interface names from ``ip -o link show``, except ``lo`` (``eth0@if6`` -> ``eth0``)."""
    names = []
    for line in ip_link_output.splitlines():
        parts = line.split(":", 2)
        if len(parts) == 3:
            name = parts[1].strip().split("@", 1)[0]
            if name and name != "lo":
                names.append(name)
    return names


def enter(probe: Probe | None = None, root: Path = Path("/")) -> str:
    """Check, lock, and cut the container off: only ``lo`` stays up (or, for ``lab serve``, the other links
    stay up for the terminal's port only). Returns the container evidence."""
    probe = probe if probe is not None else Probe.read(root)
    evidence = check(probe)
    port = terminal_port(probe.environ)
    hold_lock(root / LOCK)
    links = other_links(_ip("-o", "link", "show"))
    if port is None:
        for name in links:
            _ip("link", "set", "dev", name, "down")
    else:
        fence(links, port)
    _ip("link", "set", "dev", "lo", "up")
    return evidence


def terminal_port(environ: Mapping[str, str]) -> int | None:
    """The port of ``$LAB_IN_PLACE_TERMINAL`` (None if unset), or :class:`InPlaceRefused` for a bad value."""
    text = environ.get(TERMINAL, "").strip()
    if not text:
        return None
    if not text.isdigit() or not 1 <= int(text) <= 65535:
        raise InPlaceRefused(f"{TERMINAL}={text!r}: give the TCP port of lab serve's terminal (1-65535)")
    return int(text)


def route_words(line: str) -> list[str]:
    """A line of ``ip route show`` as arguments that add or delete the same route (state words dropped)."""
    words = line.split()
    kept: list[str] = []
    skip = False
    for word in words:
        if skip:
            skip = False
        elif word == "expires":  # an IPv6 route learnt from a router advertisement: its lifetime, not a key
            skip = True
        elif word not in ROUTE_STATE:
            kept.append(word)
    return kept


def routes_of(ip_route_output: str, links: list[str]) -> list[list[str]]:
    """The routes through ``links``, direct ones first (a gateway route needs its gateway reachable)."""
    routes = []
    for line in ip_route_output.splitlines():
        words = route_words(line)
        if "dev" in words[:-1] and words[words.index("dev") + 1] in links:
            routes.append(words)
    return sorted(routes, key=lambda words: "via" in words)


def fence(links: list[str], port: int) -> None:
    """Keep ``links`` up for TCP from ``port`` only: their routes move to :data:`TERMINAL_TABLE`.

    The copy and the rule come first, the removal from ``main`` last: if anything fails, the terminal keeps
    its way out (the lab refuses to start instead). ``ipproto 6`` is TCP by number: a container may have no
    /etc/protocols for ``ip`` to read the name from.
    """
    for family in ("-4", "-6"):
        listed = subprocess.run(["ip", family, "route", "show", "table", "main"], **QUIET)
        routes = routes_of(listed.stdout, links)  # (no IPv6 in the kernel: no output, nothing to move)
        if not routes:
            continue
        for words in routes:  # `add`, not `replace`: two links may each have a route to fe80::/64
            added = subprocess.run(["ip", family, "route", "add", *words, "table", TERMINAL_TABLE], **QUIET)
            if added.returncode != 0 and "File exists" not in added.stderr:  # (moved by an earlier lab)
                raise InPlaceRefused(f"ip route add {' '.join(words)}: {added.stderr.strip()}")
        subprocess.run(["ip", family, "rule", "del", "priority", TERMINAL_RULE_PRIORITY], **QUIET)
        rule = ("rule", "add", "priority", TERMINAL_RULE_PRIORITY, "ipproto", "6", "sport", str(port))
        _ip(family, *rule, "lookup", TERMINAL_TABLE)
        for words in reversed(routes):
            _ip(family, "route", "del", *words, "table", "main")


def hold_lock(path: Path) -> None:
    """Hold an exclusive lock on ``path`` for the life of this process, or refuse: one lab per container."""
    global _lock_fd
    if _lock_fd is not None:
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        raise InPlaceRefused(
            "another lab is already running in this container (in-place mode runs one lab per container: "
            "they would share lo's addresses and /etc/hosts): end it, or start another container"
        ) from None
    _lock_fd = fd


def install_etc(staged: Path, root: Path = Path("/")) -> None:
    """Copy the staged ``hosts``, ``resolv.conf`` and ``certs/`` over the container's own.

    Files are rewritten in place, not replaced: engines bind-mount /etc/hosts and /etc/resolv.conf.
    """
    etc = root / "etc"
    for name in ("hosts", "resolv.conf"):
        (etc / name).write_bytes((staged / name).read_bytes())
    certs = etc / "ssl" / "certs"
    certs.mkdir(parents=True, exist_ok=True)
    for old in certs.iterdir():
        if old.is_dir() and not old.is_symlink():
            shutil.rmtree(old)
        else:
            old.unlink()
    for new in (staged / "certs").iterdir():
        if new.is_symlink():
            (certs / new.name).symlink_to(os.readlink(new))
        else:
            shutil.copyfile(new, certs / new.name)


def _ip(*args: str) -> str:
    result = subprocess.run(["ip", *args], capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise InPlaceRefused(f"ip {' '.join(args)}: {result.stderr.strip()} (in-place mode needs NET_ADMIN)")
    return result.stdout
