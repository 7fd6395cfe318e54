"""Step 5 of ``lab import``: replay the draft once with the real curl and say which steps reproduce the
transcript's outcome (exit code and error words), which do not, and why.

The lesson of each step is then the lab's own verdict on the replay (:func:`lab.explain.verdict.explain_result`,
the decision logic the narration uses): which hop decided, and what would change it - never a guess from
the transcript's wording.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass

from lab.apps.importer._draft import Draft, DraftStep
from lab.apps.importer._today import Expected
from lab.explain.verdict import explain_result
from lab.model.outcome import CurlResult, compare
from lab.model.scenario import Scenario
from lab.session import open_lab


@dataclass(frozen=True, slots=True, kw_only=True)
class StepCheck:
    """One step of the draft, replayed."""

    number: int
    line: int  # the command's line in the transcript
    reproduced: bool
    exit_code: int
    error: str | None
    why: tuple[str, ...]  # what differs from the transcript's outcome (empty when reproduced)
    lesson: str  # the lab's verdict on the replay
    decisive: str

    def summary(self) -> str:
        got = f"exit {self.exit_code}" + (f", {self.error}" if self.error else "")
        if self.reproduced:
            return f"reproduced ({got})"
        return f"NOT reproduced: {'; '.join(self.why)}"


def judge(scenario: Scenario, number: int, line: int, expected: Expected, result: CurlResult) -> StepCheck:
    """Whether ``result`` is the transcript's outcome: an accepted exit code, the error words, the same hops."""
    step = scenario.steps[number - 1]
    why: list[str] = []
    if expected.exits and result.exit_code not in expected.exits:
        accepted = " or ".join(map(str, expected.exits))
        why.append(f"expected exit {accepted}, got {result.exit_code}")
    if expected.errors and not any(text in (result.error or "") for text in expected.errors):
        why.append(f"expected the error to say {expected.errors[0]!r}, got {result.error or 'no error'!r}")
    why += [str(m) for m in compare(step.expect, result) if m.field in ("reached host", "tunnel")]
    if result.timed_out:
        why.append("the lab had to stop curl (it ran past the lab's time limit)")
    _, verdict = explain_result(scenario, result)
    lesson = verdict.lesson.rstrip(".") + "." + (f" {verdict.change}" if verdict.change else "")
    return StepCheck(
        number=number,
        line=line,
        reproduced=not why,
        exit_code=result.exit_code,
        error=result.error,
        why=tuple(why),
        lesson=lesson,
        decisive=str(verdict.decisive),
    )


async def check(scenario: Scenario, draft: Draft) -> list[StepCheck]:
    """Replay every step of the loaded draft once and judge it against the transcript's outcome."""
    checks = []
    async with open_lab(scenario) as runner:
        for number, (step, drafted, expected) in enumerate(
            zip(scenario.steps, draft.steps, draft.expectations, strict=True), start=1
        ):
            result = await runner.run(step.argv)
            checks.append(judge(scenario, number, drafted.line, expected, result))
    return checks


def with_checks(draft: Draft, checks: list[StepCheck]) -> Draft:
    """The draft with each step's lesson and ``decided_by`` from the lab's verdict on the replay, and a comment
    on what the replay showed; the customer's own exit code is noted in the lesson where today's differs."""
    steps: list[DraftStep] = []
    for step, done, expected in zip(draft.steps, checks, draft.expectations, strict=True):
        lesson = done.lesson + (f" ({expected.note[0].upper()}{expected.note[1:]}.)" if expected.note else "")
        if not done.reproduced:
            lesson += " TODO: the replay did not reproduce the transcript (see the check above)."
        expect = [(k, v) for k, v in step.expect if k != "decided_by"]
        if step.expect:
            expect.append(("decided_by", json.dumps(done.decisive)))
        checked = f"{done.summary()}; decided by {done.decisive}"
        steps.append(dataclasses.replace(step, lesson=lesson, expect=tuple(expect), checked=checked))
    return dataclasses.replace(draft, steps=tuple(steps))
