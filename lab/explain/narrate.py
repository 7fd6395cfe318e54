"""Turn a step's result into what a learner reads: the hop-by-hop story, a sequence diagram, one lesson.

Theory of operation. :mod:`lab.verdict` decides (pure); this module only lays the decision out. The sequence
diagram is plain text built by :func:`sequence` (one line per arrow, lanes as columns) so the terminal and
the HTML report draw the same picture. :func:`render` gives rich renderables; on a terminal they are
coloured, otherwise rich writes plain text (no escape codes), so ``lab run NAME > file`` stays readable.
"""

from __future__ import annotations

import io
import textwrap
from collections.abc import Iterable

from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text

from lab.explain.curlplan import Plan
from lab.explain.verdict import Verdict
from lab.model.events import Event
from lab.model.outcome import CurlResult, Mismatch
from lab.model.scenario import Scenario, Step

ICONS = {"ok": "✓", "fail": "✗", "skip": "·", "info": "•"}
STYLES = {"ok": "green", "fail": "red", "skip": "dim", "info": ""}


def event_line(event: Event, t0: float) -> str:
    return f"  +{(event.t - t0) * 1000:7.1f} ms  {event.host:<8} {event.kind:<16} {event.summary}"


def outcome(result: CurlResult) -> str:
    reached = result.reached or "no host answered HTTP"
    tunnel = f", proxy tunnel to {result.tunnel}" if result.tunnel else ""
    return f"curl exit {result.exit_code}; reached: {reached}{tunnel}"


def sequence(verdict: Verdict, gap: int = 30) -> list[tuple[str, bool, bool]]:
    """The diagram as (line, decisive, failed) rows: a header of lanes, then one row per message."""
    lanes = list(verdict.lanes)
    longest = max((len(m.label) for m in verdict.messages if m.src != m.dst), default=0)
    gap = max(gap, min(48, longest + 6), *(len(lane) + 4 for lane in lanes))
    cols = {lane: 2 + i * gap for i, lane in enumerate(lanes)}
    width = cols[lanes[-1]] + 2

    def blank() -> list[str]:
        row = [" "] * width
        for c in cols.values():
            row[c] = "│"
        return row

    header = [" "] * (width + gap)
    for lane, c in cols.items():
        start = max(0, c - len(lane) // 2)
        header[start : start + len(lane)] = list(lane)
    rows: list[tuple[str, bool, bool]] = [
        ("".join(header).rstrip(), False, False),
        ("".join(blank()).rstrip(), False, False),
    ]
    for m in verdict.messages:
        row = blank()
        a, b = cols.get(m.src, 2), cols.get(m.dst, 2)
        label = f" {m.label} "
        if a == b:
            text = f"◆ {m.label}"
            row += [" "] * max(0, a + len(text) - len(row))
            row[a : a + len(text)] = list(text)  # overwrite, so the lanes to the right stay in their columns
            line = "".join(row)
        else:
            lo, hi = min(a, b), max(a, b)
            for i in range(lo + 1, hi):
                row[i] = "─"
            row[hi - 1 if b > a else lo + 1] = "▶" if b > a else "◀"
            room = hi - lo - 3
            if len(label) <= room:
                start = lo + 2 + (room - len(label)) // 2
                row[start : start + len(label)] = list(label)
                line = "".join(row)
            else:
                line = "".join(row).rstrip() + "  " + m.label
        rows.append((line.rstrip(), m.decisive, m.failed))
    return rows


def sequence_text(verdict: Verdict) -> str:
    return "\n".join(line + ("   ◀ decisive" if decisive else "") for line, decisive, _ in sequence(verdict))


def hop_rows(verdict: Verdict) -> Iterable[tuple[str, str, str, bool, str]]:
    """(marker, title, text, decisive, status) per hop."""
    for hop in verdict.hops:
        yield ("▶" if hop.decisive else ICONS[hop.status], hop.title, hop.text, hop.decisive, hop.status)


def render(
    scenario: Scenario,
    step: Step,
    result: CurlResult,
    plan: Plan,
    verdict: Verdict,
    problems: list[Mismatch],
    *,
    show_lesson: bool = True,
) -> RenderableType:
    """The compact story of one step: command, hops, diagram, outcome, lesson, what would change it."""
    parts: list[RenderableType] = []
    parts.append(Text(f"── Step {step.number}/{len(scenario.steps)} " + "─" * 50, style="bold"))
    if step.say:
        parts.append(Text(textwrap.fill(step.say, 100)))
    parts.append(Text(f"$ {step.run}", style="bold cyan"))
    table = Table(show_header=False, box=None, padding=(0, 1), expand=False)
    table.add_column(width=1)
    table.add_column(style="bold", no_wrap=True)
    table.add_column(overflow="fold")
    for marker, title, text, decisive, status in hop_rows(verdict):
        style = "bold yellow" if decisive else STYLES[status]
        table.add_row(
            Text(marker, style=style),
            Text(title, style=style),
            Text(text + ("   ◀ decisive" if decisive else ""), style=style),
        )
    parts.append(table)
    diagram = Text()
    for line, decisive, failed in sequence(verdict):
        style = "bold yellow" if decisive else ("red" if failed else "")
        diagram.append(line + ("   ◀ decisive" if decisive else "") + "\n", style=style)
    parts.append(diagram)
    parts.append(Text(f"outcome: {outcome(result)}"))
    parts.append(Text(f"lesson: {verdict.lesson}", style="bold"))
    parts.append(Text(f"change: {verdict.change}"))
    if show_lesson and step.lesson:
        parts.append(Text("why: " + " ".join(step.lesson.split()), style="italic"))
    for note in verdict.drift:
        parts.append(Text(f"emulator drift (please report): {note}", style="magenta"))
    if problems:
        parts.append(Text("EXPECTATION FAILED: " + "; ".join(str(p) for p in problems), style="bold red"))
    elif _has_expectations(step):
        parts.append(Text("expectations hold ✓", style="green"))
    parts.append(Text(""))
    return Group(*parts)


def render_step(scenario: Scenario, step: Step, result: CurlResult, problems: list[Mismatch]) -> str:
    """Plain-text form of :func:`render` (kept for callers that want a string)."""
    from rich.console import Console

    from lab.explain.verdict import explain_result

    plan, verdict = explain_result(scenario, result)
    console = Console(width=120, force_terminal=False, color_system=None, record=True, file=io.StringIO())
    console.print(render(scenario, step, result, plan, verdict, problems))
    return console.export_text()


def explain_command(scenario: Scenario, result: CurlResult) -> RenderableType:
    """For ``lab up``: the story of a command the learner typed (no step, no expectations)."""
    from lab.explain.verdict import explain_result

    plan, verdict = explain_result(scenario, result)
    step = Step(number=0, run=" ".join(result.argv), argv=result.argv)
    group = render(scenario, step, result, plan, verdict, [], show_lesson=False)
    assert isinstance(group, Group)
    return Group(Text("── lab: what happened " + "─" * 50, style="bold"), *list(group.renderables)[2:])


def _has_expectations(step: Step) -> bool:
    e = step.expect
    return any(v is not None for v in (e.exit, e.reached, e.tunnel, e.error))
