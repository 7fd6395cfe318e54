"""Why the lab cannot make its namespace on this machine, and the one thing to do about it.

:func:`explain` is pure: it reads a :class:`HostFacts` (the platform, our uid, the sysctls that decide
whether unprivileged user namespaces work, any container evidence), so each machine's answer is tested with
fake values. :meth:`HostFacts.read` takes them from the real ``/proc``.
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from lab.runtime import inplace

SYSCTLS = (
    "kernel/apparmor_restrict_unprivileged_userns",  # Ubuntu 23.10+: 1 by default
    "kernel/unprivileged_userns_clone",  # Debian before 11, some hardened kernels: 0
    "user/max_user_namespaces",  # RHEL 7, some hardened kernels: 0
)
IMAGE_HOW = (
    f"run the lab's container image instead: {inplace.IMAGE_COMMAND} (build it once: make image, or "
    "podman build -t routing-lab .; docker works the same; see docs/workshop-at-scale.md)"
)
GENERIC = (
    "the lab needs Linux network namespaces to run real curl against its hosts "
    "(run as root, or enable unprivileged user namespaces: sysctl kernel.unprivileged_userns_clone=1)"
)


@dataclass(frozen=True, slots=True)
class HostFacts:
    platform: str  # sys.platform
    uid: int
    sysctls: Mapping[str, str]  # name with slashes (as under /proc/sys) -> value; absent if not there
    container: str | None  # inplace.container_evidence()

    @classmethod
    def read(cls, root: Path = Path("/")) -> HostFacts:
        sysctls = {}
        for name in SYSCTLS:
            with contextlib.suppress(OSError):
                sysctls[name] = (root / "proc/sys" / name).read_text().strip()
        probe = inplace.Probe.read(root)
        return cls(sys.platform, os.geteuid(), sysctls, inplace.container_evidence(probe))


def explain(failure: str, facts: HostFacts) -> str:
    """One line: what failed, why on this machine, and what to do."""
    name = {"darwin": "macOS", "win32": "Windows", "cygwin": "Windows"}.get(facts.platform, facts.platform)
    if not facts.platform.startswith("linux"):
        return f"this is {name}, and the lab runs real curl inside Linux network namespaces: {IMAGE_HOW}"
    if facts.container is not None:
        return (
            f"{failure}: this is a container ({facts.container}), where making namespaces needs CAP_SYS_ADMIN; "
            f"let the lab use the container's own instead: {inplace.FLAG}=1 and --cap-add NET_ADMIN "
            "(the routing-lab image sets the variable)"
        )
    if facts.uid != 0:
        if facts.sysctls.get("kernel/apparmor_restrict_unprivileged_userns") == "1":
            return (
                f"{failure}: AppArmor restricts unprivileged user namespaces here "
                "(sysctl kernel.apparmor_restrict_unprivileged_userns=1, Ubuntu's default since 24.04), so the "
                "lab's namespace has no rights; allow the lab: sudo deploy/apparmor/install.sh, or run as root, "
                f"or {IMAGE_HOW}"
            )
        if facts.sysctls.get("kernel/unprivileged_userns_clone") == "0":
            return (
                f"{failure}: unprivileged user namespaces are off (sysctl kernel.unprivileged_userns_clone=0); "
                "run as root, or: sudo sysctl kernel.unprivileged_userns_clone=1"
            )
        if facts.sysctls.get("user/max_user_namespaces") == "0":
            return (
                f"{failure}: user namespaces are off (sysctl user.max_user_namespaces=0); run as root, "
                "or: sudo sysctl user.max_user_namespaces=15000"
            )
    return f"{failure}: {GENERIC}"
