"""Honest skips: on a machine without namespaces every real-curl test is skipped with the reason printed, and none
fails (README, Requirements).

A pytest run of its own with ``LAB_NO_NETNS=1``: :func:`lab.runtime.netns.enter` then refuses as it does where
unshare(2) is not allowed - in the conftest, in every ``lab`` a test starts, in every lab it opens. The run takes
the test files that can reach a lab (they open one, start ``lab``, or call the CLI); the others are pure.
A test that needs a namespace without saying so (no ``netns`` marker, no ``lab`` fixture) fails there.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from lab.errors import NamespaceUnavailable
from lab.paths import ROOT
from lab.runtime import netns, unavailable
from lab.runtime.unavailable import HostFacts

TESTS = Path(__file__).resolve().parent
REACHES_A_LAB = re.compile(r'open_lab|LabFactory|"-m", "lab"|run_lab|cli\.main|replay\(|netns|bin/lab|pty')


SWITCHED_OFF = unavailable.explain("unshare(network, mount) not tried: LAB_NO_NETNS is set", HostFacts.read())


def test_the_switch_makes_the_lab_act_as_if_namespaces_were_unavailable(monkeypatch: pytest.MonkeyPatch) -> None:
    """As where unshare(2) is refused: the same explanation of this machine, the same error."""
    monkeypatch.setattr(netns, "_entered", False)  # (this process entered one already)
    monkeypatch.setenv("LAB_NO_NETNS", "1")
    with pytest.raises(NamespaceUnavailable) as refused:
        netns.enter()
    assert str(refused.value) == SWITCHED_OFF


def test_without_namespaces_real_curl_tests_skip_with_the_reason_and_none_fails(tmp_path: Path) -> None:
    if os.environ.get("LAB_NO_NETNS"):
        pytest.skip("this is the namespace-less run already")
    files = [
        str(p.relative_to(ROOT))
        for p in sorted(TESTS.glob("test_*.py"))
        if p.name != Path(__file__).name and REACHES_A_LAB.search(p.read_text(encoding="utf-8"))
    ]
    outcomes = tmp_path / "outcomes.json"
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-rs", "-p", "no:cacheprovider", "-p", "tests.outcomes_plugin", *files],
        env={**os.environ, "LAB_NO_NETNS": "1", "LAB_OUTCOMES": str(outcomes)},
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    tests = json.loads(outcomes.read_text())
    assert [t for t, seen in tests.items() if seen["outcome"] == "failed"] == [], done.stdout[-6000:]
    assert done.returncode == 0, done.stdout[-3000:]
    reason = f"real curl needs a lab namespace: {SWITCHED_OFF}"
    needing = {t for t, seen in tests.items() if seen["netns"]}
    assert {t for t in needing if tests[t]["outcome"] != "skipped" or not tests[t]["reason"]} == set()
    by_reason = {t for t, seen in tests.items() if seen["reason"] == reason}  # (a skipif of its own may come first)
    assert by_reason <= needing
    whole_files = [f for f in files if "\npytestmark = pytest.mark.netns\n" in (ROOT / f).read_text(encoding="utf-8")]
    for file in whole_files:  # a file marked as a whole: each of its tests asked for a namespace
        in_file = {t for t in tests if t.startswith(f"{file}::")}
        assert in_file, file
        assert in_file <= needing, file
        assert in_file & by_reason, file
    printed = [line for line in done.stdout.splitlines() if line.startswith("SKIPPED [") and line.endswith(reason)]
    assert sum(int(line.split("[")[1].split("]")[0]) for line in printed) == len(by_reason)  # -rs printed them all


def test_without_chromium_the_render_test_skips_with_the_reason(tmp_path: Path) -> None:
    """A machine with namespaces but no Chromium: the one test that renders is skipped and says why."""
    if os.environ.get("LAB_NO_NETNS"):
        pytest.skip("this is the namespace-less run already")
    tools = tmp_path / "bin"  # what the lab needs on PATH, without chromium
    tools.mkdir()
    for tool in ("ip", "openssl", "curl"):
        found = shutil.which(tool)
        assert found is not None, tool
        (tools / tool).symlink_to(found)
    outcomes = tmp_path / "outcomes.json"
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-rs", "-p", "no:cacheprovider", "-p", "tests.outcomes_plugin",
         "tests/test_explain.py", "-m", "browser"],
        env={**os.environ, "PATH": f"{tools}:{Path(sys.executable).parent}", "LAB_OUTCOMES": str(outcomes)},
        cwd=ROOT, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout[-3000:]
    reason = "chromium is not installed (make test installs the Debian package when run as root)"
    tests = json.loads(outcomes.read_text())
    assert {t: (seen["outcome"], seen["reason"]) for t, seen in tests.items() if seen["outcome"]} == {
        "tests/test_explain.py::test_report_renders_offline_in_headless_chromium": ("skipped", reason)
    }
    printed = [line for line in done.stdout.splitlines() if line.startswith("SKIPPED [")]
    assert [re.sub(r":\d+: ", ": ", line) for line in printed] == [f"SKIPPED [1] tests/test_explain.py: {reason}"]
