"""The container image, built here with podman, runs the lab in place (``make test-image``; slow, so the
``container`` marker keeps it out of ``make test``). Also the Kubernetes manifests, under ``podman kube play``.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from lab.model import scenario
from lab.paths import ROOT

pytestmark = pytest.mark.container

IMAGE = "localhost/routing-lab:latest"
IN_PLACE = ("--rm", "--network", "none", "--cap-add", "NET_ADMIN")
KUBE_CAPS = ("--rm", "--network", "none", "--cap-drop", "ALL", "--cap-add", "NET_ADMIN,NET_BIND_SERVICE")


def podman(*args: str, stdin: str = "", timeout: float = 300) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "CONTAINERS_CONF": os.environ.get("CONTAINERS_CONF", str(ROOT / "deploy/containers.conf"))}
    return subprocess.run(
        ["podman", *args], input=stdin, capture_output=True, text=True, timeout=timeout, env=env, check=False
    )


@pytest.fixture(scope="module")
def image() -> str:
    """Build (or reuse, when nothing changed) the image as ``make image`` does."""
    built = subprocess.run([str(ROOT / "deploy/image.sh")], capture_output=True, text=True, check=False)
    assert built.returncode == 0, built.stderr[-2000:]
    assert shutil.which("podman")
    return IMAGE


def test_lab_run_all_passes_in_the_image(image: str) -> None:
    done = podman("run", *IN_PLACE, image, "lab", "run", "--all", "--json")
    assert done.returncode == 0, done.stderr[-2000:]
    steps = [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]
    assert len(steps) == sum(len(scenario.load(p).steps) for p in scenario.catalog())
    assert [s for s in steps if not s["ok"]] == []


def test_the_kubernetes_capabilities_are_enough(image: str) -> None:
    """The pods drop every capability but NET_ADMIN and NET_BIND_SERVICE (deploy/kubernetes/learner.yaml)."""
    done = podman("run", *KUBE_CAPS, image, "lab", "run", "seed-story")
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    assert "8/8 steps behaved as expected" in done.stdout


def test_the_default_command_is_the_workshop_shell_and_nothing_leaves(image: str) -> None:
    """On podman's default network: the shell explains curl, and only lo is up while the lab runs."""
    typed = "curl -sS https://mydomain\nip -o link show up\nexit\n"
    done = podman("run", "--rm", "-i", "--cap-add", "NET_ADMIN", image, stdin=typed)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "outcome: curl exit 35" in done.stdout
    assert "lesson: Client DNS decided" in done.stdout
    up = [line.split(":")[1].strip() for line in done.stdout.splitlines() if line[:1].isdigit()]
    assert up == ["lo"]


def test_in_place_without_net_admin_is_one_clear_line(image: str) -> None:
    done = podman("run", "--rm", "--network", "none", image, "lab", "run", "public-dns")
    assert done.returncode == 3
    assert done.stderr.count("\n") == 1
    assert done.stderr.startswith("lab: in-place mode (podman's /run/.containerenv) needs NET_ADMIN")


@pytest.fixture
def played(image: str, tmp_path: Path) -> Iterator[Path]:
    """Two learners' pods from the Kubernetes manifests, started by podman kube play, removed afterwards."""
    manifest = tmp_path / "learners.yaml"
    rendered = subprocess.run(
        [str(ROOT / "deploy/kubernetes/learners.sh"), "2", image], capture_output=True, text=True, check=True
    )
    manifest.write_text(rendered.stdout)
    started = podman("kube", "play", "--network", "none", str(manifest))
    try:
        assert started.returncode == 0, started.stderr
        yield manifest
    finally:
        down = podman("kube", "down", str(manifest))
        assert down.returncode == 0, down.stderr


def test_kube_play_runs_a_scenario_in_a_learners_pod(played: Path) -> None:
    done = podman("exec", "learner-1-lab", "lab", "run", "proxy-resolve")
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    assert "3/3 steps behaved as expected" in done.stdout
    mine = podman("exec", "learner-1-lab", "cat", "/etc/hosts")
    theirs = podman("exec", "learner-2-lab", "cat", "/etc/hosts")
    assert "mydomain" in mine.stdout
    assert "mydomain" not in theirs.stdout  # one learner's lab changes nothing in another's pod
    caps = podman("exec", "learner-2-lab", "grep", "CapEff", "/proc/1/status")
    assert caps.stdout.split()[1] == f"{(1 << 12) | (1 << 10):016x}"  # NET_ADMIN and NET_BIND_SERVICE only
