"""Turn a step's result into what a learner reads: the hop-by-hop story, a sequence diagram, one lesson.

Theory of operation. :mod:`lab.explain.verdict` decides (pure); this module only lays the decision out,
as lines fitted to the width of wherever they go (:mod:`lab.explain.layout`): the console's width on a
terminal, ``$COLUMNS`` or 120 columns into a pipe. Colour comes from rich on a terminal only; into a
pipe or a file the same lines are plain text with no trailing blanks, so ``lab run NAME > file`` reads
the same.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence

from rich.console import Console, ConsoleOptions, RenderResult
from rich.text import Text

from lab.explain import layout
from lab.explain.curlplan import Plan
from lab.explain.verdict import Verdict
from lab.model.events import Event
from lab.model.outcome import CurlResult, Mismatch
from lab.model.scenario import Scenario, Step

ICONS = {"ok": "✓", "fail": "✗", "skip": "·", "info": "•"}
STYLES = {"ok": "green", "fail": "red", "skip": "dim", "info": ""}
Line = tuple[str, str]  # (text, rich style)


def event_line(event: Event, t0: float) -> str:
    return f"  +{(event.t - t0) * 1000:7.1f} ms  {event.host:<8} {event.kind:<16} {event.summary}"


def outcome(result: CurlResult) -> str:
    reached = result.reached or "no host answered HTTP"
    tunnel = f", proxy tunnel to {result.tunnel}" if result.tunnel else ""
    return f"curl exit {result.exit_code}; reached: {reached}{tunnel}"


def sequence(verdict: Verdict, width: int = 120) -> list[layout.Row]:
    """The diagram's rows, ``◀ decisive`` already appended to decisive rows."""
    arrows = [layout.Arrow(m.src, m.dst, m.label, decisive=m.decisive, failed=m.failed) for m in verdict.messages]
    return layout.diagram(verdict.lanes, arrows, width)


class Lines:
    """A rich renderable that lays its lines out for the width it is given (never wrapped again by rich)."""

    def __init__(self, build: Callable[[int], Sequence[Line]]) -> None:
        self.build = build

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        for text, style in self.build(options.max_width):
            yield Text(text.rstrip(), style=style, no_wrap=True, overflow="ignore", end="\n")


def _labelled(label: str, text: str, width: int, style: str = "") -> list[Line]:
    return [(line, style) for line in layout.wrap_words(text, width, indent=" " * len(label), first=label)]


def story(verdict: Verdict, result: CurlResult, width: int, *, why: str = "", drift_too: bool = True) -> Iterator[Line]:
    """The hops, the diagram, the outcome, the lesson and the change: the part every explanation shares."""
    rows = [("▶" if h.decisive else ICONS[h.status], h.title, h.text, h.decisive) for h in verdict.hops]
    statuses = [h.status for h in verdict.hops]
    for line, decisive, index in layout.hop_lines(rows, width):
        yield line, "bold yellow" if decisive else STYLES[statuses[index]]
    for row in sequence(verdict, width):
        yield row.line, "bold yellow" if row.decisive else ("red" if row.failed else "")
    yield from _labelled("outcome: ", outcome(result), width)
    yield from _labelled("lesson: ", verdict.lesson, width, "bold")
    yield from _labelled("change: ", verdict.change, width)
    if why:
        yield from _labelled("why: ", " ".join(why.split()), width, "italic")
    if drift_too:
        for note in verdict.drift:
            yield from _labelled("emulator drift (please report): ", note, width, "magenta")


def render(
    scenario: Scenario,
    step: Step,
    result: CurlResult,
    plan: Plan,
    verdict: Verdict,
    problems: list[Mismatch],
    *,
    show_lesson: bool = True,
) -> Lines:
    """The compact story of one step: command, hops, diagram, outcome, lesson, what would change it."""

    def build(width: int) -> list[Line]:
        head = f"── Step {step.number}/{len(scenario.steps)} "
        out: list[Line] = [(head + "─" * max(4, min(50, width - len(head))), "bold")]
        if step.say:
            out += [(line, "") for line in layout.wrap_words(step.say, width)]
        out += [(line, "bold cyan") for line in layout.wrap_command(step.run, width)]
        out += story(verdict, result, width, why=step.lesson if show_lesson else "")
        if problems:
            out += _labelled("EXPECTATION FAILED: ", "; ".join(str(p) for p in problems), width, "bold red")
        elif _has_expectations(step):
            out.append(("expectations hold ✓", "green"))
        out.append(("", ""))
        return out

    return Lines(build)


def heading(scenario: Scenario) -> Lines:
    """The scenario's title and story, as ``lab run`` tells them before the first step."""

    def build(width: int) -> list[Line]:
        out: list[Line] = [
            ("", ""),
            *((line, "bold") for line in layout.wrap_words(f"━━ {scenario.name}: {scenario.title}", width)),
        ]
        for paragraph in scenario.story.split("\n\n"):
            out += [("", ""), *((line, "") for line in layout.wrap_words(" ".join(paragraph.split()), width))]
        return [*out, ("", "")]

    return Lines(build)


def explain_command(scenario: Scenario, result: CurlResult) -> Lines:
    """For ``lab up``: the story of a command the learner typed (no step, no expectations)."""
    from lab.explain.verdict import explain_result

    _, verdict = explain_result(scenario, result)

    def build(width: int) -> list[Line]:
        head = "── lab: what happened "
        return [(head + "─" * max(4, min(50, width - len(head))), "bold"), *story(verdict, result, width)]

    return Lines(build)


def _has_expectations(step: Step) -> bool:
    e = step.expect
    return any(v is not None for v in (e.exit, e.reached, e.tunnel, e.error, e.decided_by))
