"""Host kinds: one module each, registered by name, and :func:`run_world`, which starts them all.

A kind module provides::

    async def serve(host: Host, world: World, *, task_status) -> None

``serve`` listens on the host's real address via :meth:`lab.runtime.world.World.serve_tcp` and reads its
settings from ``host.settings`` (typed and checked by :mod:`lab.model.hostsettings` when the scenario
loaded). Modules are imported when a world starts, so loading a scenario never pulls in a TLS stack.
"""

from __future__ import annotations

import importlib
from collections.abc import Awaitable, Callable
from typing import Any

import trio

from lab.model.hostsettings import HOST_KINDS
from lab.runtime.world import World

MODULES: dict[str, str] = {
    kind: kind.replace("-", "_") for kind in HOST_KINDS
}  # "http-proxy" is lab/hosts/http_proxy.py

Serve = Callable[..., Awaitable[Any]]


def serve_function(kind: str) -> Serve:
    serve: Serve = importlib.import_module(f"{__name__}.{MODULES[kind]}").serve
    return serve


async def run_world(world: World, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
    """Start every host and report ready once all of them are listening."""
    async with trio.open_nursery() as nursery:
        for host in world.scenario.hosts.values():
            await nursery.start(serve_function(host.kind), host, world)
        task_status.started()
