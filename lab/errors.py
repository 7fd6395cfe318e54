"""One error hierarchy. Every message says what went wrong and what to do about it.

The CLI prints ``str(error)`` on one line and exits with ``error.exit_code``; no traceback reaches a learner.
"""

from __future__ import annotations


class LabError(Exception):
    """Base class: a problem the user can fix, reported in one line."""

    exit_code = 1


class SourceError(LabError):
    """A problem at a place in an input file. ``str()`` is ``file:line: what to do`` (``file: ...`` when the
    problem is the whole file); ``path``, ``line`` and ``message`` keep the parts for callers that list them."""

    exit_code = 2

    def __init__(self, path: str, line: int | None, message: str) -> None:
        self.path = path
        self.line = line
        self.message = message
        super().__init__(self.located)

    @property
    def located(self) -> str:
        where = f"{self.path}:{self.line}" if self.line else self.path
        return f"{where}: {self.message}"


class ScenarioError(SourceError):
    """A scenario or topology file is invalid. ``str()`` is ``file:line: what is expected``.

    A load reports every error it finds: the first is this error's own ``path``/``line``/``message``, the
    rest are in ``others``, and ``str()`` has one line per error.
    """

    def __init__(self, path: str, line: int | None, message: str, others: tuple[ScenarioError, ...] = ()) -> None:
        self.others = others
        super().__init__(path, line, message)

    def __str__(self) -> str:
        return "\n".join([self.located, *(str(o) for o in self.others)])

    @property
    def all(self) -> tuple[ScenarioError, ...]:
        return (self, *self.others)


class NamespaceUnavailable(LabError):
    """Linux network namespaces cannot be created here, so real curl cannot meet the lab's hosts."""

    exit_code = 3


class InPlaceRefused(NamespaceUnavailable):
    """In-place mode (the container's own namespace is the lab's) is not allowed or not possible here."""


class CommandError(LabError):
    """A command given to ``lab exec`` or a scenario step is not one the lab runs."""

    exit_code = 2


class HostStartError(LabError):
    """A lab host could not start (address in use, bad settings)."""
