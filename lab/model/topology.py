"""Topologies and scenarios: a topology is a world that scenarios share, with no steps of its own.

``lab up`` and ``lab exec`` work in either; ``lab run`` and ``lab check`` want a scenario, and when given a
topology (or an empty scenario) say what to do instead. Pure: reads the catalog's files, nothing else.
"""

from __future__ import annotations

import tomllib
from pathlib import Path

from lab.errors import ScenarioError
from lab.model.scenario import Scenario, catalog
from lab.paths import TOPOLOGY_DIR


def is_topology(path: Path) -> bool:
    """A world shared by scenarios (``scenarios/topologies/``): hosts and a client, no steps of its own."""
    return path.resolve().parent == TOPOLOGY_DIR.resolve()


def users_of(topology: str) -> list[str]:
    """The catalog scenarios built on ``topology`` (files that do not parse are left out)."""
    users = []
    for path in catalog():
        try:
            if tomllib.loads(path.read_text("utf-8")).get("topology") == topology:
                users.append(path.stem)
        except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError):
            continue
    return users


def require_steps(path: Path, loaded: Scenario) -> None:
    """``lab run`` and ``lab check`` want steps; a topology or an empty scenario gets a line saying what to do."""
    if loaded.steps:
        return
    if is_topology(path):
        users = ", ".join(users_of(loaded.name)) or "none yet"
        raise ScenarioError(
            loaded.path,
            None,
            f"{loaded.name} is a topology (a world without steps), not a scenario; scenarios that use it: {users}. "
            f"To type commands in it: lab up {loaded.name}",
        )
    raise ScenarioError(
        loaded.path,
        None,
        "no steps: a scenario needs at least one [[steps]] table with 'run' (a world without steps is a "
        "topology, and belongs in scenarios/topologies/)",
    )
