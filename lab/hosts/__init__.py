"""Host kinds: one module each, registered by name.

A kind module provides::

    def validate(host: Host, scenario: Scenario) -> None      # raise host.source.error(key, message)
    async def serve(host: Host, world: World, *, task_status) -> None

``validate`` runs when a scenario is loaded (so ``lab check`` catches bad settings with file:line);
``serve`` listens on the host's real address via :meth:`lab.world.World.serve_tcp`.
"""

from __future__ import annotations

import importlib
from types import ModuleType
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ..scenario import Host, Scenario

MODULES = {
    "glb": "glb",
    "backend": "backend",
    "reset": "reset",
    "http-proxy": "http_proxy",
    "socks5": "socks5",
}


def kind_module(kind: str) -> ModuleType:
    return importlib.import_module(f"{__name__}.{MODULES[kind]}")


def validate_settings(host: Host, scenario: Scenario) -> None:
    kind_module(host.kind).validate(host, scenario)


def check_keys(host: Host, allowed: set[str]) -> None:
    """Reject settings a kind does not know, naming the ones it does."""
    for key in host.settings:
        if key not in allowed:
            expected = ", ".join(sorted(allowed)) or "none"
            raise host.source.error(
                (key,), f"unknown setting '{key}' for a {host.kind} host (expected one of: {expected})"
            )
