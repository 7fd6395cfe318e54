"""Test set-up: the whole test process moves into a lab namespace once, before any thread starts.

Real-curl tests use the ``lab`` fixture (or mark themselves ``netns``); where namespaces are unavailable
(or ``LAB_NO_NETNS=1`` says to act so) they are skipped with the reason, which ``-ra`` prints in the summary.
Tests that render in headless Chromium mark themselves ``browser`` and are skipped, with the reason, where
it is not installed. tests/test_skips.py checks both in a pytest run of its own.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from pathlib import Path

import pytest

from lab.errors import NamespaceUnavailable
from lab.model import scenario
from lab.model.outcome import CurlBuild
from lab.paths import ROOT
from lab.runtime import curlbin, netns
from lab.runtime.runner import Runner
from lab.session import open_lab

try:
    netns.enter()
    NETNS_ERROR: str | None = None
except NamespaceUnavailable as exc:
    NETNS_ERROR = str(exc)


CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
# Output widths are the lab's own default (120 columns when not on a terminal) or what a test sets: never the
# width of whoever runs the tests (a terminal's $COLUMNS, or the 80 pytest-xdist gives its workers).
os.environ.pop("COLUMNS", None)
os.environ.pop("LINES", None)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    no_netns = pytest.mark.skip(reason=f"real curl needs a lab namespace: {NETNS_ERROR}")
    no_browser = pytest.mark.skip(
        reason="chromium is not installed (make test installs the Debian package when run as root)"
    )
    for item in items:
        if NETNS_ERROR is not None and ("netns" in item.keywords or "lab" in getattr(item, "fixturenames", ())):
            item.add_marker(no_netns)
        elif CHROMIUM is None and "browser" in item.keywords:
            item.add_marker(no_browser)


LabFactory = Callable[[str], AbstractAsyncContextManager[Runner]]

CURL8 = ROOT / ".curl" / "8" / "curl"  # `make curl8` (make test fetches it on the first run)


@pytest.fixture
def curl8() -> CurlBuild:
    """Debian's curl 8 from .curl/8, or skip the test with the reason the fetch gave (offline, not Debian ...).

    A fixture, so the skip happens before an async test starts (its reason then reaches the summary)."""
    if not CURL8.exists():
        why = CURL8.parent.with_suffix(".unavailable")
        reason = why.read_text().strip() if why.exists() else "run `make curl8` (make test does it on its first run)"
        pytest.skip(f"curl 8 is not in .curl/8: {reason}")
    return curlbin.probe(str(CURL8))


def curls() -> list[CurlBuild]:
    """The curls every catalog test runs with: the default one, and curl 8 where it could be fetched."""
    default = curlbin.choose()
    return [default] + ([curlbin.probe(str(CURL8))] if CURL8.exists() and str(CURL8) != default.path else [])


@pytest.fixture
def lab() -> LabFactory:
    """``async with lab("seed") as runner: result = await runner.run(["curl", ...])``"""

    @asynccontextmanager
    async def start(name: str) -> AsyncIterator[Runner]:
        async with open_lab(scenario.load(name)) as runner:
            yield runner

    return start


def run_lab(
    *args: str, stdin: str = "", env: dict[str, str] | None = None, timeout: float = 60, cwd: Path = ROOT
) -> subprocess.CompletedProcess[str]:
    """``python -m lab ARGS`` in a fresh process (its own namespace, like a user's), from the project root or
    from ``cwd`` (a copy of the lab: ``python -m`` then runs the copy's code)."""
    return subprocess.run(
        [sys.executable, "-m", "lab", *args],
        input=stdin,
        capture_output=True,
        text=True,
        cwd=cwd,
        timeout=timeout,
        env={**os.environ, **(env or {})},
        check=False,
    )
