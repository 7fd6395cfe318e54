"""Text that fits: a command wrapped between arguments, hop rows wrapped between words, a diagram whose
labels stay inside their lanes - at any width, on a terminal or into a pipe. Pure string work.

Rules, each tested at 80 columns: a line is broken only between words, never inside an option's argument
(``--key certs/client.key`` stays on one line) and never inside ``◀ decisive``; no line ends in blanks; a
label wider than its lane wraps onto rows of its own above the arrow, so nothing runs past the next lane.
"""

from __future__ import annotations

import shlex
import textwrap
from collections.abc import Sequence
from dataclasses import dataclass
from typing import NamedTuple

from lab.protocols import curlargs

DECISIVE = "◀ decisive"
_GLUE = "\u00a0"  # textwrap never breaks at a no-break space; it becomes a plain space on output
MIN_GAP = 14


def wrap_words(text: str, width: int, indent: str = "", first: str = "") -> list[str]:
    """Wrap at blanks only (a long URL or path overflows rather than breaking)."""
    lines = textwrap.wrap(
        text,
        max(width, 20),
        initial_indent=first,
        subsequent_indent=indent,
        break_long_words=False,
        break_on_hyphens=False,
    )
    return [line.replace(_GLUE, " ").rstrip() for line in lines] or [first.rstrip()]


def command_groups(run: str) -> list[str]:
    """The words of a command line, each option glued to its argument: ``--key certs/client.key``."""
    try:
        words = shlex.split(run)
    except ValueError:
        return run.split()
    start = next((i + 1 for i, w in enumerate(words) if w == "curl" or w.endswith("/curl")), len(words))
    options = curlargs.parse_options(words[start:], lenient=True)  # env VAR=... words before curl stay single
    joined = {start + g.word: start + g.value_word for g in options.given if g.value_word is not None}
    groups: list[str] = []
    skip: set[int] = set()
    for i, word in enumerate(words):
        if i in skip:
            continue
        group = shlex.quote(word)
        if i in joined:
            group += " " + shlex.quote(words[joined[i]])
            skip.add(joined[i])
        groups.append(group)
    return groups


def wrap_command(run: str, width: int, prompt: str = "$ ") -> list[str]:
    """The command as a shell would accept it pasted back: broken only between groups, with `` \\``."""
    lines: list[str] = []
    current = prompt.rstrip()
    for group in command_groups(run):
        candidate = f"{current} {group}" if current else group
        if len(candidate) + 2 > width and current.strip() not in ("", prompt.strip()):
            lines.append(current + " \\")
            current = "    " + group
        else:
            current = candidate
    lines.append(current)
    return lines


def hop_lines(rows: Sequence[tuple[str, str, str, bool]], width: int) -> list[tuple[str, bool, int]]:
    """(line, decisive, row index) for hop rows (marker, title, text, decisive), text wrapped under itself."""
    title_width = max((len(title) for _, title, _, _ in rows), default=0)
    out: list[tuple[str, bool, int]] = []
    for index, (marker, title, text, decisive) in enumerate(rows):
        head = f" {marker}  {title:<{title_width}}  "
        body = text + (f"   ◀{_GLUE}decisive" if decisive else "")
        for line in wrap_words(body, width, indent=" " * len(head), first=head):
            out.append((line, decisive, index))
    return out


class Row(NamedTuple):
    """One line of the diagram; ``message`` indexes the arrow it draws (-1: the lanes' header)."""

    line: str
    decisive: bool
    failed: bool
    message: int = -1
    span: tuple[int, int] = (0, 0)  # the columns of the lanes the arrow joins (equal for a note)


@dataclass(frozen=True, slots=True)
class Arrow:
    src: str
    dst: str
    label: str
    decisive: bool = False
    failed: bool = False


