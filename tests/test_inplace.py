"""In-place mode's guards and the "cannot run here" diagnosis, on fake machines (pure functions).

The in-place mode itself runs in the image: tests/test_image.py (``make test-image``).
"""

from __future__ import annotations

import fcntl
import os
from pathlib import Path

import pytest

from lab.apps import cli
from lab.errors import InPlaceRefused, NamespaceUnavailable
from lab.runtime import inplace, netns
from lab.runtime.unavailable import HostFacts, explain

ALL_CAPS = (1 << 41) - 1
HOST_CGROUP = "0::/user.slice/user-1000.slice/session-2.scope\n"


def probe(*, environ: dict[str, str] | None = None, markers: tuple[str, ...] = (), cgroup: str = HOST_CGROUP,
          caps: int = ALL_CAPS) -> inplace.Probe:  # fmt: skip
    return inplace.Probe(
        environ={"LAB_IN_PLACE": "1", **(environ or {})}, markers=frozenset(markers), cgroup=cgroup, cap_eff=caps
    )


@pytest.mark.parametrize(
    ("fake", "evidence"),
    [
        (probe(markers=("/run/.containerenv",)), "podman's /run/.containerenv"),
        (probe(markers=("/.dockerenv",)), "Docker's /.dockerenv"),
        (probe(environ={"container": "podman"}), "container=podman"),
        (probe(environ={"KUBERNETES_SERVICE_HOST": "10.96.0.1"}), "a Kubernetes pod (KUBERNETES_SERVICE_HOST)"),
        (probe(cgroup="4:memory:/kubepods/burstable/pod1234/abcd\n"), "a container cgroup (kubepods)"),
        (probe(cgroup="0::/system.slice/docker-0123abcd.scope\n"), "a container cgroup (docker)"),
        # Not throwaway containers, or not containers at all:
        (probe(), None),
        (probe(environ={"container": "lxc"}), None),
        (probe(environ={"container": "systemd-nspawn"}), None),
        (probe(cgroup="0::/system.slice/docker.service\n"), None),  # the Docker daemon's own cgroup
    ],
)
def test_container_evidence(fake: inplace.Probe, evidence: str | None) -> None:
    assert inplace.container_evidence(fake) == evidence


def test_in_place_refuses_outside_a_container() -> None:
    with pytest.raises(InPlaceRefused) as caught:
        inplace.check(probe(environ={"container": "lxc"}))
    message = str(caught.value)
    assert "\n" not in message
    assert "LAB_IN_PLACE=1 would rewrite this machine's /etc/hosts" in message
    assert "not a container" in message


def test_in_place_needs_net_admin() -> None:
    without = ALL_CAPS & ~(1 << inplace.CAP_NET_ADMIN)
    with pytest.raises(InPlaceRefused, match=r"needs NET_ADMIN .* --cap-add NET_ADMIN"):
        inplace.check(probe(markers=("/run/.containerenv",), caps=without))
    assert inplace.check(probe(markers=("/run/.containerenv",), caps=1 << inplace.CAP_NET_ADMIN)) == (
        "podman's /run/.containerenv"
    )


def test_effective_caps_from_proc_status() -> None:
    default = "Name:\tpython3\nCapInh:\t0000000000000000\nCapEff:\t00000000a80425fb\nCapBnd:\t00000000a80425fb\n"
    assert inplace.effective_caps(default) == 0xA80425FB  # podman run's default set
    assert not inplace.effective_caps(default) & (1 << inplace.CAP_NET_ADMIN)
    added = "CapEff:\t00000000a80435fb\n"  # podman run --cap-add NET_ADMIN
    assert inplace.effective_caps(added) & (1 << inplace.CAP_NET_ADMIN)
    assert inplace.effective_caps("Name:\tx\n") == 0


@pytest.mark.parametrize("value", ["1", "yes", "TRUE"])
def test_requested(value: str) -> None:
    assert inplace.requested({"LAB_IN_PLACE": value})


