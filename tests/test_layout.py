"""Output that fits: at 80 columns and into a pipe, commands break between arguments, "◀ decisive" stays
whole, no line ends in blanks, and diagram labels stay inside their lanes (recorded runs, no namespace)."""

from __future__ import annotations

import io
import re

import pytest
from rich.console import Console

from lab.explain import layout
from lab.explain.narrate import explain_command, render, sequence
from lab.explain.verdict import explain_result
from lab.model.scenario import Step
from tests.explain_checks import marked, must_be_marked
from tests.explain_matrix import ROWS, world
from tests.record_runs import recorded

RUNS = recorded()
LONG = (
    "env https_proxy=http://10.9.9.9:3128 curl -v --resolve mydomain:443:88.88.88.88 --cert certs/client.crt "
    "--key certs/client.key -x http://10.9.9.9:3128 --connect-to mydomain:443:88.88.88.88:443 https://mydomain"
)


def _printed(renderable: object, width: int) -> list[str]:
    out = io.StringIO()
    Console(file=out, width=width, force_terminal=False, color_system=None).print(renderable)
    text = out.getvalue()
    assert "\x1b[" not in text  # not a terminal: plain text
    return text.splitlines()


def _unbreakable(line: str, width: int) -> bool:
    """A line may pass the width only when one word alone is longer than the room left for it."""
    return len(line) <= width or any(len(word) > width // 3 for word in line.split())


def test_a_command_breaks_between_arguments_and_pastes_back() -> None:
    lines = layout.wrap_command(LONG, 60)
    assert all(len(line) <= 60 for line in lines)
    for option, argument in (("--key", "certs/client.key"), ("-x", "http://10.9.9.9:3128"), ("--resolve", "my")):
        assert any(f"{option} {argument}" in line for line in lines), f"{option} parted from its argument: {lines}"
    pasted = " ".join(line.removesuffix(" \\").strip() for line in lines).removeprefix("$ ")
    assert pasted.split() == LONG.split()


@pytest.mark.parametrize("width", [80, 120])
@pytest.mark.parametrize("row", ROWS, ids=lambda r: r.id)
def test_every_explanation_fits(width: int, row: object) -> None:
    from tests.explain_matrix import Row

    assert isinstance(row, Row)
    result = RUNS[row.id]
    lab = world(row.world)
    plan, verdict = explain_result(lab, result)
    step = Step(number=1, run=row.command, argv=result.argv, lesson="A lesson long enough to wrap " * 5)
    stepped = _printed(render(lab, step, result, plan, verdict, []), width)
    typed = _printed(explain_command(lab, result), width)
    for line in stepped + typed:
        assert line == line.rstrip(), f"trailing blanks: {line!r}"
        assert _unbreakable(line, width), f"{len(line)} > {width}: {line!r}"
        assert not line.lstrip().startswith("decisive"), f"'◀ decisive' split: {line!r}"
        if "◀ decisive" not in line:
            assert not line.rstrip().endswith("◀"), f"'◀ decisive' split: {line!r}"
    assert marked(stepped) == must_be_marked(stepped, verdict, row.hop, width)
    assert marked(typed) == must_be_marked(typed, verdict, row.hop, width)
    drawn = sequence(verdict, width)
    for index, message in enumerate(verdict.messages):
        label_rows = [r.line.rstrip() for r in drawn if r.message == index]
        assert [line for line in label_rows if line not in typed] == [], "a diagram row was not printed"
        if message.decisive:
            assert label_rows[-1].endswith("◀ decisive")


@pytest.mark.parametrize("row", ROWS, ids=lambda r: r.id)
def test_diagram_labels_stay_inside_their_lanes(row: object) -> None:
    from tests.explain_matrix import Row

    assert isinstance(row, Row)
    _, verdict = explain_result(world(row.world), RUNS[row.id])
    rows = sequence(verdict, 80)
    header, lanes_row = rows[0].line, rows[1].line
    columns = [i for i, ch in enumerate(lanes_row) if ch == "│"]
    assert len(columns) == len(verdict.lanes)
    for name in verdict.lanes:
        assert name in header
    for row in rows[1:]:
        body = row.line.removesuffix("◀ decisive").rstrip()
        lo, hi = row.span
        for col in columns:
            if lo < col < hi:
                continue  # an arrow between two far lanes crosses the lanes in between
            assert col < len(body), f"the row stops before lane column {col}: {row.line!r}"
            assert body[col] in "│◆", f"a label runs over the lane at column {col}: {row.line!r}"
        assert len(row.line) <= 80 or _unbreakable(row.line, 80)
    for index, message in enumerate(verdict.messages):
        drawn = " ".join(re.sub(r"[│─▶◀◆]", " ", r.line) for r in rows if r.message == index)
        assert message.label.split() == [w for w in drawn.split() if w in message.label.split()], (message, drawn)
        marks = [r for r in rows if r.message == index and r.decisive]
        assert len(marks) == (1 if message.decisive else 0), f"{message.label!r} marked {len(marks)} times"
