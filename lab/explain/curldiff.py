"""``lab compare``: one step, two curls - what differs (exit code, error line, reached host, decisive hop).

Theory of operation. The replay runs every step once with each curl in the same world, one after the other;
this module only compares the two results (pure). The decisive hop is the verdict's
(:func:`lab.explain.verdict.explain_result`), so a difference there means the two curls routed differently,
not only worded differently.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from lab.model.outcome import CurlBuild, CurlResult, Mismatch
from lab.model.scenario import Scenario, Step

# (label, attribute of Side), in the order a reader checks them.
FIELDS = (
    ("exit code", "exit_code"),
    ("error line", "error"),
    ("reached host", "reached"),
    ("decisive hop", "decisive"),
)


@dataclass(frozen=True, slots=True, kw_only=True)
class Side:
    """What one curl did in one step."""

    curl: CurlBuild
    exit_code: int
    error: str | None
    reached: str | None
    decisive: str
    problems: tuple[Mismatch, ...]

    @classmethod
    def of(cls, curl: CurlBuild, result: CurlResult, decisive: str, problems: list[Mismatch]) -> Side:
        return cls(
            curl=curl,
            exit_code=result.exit_code,
            error=result.error,
            reached=result.reached,
            decisive=decisive,
            problems=tuple(problems),
        )

    def value(self, attribute: str) -> str:
        value = getattr(self, attribute)
        return "none" if value is None else str(value)

    def to_json(self) -> dict[str, Any]:
        return {
            "curl": self.curl.to_json(),
            "exit_code": self.exit_code,
            "error": self.error,
            "reached": self.reached,
            "decisive": self.decisive,
            "ok": not self.problems,
            "problems": [str(p) for p in self.problems],
        }


def labels(a: CurlBuild, b: CurlBuild) -> tuple[str, str]:
    """Short names for two curls: their versions, or A and B when the versions are the same."""
    if a.version.version != b.version.version:
        return f"curl {a.version.version}", f"curl {b.version.version}"
    return "curl A", "curl B"


def described(a: CurlBuild, b: CurlBuild) -> tuple[str, str]:
    """Each curl in full, prefixed with its short name when that is not its version (curl A, curl B)."""

    def one(label: str, curl: CurlBuild) -> str:
        return str(curl) if label == f"curl {curl.version.version}" else f"{label}: {curl}"

    name_a, name_b = labels(a, b)
    return one(name_a, a), one(name_b, b)


@dataclass(frozen=True, slots=True, kw_only=True)
class StepComparison:
    scenario: Scenario
    step: Step
    a: Side
    b: Side

    @property
    def differences(self) -> tuple[tuple[str, str, str], ...]:
        """(what, A's value, B's value) for every field that differs."""
        return tuple(
            (label, self.a.value(attr), self.b.value(attr))
            for label, attr in FIELDS
            if self.a.value(attr) != self.b.value(attr)
        )

    @property
    def same(self) -> tuple[tuple[str, str], ...]:
        return tuple((label, self.a.value(attr)) for label, attr in FIELDS if self.a.value(attr) == self.b.value(attr))

    def to_json(self) -> dict[str, Any]:
        return {
            "scenario": self.scenario.name,
            "step": self.step.number,
            "command": self.step.run,
            "differs": [label for label, _, _ in self.differences],
            "curls": [self.a.to_json(), self.b.to_json()],
        }

    def lines(self) -> list[str]:
        """The comparison as text: the command, what differs (both values), what is the same, expectations."""
        name_a, name_b = labels(self.a.curl, self.b.curl)
        width = max(len(name_a), len(name_b))
        out = [f"── Step {self.step.number}/{len(self.scenario.steps)}", f"$ {self.step.run}"]
        for label, value_a, value_b in self.differences:
            out += [f"  differs: {label}", f"    {name_a:<{width}}  {value_a}", f"    {name_b:<{width}}  {value_b}"]
        if not self.differences:
            out.append("  no difference")
        if self.same:
            out.append(
                "  same: " + "; ".join(f"{label} {value}" for label, value in self.same if label != "error line")
            )
        for name, side in ((name_a, self.a), (name_b, self.b)):
            if side.problems:
                out.append(f"  EXPECTATION FAILED with {name}: " + "; ".join(str(p) for p in side.problems))
        return out


def summary(comparisons: list[StepComparison]) -> str:
    if not comparisons:
        return "no steps compared"
    name_a, name_b = labels(comparisons[0].a.curl, comparisons[0].b.curl)
    differ = sum(bool(c.differences) for c in comparisons)
    held = sum(not c.a.problems and not c.b.problems for c in comparisons)
    return (
        f"{differ}/{len(comparisons)} steps differ between {name_a} and {name_b}; "
        f"expectations hold with both in {held}/{len(comparisons)}"
    )