def diagram(lanes: Sequence[str], arrows: Sequence[Arrow], width: int) -> list[Row]:
    """The sequence diagram, lanes as columns, fitted to ``width``; ``◀ decisive`` ends the decisive rows.

    The gap between lanes grows until every label fits its span (up to what ``width`` allows); a label
    that still does not fit wraps onto rows above its arrow (a note: onto rows below it), inside its lanes.
    """
    lanes = list(lanes)
    marked = any(a.decisive for a in arrows)
    room = width - (len(DECISIVE) + 3 if marked else 0)
    first = max(2, (len(lanes[0]) + 1) // 2)
    gap = _gap(lanes, arrows, first, room)
    cols = {lane: first + i * gap for i, lane in enumerate(lanes)}
    rows = [Row(_header(lanes, cols), False, False), Row(_blank(cols), False, False)]
    for index, arrow in enumerate(arrows):
        a, b = cols.get(arrow.src, first), cols.get(arrow.dst, first)
        span = (min(a, b), max(a, b))
        rows += [Row(line, decisive, failed, index, span) for line, decisive, failed in _arrow_rows(arrow, cols, room)]
    right = max(len(row.line) for row in rows)
    return [row._replace(line=row.line.ljust(right) + "   " + DECISIVE) if row.decisive else row for row in rows]


def _gap(lanes: list[str], arrows: Sequence[Arrow], first: int, room: int) -> int:
    """The lane spacing: wide enough for every name and label, no wider than ``room`` allows."""
    if len(lanes) == 1:
        return MIN_GAP
    index = {lane: i for i, lane in enumerate(lanes)}
    wanted = max(MIN_GAP, *(len(lane) + 3 for lane in lanes))
    for arrow in arrows:
        a, b = index.get(arrow.src, 0), index.get(arrow.dst, 0)
        if a == b and a < len(lanes) - 1:
            wanted = max(wanted, len(arrow.label) + 5)
        elif a != b:
            wanted = max(wanted, -(-(len(arrow.label) + 6) // abs(a - b)))
    widest = max(MIN_GAP, (room - first - 2 - len(lanes[-1]) // 2) // (len(lanes) - 1))
    return min(wanted, widest)


def _header(lanes: list[str], cols: dict[str, int]) -> str:
    row = [" "] * (max(cols.values()) + max(len(lane) for lane in lanes) + 2)
    for lane, col in cols.items():
        start = max(0, col - len(lane) // 2)
        row[start : start + len(lane)] = list(lane)
    return "".join(row).rstrip()


def _blank(cols: dict[str, int]) -> str:
    row = [" "] * (max(cols.values()) + 1)
    for col in cols.values():
        row[col] = "│"
    return "".join(row)


def _put(base: str, start: int, text: str) -> str:
    padded = base.ljust(start + len(text))
    return padded[:start] + text + padded[start + len(text) :]


def _arrow_rows(arrow: Arrow, cols: dict[str, int], room: int) -> list[tuple[str, bool, bool]]:
    a, b = cols.get(arrow.src, min(cols.values())), cols.get(arrow.dst, min(cols.values()))
    if a == b:  # a note on a lane: up to the next lane, or to the right edge on the last lane
        limit = (min((c for c in cols.values() if c > a), default=room) - 2) - (a + 2)
        lines = wrap_words(arrow.label, max(limit, 8))
        out = [(_put(_blank(cols), a, "◆ " + lines[0]).rstrip(), False, arrow.failed)]
        out += [(_put(_blank(cols), a + 2, more).rstrip(), False, arrow.failed) for more in lines[1:]]
        last, _, failed = out[-1]
        out[-1] = (last, arrow.decisive, failed)  # the mark ends the note, as it ends an arrow
        return out
    lo, hi = min(a, b), max(a, b)
    inner = hi - lo - 1
    line = "─" * inner
    line = ("◀" + line[1:]) if b < a else (line[:-1] + "▶")
    lines = wrap_words(arrow.label, max(inner - 5, 8))
    on_arrow = lines.pop() if len(lines[-1]) + 2 <= inner - 3 else None
    out = []
    for extra in lines:  # label rows above the arrow, centred in its span
        start = lo + 1 + max(0, (inner - len(extra)) // 2)
        out.append((_put(_blank(cols), start, extra).rstrip(), False, arrow.failed))
    if on_arrow is not None:
        label = f" {on_arrow} "
        start = max(1, (inner - len(label)) // 2)
        line = line[:start] + label + line[start + len(label) :]
    out.append((_put(_blank(cols), lo + 1, line).rstrip(), arrow.decisive, arrow.failed))
    return out
