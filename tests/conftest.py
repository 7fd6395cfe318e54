"""Test set-up: the whole test process moves into a lab namespace once, before any thread starts.

Real-curl tests use the ``lab`` fixture (or mark themselves ``netns``); where namespaces are unavailable
they are skipped with the reason, which ``-ra`` prints in the summary.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager

import pytest

from lab.errors import NamespaceUnavailable
from lab.model import scenario
from lab.runtime import netns
from lab.runtime.runner import Runner
from lab.session import open_lab

try:
    netns.enter()
    NETNS_ERROR: str | None = None
except NamespaceUnavailable as exc:
    NETNS_ERROR = str(exc)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    if NETNS_ERROR is None:
        return
    skip = pytest.mark.skip(reason=f"real curl needs a lab namespace: {NETNS_ERROR}")
    for item in items:
        if "netns" in item.keywords or "lab" in getattr(item, "fixturenames", ()):
            item.add_marker(skip)


LabFactory = Callable[[str], AbstractAsyncContextManager[Runner]]


@pytest.fixture
def lab() -> LabFactory:
    """``async with lab("seed") as runner: result = await runner.run(["curl", ...])``"""

    @asynccontextmanager
    async def start(name: str) -> AsyncIterator[Runner]:
        async with open_lab(scenario.load(name)) as runner:
            yield runner

    return start
