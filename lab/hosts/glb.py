"""Placeholder until this host kind lands: accepts settings, serves like a plain backend."""

from __future__ import annotations

import trio

from ..scenario import Host, Scenario
from ..world import World
from . import backend


def validate(host: Host, scenario: Scenario) -> None:
    """Accept anything for now."""


async def serve(host: Host, world: World, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
    await backend.serve(host, world, task_status=task_status)
