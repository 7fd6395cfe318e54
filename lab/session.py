"""Open a lab: certificates, the namespace's addresses and files, every host serving, a curl runner."""

from __future__ import annotations

import signal
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import trio

from lab.hosts import run_world
from lab.model.outcome import CurlBuild
from lab.model.scenario import Scenario
from lab.runtime import curlbin, faults, netns
from lab.runtime.pki import Pki
from lab.runtime.runner import Runner
from lab.runtime.timeline import Timeline
from lab.runtime.world import World


@asynccontextmanager
async def open_lab(
    scenario: Scenario, *, timeline: Timeline | None = None, curl: CurlBuild | None = None
) -> AsyncIterator[Runner]:
    """Start ``scenario``'s world; yields a :class:`Runner` once every host is listening.

    ``curl`` is the binary ``curl`` means in commands (default: ``$LAB_CURL``, else ``curl`` on PATH).
    The caller must already be inside the lab namespace (:func:`lab.netns.enter`, before ``trio.run``).
    """
    if curl is None:
        curl = await trio.to_thread.run_sync(curlbin.choose)
    pki = Pki()
    netns.configure(scenario, pki.trust_bundle)
    world = World(scenario, timeline if timeline is not None else Timeline(), pki)
    runner = Runner(world, curl)
    try:
        with faults.reported(world.timeline):
            async with trio.open_nursery() as nursery:
                await nursery.start(run_world, world)
                yield runner
                nursery.cancel_scope.cancel()
    finally:
        runner.cleanup()


async def cancel_on_terminate(scope: trio.CancelScope, *, task_status: trio.TaskStatus[None]) -> None:
    """SIGTERM/SIGHUP end the lab as Ctrl-C does: hosts stop, child processes are killed.

    Once one has arrived, more are ignored until the process ends: a closed terminal and a dead parent
    (``lab serve``) each send SIGHUP, and a second one must not cut the clean-up short. (The receiver
    restores, on leaving, the handlers in place when it opened: those are SIG_IGN, and put back only if
    the lab ends without a signal.)
    """
    terminating = (signal.SIGTERM, signal.SIGHUP)
    before = {signum: signal.signal(signum, signal.SIG_IGN) for signum in terminating}
    signalled = False
    try:
        with trio.open_signal_receiver(*terminating) as signals:
            task_status.started()
            async for _ in signals:
                signalled = True
                scope.cancel()
                return
    finally:
        if not signalled:
            for signum, handler in before.items():
                signal.signal(signum, handler)