@pytest.mark.parametrize("environ", [{}, {"LAB_IN_PLACE": ""}, {"LAB_IN_PLACE": "0"}])
def test_not_requested(environ: dict[str, str]) -> None:
    assert not inplace.requested(environ)


def test_lab_refuses_in_place_on_a_real_machine(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """The whole path: `lab run` with LAB_IN_PLACE=1 outside a container: one line, exit 3, nothing touched."""
    touched: list[tuple[str, ...]] = []
    monkeypatch.setenv("LAB_IN_PLACE", "1")
    monkeypatch.setattr(netns, "_entered", False)
    monkeypatch.setattr(inplace.Probe, "read", classmethod(lambda cls, root=None: probe()))
    monkeypatch.setattr(inplace, "_ip", lambda *args: touched.append(args) or "")
    monkeypatch.setattr(inplace, "install_etc", lambda *args: touched.append(("install_etc",)))
    assert cli.main(["run", "proxy-resolve"]) == 3
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert err.startswith("lab: LAB_IN_PLACE=1 would rewrite this machine's /etc/hosts")
    assert touched == []


def test_other_links() -> None:
    output = (
        "1: lo: <LOOPBACK,UP,LOWER_UP> mtu 65536 qdisc noqueue state UNKNOWN mode DEFAULT\\    link/loopback 00:00\n"
        "2: eth0@if6: <BROADCAST,MULTICAST,UP,LOWER_UP> mtu 1500 qdisc noqueue state UP\\    link/ether 2a:f9\n"
        "3: wg0: <POINTOPOINT,NOARP,UP,LOWER_UP> mtu 1420 qdisc noqueue state UNKNOWN\\    link/none\n"
    )
    assert inplace.other_links(output) == ["eth0", "wg0"]


def test_install_etc_rewrites_files_in_place(tmp_path: Path) -> None:
    root, staged = tmp_path / "root", tmp_path / "staged"
    (root / "etc/ssl/certs/old-dir").mkdir(parents=True)
    (root / "etc/ssl/certs/old.pem").write_text("public CA")
    (root / "etc/ssl/certs/1234abcd.0").symlink_to("old.pem")
    hosts = root / "etc/hosts"
    hosts.write_text("127.0.0.1 localhost\n10.0.0.5 real-server\n")
    engines_copy = tmp_path / "engine-hosts"  # what an engine bind-mounts: the same file, another name
    os.link(hosts, engines_copy)
    (root / "etc/resolv.conf").write_text("nameserver 10.255.255.53\n")
    (staged / "certs").mkdir(parents=True)
    (staged / "hosts").write_text("198.0.8.245 mydomain\n")
    (staged / "resolv.conf").write_text("nameserver 127.0.0.1\n")
    (staged / "certs/ca-certificates.crt").write_text("lab root")
    (staged / "certs/5678.0").symlink_to("ca-certificates.crt")

    inplace.install_etc(staged, root)

    assert hosts.read_text() == "198.0.8.245 mydomain\n"
    assert engines_copy.read_text() == "198.0.8.245 mydomain\n"  # rewritten, not replaced
    assert (root / "etc/resolv.conf").read_text() == "nameserver 127.0.0.1\n"
    certs = root / "etc/ssl/certs"
    assert sorted(p.name for p in certs.iterdir()) == ["5678.0", "ca-certificates.crt"]
    assert os.readlink(certs / "5678.0") == "ca-certificates.crt"
    assert (certs / "5678.0").read_text() == "lab root"


def test_one_lab_per_container(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(inplace, "_lock_fd", None)
    lock = tmp_path / "run/routing-lab-in-place.lock"
    lock.parent.mkdir()
    other = os.open(lock, os.O_RDWR | os.O_CREAT)  # another lab's lock
    fcntl.flock(other, fcntl.LOCK_EX)
    try:
        with pytest.raises(InPlaceRefused, match="another lab is already running in this container"):
            inplace.hold_lock(lock)
    finally:
        os.close(other)
    inplace.hold_lock(lock)  # free now
    assert inplace._lock_fd is not None
    os.close(inplace._lock_fd)


# --- why the lab cannot run here ------------------------------------------------------------------------

FAILED = "ip link set lo up: RTNETLINK answers: Operation not permitted"


def facts(platform: str = "linux", uid: int = 1000, container: str | None = None, **sysctls: str) -> HostFacts:
    return HostFacts(platform, uid, {k.replace("__", "/"): v for k, v in sysctls.items()}, container)


def test_ubuntu_apparmor_restriction_named_with_the_fix() -> None:
    message = explain(FAILED, facts(kernel__apparmor_restrict_unprivileged_userns="1"))
    assert message.startswith(FAILED + ": AppArmor restricts unprivileged user namespaces")
    assert "kernel.apparmor_restrict_unprivileged_userns=1" in message
    assert "sudo deploy/apparmor/install.sh" in message
    assert "podman run --rm -it --network none --cap-add NET_ADMIN routing-lab (build it once" in message
    assert "\n" not in message


def test_apparmor_restriction_does_not_apply_to_root() -> None:
    message = explain(FAILED, facts(uid=0, kernel__apparmor_restrict_unprivileged_userns="1"))
    assert "AppArmor" not in message
    assert message == f"{FAILED}: {netns.ALTERNATIVE}"


@pytest.mark.parametrize(("platform", "name"), [("darwin", "macOS"), ("win32", "Windows")])
def test_macos_and_windows_get_the_container_command(platform: str, name: str) -> None:
    message = explain("this is " + platform, facts(platform=platform))
    assert message.startswith(f"this is {name}, and the lab runs real curl inside Linux network namespaces")
    assert "podman run --rm -it --network none --cap-add NET_ADMIN routing-lab (build it once" in message


@pytest.mark.parametrize(
    ("sysctls", "expected"),
    [
        ({"kernel__unprivileged_userns_clone": "0"}, "sudo sysctl kernel.unprivileged_userns_clone=1"),
        ({"user__max_user_namespaces": "0"}, "sudo sysctl user.max_user_namespaces=15000"),
        ({"kernel__apparmor_restrict_unprivileged_userns": "0"}, netns.ALTERNATIVE),
    ],
)
def test_other_userns_switches(sysctls: dict[str, str], expected: str) -> None:
    assert explain(FAILED, facts(**sysctls)).endswith(expected)


def test_in_a_container_without_in_place() -> None:
    message = explain("unshare(network, mount) failed (Operation not permitted)", facts(uid=0, container="x"))
    assert "this is a container (x)" in message
    assert "LAB_IN_PLACE=1 and --cap-add NET_ADMIN" in message


def test_host_facts_read_from_proc(tmp_path: Path) -> None:
    sysctl = tmp_path / "proc/sys/kernel/apparmor_restrict_unprivileged_userns"
    sysctl.parent.mkdir(parents=True)
    sysctl.write_text("1\n")
    (tmp_path / "run").mkdir()
    (tmp_path / "run/.containerenv").write_text("")
    read = HostFacts.read(tmp_path)
    assert read.sysctls == {"kernel/apparmor_restrict_unprivileged_userns": "1"}
    assert read.container == "podman's /run/.containerenv"


def test_enter_explains_the_failure(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse() -> None:
        raise NamespaceUnavailable(FAILED)

    monkeypatch.delenv("LAB_IN_PLACE", raising=False)
    monkeypatch.setattr(netns, "_entered", False)
    monkeypatch.setattr(netns, "_unshare", refuse)
    monkeypatch.setattr(
        HostFacts, "read", classmethod(lambda cls: facts(kernel__apparmor_restrict_unprivileged_userns="1"))
    )
    with pytest.raises(NamespaceUnavailable, match=r"^ip link set lo up: .*: AppArmor restricts"):
        netns.enter()
    assert not netns._entered
