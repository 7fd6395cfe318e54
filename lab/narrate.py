"""Turn a step's result into text a learner reads: the command, curl's key lines, what each host saw,
and the verdict. Plain text here; richer views build on the same pieces."""

from __future__ import annotations

import textwrap

from .events import Event
from .runner import CurlResult, Mismatch
from .scenario import Scenario, Step


def event_line(event: Event, t0: float) -> str:
    return f"  +{(event.t - t0) * 1000:7.1f} ms  {event.host:<8} {event.kind:<16} {event.summary}"


def outcome(result: CurlResult) -> str:
    reached = result.reached or "no host answered HTTP"
    tunnel = f", proxy tunnel to {result.tunnel}" if result.tunnel else ""
    return f"curl exit {result.exit_code}; reached: {reached}{tunnel}"


def render_step(scenario: Scenario, step: Step, result: CurlResult, problems: list[Mismatch]) -> str:
    out: list[str] = [f"── Step {step.number}/{len(scenario.steps)} " + "─" * 40]
    if step.say:
        out += [textwrap.fill(step.say, 100), ""]
    out.append(f"$ {step.run}")  # the run line already holds any env VAR=VALUE prefix
    out += ["", "curl said:"]
    out += [f"  {line}" for line in result.verbose.key_lines] or ["  (nothing on stderr; add -v to see more)"]
    if result.error and result.error not in result.verbose.key_lines:
        out.append(f"  {result.error}")
    out += ["", "the lab's hosts saw:"]
    t0 = result.events[0].t if result.events else 0.0
    shown = [e for e in result.events if e.kind not in ("listening",)]
    out += [event_line(e, t0) for e in shown] or ["  (no host saw anything: curl never connected to a lab host)"]
    out += ["", f"outcome: {outcome(result)}"]
    if step.lesson:
        out += ["", "why:", textwrap.indent(textwrap.fill(" ".join(step.lesson.split()), 96), "  ")]
    if problems:
        out += ["", "EXPECTATION FAILED: " + "; ".join(str(p) for p in problems)]
    else:
        out += ["", "expectations hold ✓" if _has_expectations(step) else ""]
    return "\n".join(out).rstrip() + "\n"


def _has_expectations(step: Step) -> bool:
    e = step.expect
    return any(v is not None for v in (e.exit, e.reached, e.tunnel, e.error))
